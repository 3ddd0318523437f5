"""After a benchmark run, print every group as ratios to fastcore (compiled),
all taken from this one run: shared machines drift, ratios side by side don't."""


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups = {}
    for bench in session.benchmarks:
        name = bench.name.partition("[")[2].rstrip("]").split("-")[-1]
        groups.setdefault(bench.group, {})[name] = bench.stats.min
    write = terminalreporter.write_line
    write("")
    write("best time per operation, and how many times slower than fastcore (compiled):")
    for group, times in sorted(groups.items()):
        base = times.get("fastcore")
        write(f"  {group}")
        for name, best in sorted(times.items(), key=lambda item: item[1]):
            ratio = f"{best / base:6.1f}x" if base else "      "
            unit = f"{best * 1e6:10.2f} us" if best < 0.01 else f"{best * 1e3:10.1f} ms"
            write(f"    {name:<15}{unit}  {ratio}")
