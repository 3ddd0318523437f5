/* Byte-level helpers for _parser.pyx that want SSE2 or plain C.
 *
 * The skip functions are fast paths for the two long runs in a request head,
 * field values and the request-target: each returns the index of the first
 * byte at or after p (below end) that ends the run, or where it stopped
 * checking (fewer than 16 bytes left). The caller finishes with its byte
 * table, which is the authority; without SSE2 they return p and the table
 * does all the work.
 */
#ifndef FASTCORE_SCAN_H
#define FASTCORE_SCAN_H

#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* field-value bytes: HTAB, 0x20-0x7E, 0x80-0xFF.
 * Loads may reach past end up to the buffer's real length n (the run usually
 * stops at the CR that ends the line, which is there to be found); a result
 * past end is clamped by the caller's table scan. *high gets the high bits of
 * the bytes inside the run, so the caller knows whether it is ASCII without
 * reading it again. */
static inline Py_ssize_t fc_skip_value(const unsigned char *b, Py_ssize_t p, Py_ssize_t end,
                                       Py_ssize_t n, unsigned int *high)
{
#if defined(__SSE2__)
    const __m128i max_ctl = _mm_set1_epi8(0x1F);
    const __m128i tab = _mm_set1_epi8(0x09);
    const __m128i del = _mm_set1_epi8(0x7F);
    while (p + 16 <= n && p < end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, max_ctl), v);
        __m128i bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl),
                                   _mm_cmpeq_epi8(v, del));
        unsigned int mask = (unsigned int)_mm_movemask_epi8(bad);
        unsigned int hi = (unsigned int)_mm_movemask_epi8(v);
        if (mask) {
            unsigned int idx = (unsigned int)__builtin_ctz(mask);
            *high |= hi & ((1u << idx) - 1u);
            p += idx;
            return p < end ? p : end;
        }
        *high |= hi;
        p += 16;
    }
    if (p > end)
        p = end;
#endif
    return p;
}

/* request-target bytes: 0x21-0x7E except '#' (ASCII only) */
static inline Py_ssize_t fc_skip_target(const unsigned char *b, Py_ssize_t p, Py_ssize_t end)
{
#if defined(__SSE2__)
    const __m128i max_ctl = _mm_set1_epi8(0x20);
    const __m128i hash = _mm_set1_epi8('#');
    const __m128i del = _mm_set1_epi8(0x7F);
    while (p + 16 <= end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
        __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, max_ctl), v),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, hash), _mm_cmpeq_epi8(v, del)));
        /* a byte's high bit set: 0x80-0xFF */
        int mask = _mm_movemask_epi8(bad) | _mm_movemask_epi8(v);
        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    return p;
}

/* A str of n bytes already known to be ASCII. */
static inline PyObject *fc_ascii(const unsigned char *s, Py_ssize_t n)
{
    PyObject *str = PyUnicode_New(n, 127);
    if (str != NULL)
        memcpy(PyUnicode_1BYTE_DATA(str), s, (size_t)n);
    return str;
}

/* A str of the n bytes at s, each byte one code point (latin-1). Requests
 * are nearly always ASCII; knowing that up front lets the str be allocated as
 * ASCII and filled with one memcpy, instead of PyUnicode_DecodeLatin1
 * scanning the bytes again to find their widest character. */
static inline PyObject *fc_latin1(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    unsigned int high = 0;
    uint64_t word, words = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16)
        high |= (unsigned int)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i)));
#endif
    for (; i + 8 <= n; i += 8) {
        memcpy(&word, s + i, 8);
        words |= word;
    }
    for (; i < n; i++)
        high |= s[i] & 0x80;
    if (high || (words & 0x8080808080808080ULL))
        return PyUnicode_DecodeLatin1((const char *)s, n, NULL);
    return fc_ascii(s, n);
}

/* A 64-bit hash of a field name for the name cache: its first and last eight
 * bytes (or all of a shorter one) and its length. Names are confirmed with
 * memcmp, so this only has to spread them over the table. */
static inline uint64_t fc_name_hash(const unsigned char *s, Py_ssize_t n)
{
    uint64_t first = 0, last = 0, h;
    if (n >= 8) {
        memcpy(&first, s, 8);
        memcpy(&last, s + n - 8, 8);
    } else {
        memcpy(&first, s, (size_t)n);
    }
    h = (first * 0x9E3779B97F4A7C15ULL) ^ (last * 0xC2B2AE3D27D4EB4FULL) ^ (uint64_t)n;
    return h ^ (h >> 29);
}

/* The characters of str s as bytes (latin-1) and their count in *n, or NULL
 * when s holds a character above 255 (it cannot be sent as latin-1). A str
 * whose characters are all below 256 is stored one byte per character. */
static inline const unsigned char *fc_str_latin1(PyObject *s, Py_ssize_t *n)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) {
        PyErr_Clear();
        return NULL;
    }
#endif
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND)
        return NULL;
    *n = PyUnicode_GET_LENGTH(s);
    return PyUnicode_1BYTE_DATA(s);
}

#endif
