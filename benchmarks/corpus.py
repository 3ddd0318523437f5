"""The requests every parser benchmark uses: realistic bytes, built once."""

SMALL_GET = (
    b"GET /api/items?page=2 HTTP/1.1\r\n"
    b"Host: localhost:5000\r\n"
    b"User-Agent: curl/8.4\r\n"
    b"Accept: */*\r\n"
    b"\r\n"
)

BROWSER_GET = (
    b"GET /static/js/app.bundle.js?v=1.4.2 HTTP/1.1\r\n"
    b"Host: localhost:5000\r\n"
    b"Connection: keep-alive\r\n"
    b'sec-ch-ua: "Chromium";v="119", "Not?A_Brand";v="24"\r\n'
    b"sec-ch-ua-mobile: ?0\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/119.0.0.0 Safari/537.36\r\n"
    b'sec-ch-ua-platform: "Linux"\r\n'
    b"Accept: */*\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"Sec-Fetch-Dest: script\r\n"
    b"Referer: http://localhost:5000/dashboard\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    b"Cookie: session=eyJfZnJlc2giOmZhbHNlLCJjc3JmX3Rva2VuIjoiNWI2YjQ3ZDk1YjZmMjQ4MjZmYjA0ZTc5"
    b"ZjJhMDM0YjY3ZDBmNDM0YSJ9.ZXyZ1w.abcdefghijklmnopqrstuvwxyz12345; _ga=GA1.1.1234567890."
    b"1700000000; _ga_X1Y2Z3=GS1.1.1700000000.1.1.1700000100.0.0.0; theme=dark; "
    b"csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF0123456789\r\n"
    b"\r\n"
)

_FORM = (b"name=fastcore&" + b"x" * 1010)[:1024]
POST_1K = (
    b"POST /submit HTTP/1.1\r\n"
    b"Host: localhost:5000\r\n"
    b"User-Agent: python-requests/2.31.0\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept: */*\r\n"
    b"Connection: keep-alive\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 1024\r\n"
    b"\r\n" + _FORM
)

MANY_FIELDS = (
    b"GET /many HTTP/1.1\r\nHost: localhost:5000\r\n"
    + b"".join(b"X-Field-%02d: value number %d for the header\r\n" % (i, i) for i in range(49))
    + b"\r\n"
)

REQUESTS = {
    "small_get": SMALL_GET,
    "browser_get": BROWSER_GET,
    "post_1k": POST_1K,
}


def chunked_body(total, chunk_size):
    """``total`` bytes of body in chunks of ``chunk_size``, and the body itself."""
    body = bytes(range(256)) * (total // 256)
    size_line = b"%x\r\n" % chunk_size
    parts = [size_line + body[i:i + chunk_size] + b"\r\n" for i in range(0, total, chunk_size)]
    return b"".join(parts) + b"0\r\n\r\n", body
