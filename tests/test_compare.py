"""The comparison script's own behaviour (structure, not speed)."""

import json
import time

import pytest

import compare


def test_a_wrong_environ_is_reported_not_timed(monkeypatch, capsys):
    def broken():
        right = compare.peers.fastcore_environ(__import__("fastcore.parser", fromlist=["x"]))

        def environ(raw):
            env = right(raw)
            env["PATH_INFO"] = "/wrong"
            return env
        return environ

    monkeypatch.setattr(compare, "PARSERS", {"werkzeug": compare.PARSERS["werkzeug"],
                                             "broken": ("fastcore.parser", broken)})
    monkeypatch.setattr(compare, "REQUESTS", {"small_get": compare.corpus.SMALL_GET})
    monkeypatch.setattr(compare, "CHUNK_SIZES", ())
    args = compare.parse_args(["--quick", "--only", "parser"])
    results = []
    compare.run_parser_section(args, compare.Progress([1.0, 1.0]), results)
    broken_row = next(r for r in results if r["impl"] == "broken")
    assert "seconds" not in broken_row
    assert broken_row["error"] == "environ differs from Werkzeug's: PATH_INFO"
    werkzeug_row = next(r for r in results if r["impl"] == "werkzeug")
    assert werkzeug_row["seconds"] > 0


def test_missing_peers_are_skipped_with_a_line(monkeypatch, capsys):
    monkeypatch.setitem(compare.SERVERS, "nowhere", ("no_such_server_pkg", "no-such-server",
                                                     "unused"))
    monkeypatch.setitem(compare.PARSERS, "ghost", ("no_such_parser_pkg", lambda: None))
    args = compare.parse_args(["--quick", "--servers", "nowhere,fastcore_threaded"])
    assert args.servers == ["fastcore_threaded"]
    monkeypatch.setattr(compare, "REQUESTS", {})
    monkeypatch.setattr(compare, "CHUNK_SIZES", ())
    compare.run_parser_section(args, compare.Progress([1.0]), [])
    out = capsys.readouterr().out
    assert "nowhere: not installed, skipped (pip install no-such-server)" in out
    assert "ghost: not installed, skipped (pip install no_such_parser_pkg)" in out


def test_unknown_server_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        compare.parse_args(["--servers", "nginx"])
    assert info.value.code == 2


def test_quick_run_writes_json_and_png(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(compare, "REQUESTS", {"small_get": compare.corpus.SMALL_GET})
    out_json, out_png = tmp_path / "run.json", tmp_path / "run.png"
    report = compare.main(["--quick", "--servers", "fastcore_threaded", "--duration", "0.5",
                           "--warmup", "0.2", "--load-client", "python",
                           "--json", str(out_json), "--png", str(out_png)])
    data = json.loads(out_json.read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["load_client"] == "python"
    sections = {r["section"] for r in data["results"]}
    assert sections == {"parser", "chunked", "server"}
    server_rows = [r for r in data["results"] if r["section"] == "server"]
    assert server_rows and all(r["runs"] and r["rps"] > 0 for r in server_rows)
    assert all(r["runs"][0]["bad_responses"] == 0 for r in server_rows)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["results"] == data["results"]


@pytest.mark.skipif(not compare.perf_available(), reason="perf cannot read the tracepoints here")
def test_system_calls_are_counted_for_a_running_process():
    import subprocess
    import sys

    busy = subprocess.Popen([sys.executable, "-c",
                             "import os, time\nend = time.time() + 3\n"
                             "while time.time() < end: os.getpid(); os.stat('/')"])
    try:
        time.sleep(0.3)
        counts = compare.count_events(busy.pid, 0.5)
    finally:
        busy.kill()
        busy.wait()
    assert counts["syscalls"] > 1000  # os.stat is a system call every loop
    assert set(counts) == {"syscalls", "futex", "context_switches"}
