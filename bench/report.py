"""The benchmark report: a Markdown page and PNG plots from the results of one ``python -m bench`` run.

``python -m bench all`` calls :func:`write_report` itself; the results are also saved as JSON so the
page can be rebuilt without measuring again::

    python -m bench.report docs/benchmarks.json --output docs [--profiles P.txt ...] [--analysis A.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine_description", "markdown", "plot", "summarize_profile", "write_report"]

IMAGE_DIR = "img"
PACKAGES = ("gevent", "Flask", "wsproto", "msgpack", "PyJWT", "Flask-SocketIO", "python-socketio",
            "python-engineio", "gevent-websocket", "aiosignalr", "aiohttp", "matplotlib")


def machine_description() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and the versions of the packages that matter here."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            total_kib = int(info.readline().split()[1])
            memory = f"{total_kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "",
        "packages": versions,
    }


# -- Markdown ---------------------------------------------------------------------------------------


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def _target_value(target: dict[str, Any]) -> str:
    if target["unit"] == "yes/no":
        return "yes" if target["value"] >= 1 else "no"
    suffix = "×" if target["unit"] == "×" else f" {target['unit']}"
    return f"{target['value']:.2f}{suffix}"


def _threshold(target: dict[str, Any]) -> str:
    if target["unit"] == "yes/no":
        return "yes"
    sign = "≥" if target["at_least"] else "≤"
    suffix = "×" if target["unit"] == "×" else f" {target['unit']}"
    return f"{sign} {target['threshold']:g}{suffix}"


def _cores(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in cpu.items())


def _server_cost(row: dict[str, Any]) -> str:
    """CPU the server processes spent per operation: busy cores / operations per second."""
    cpu = row.get("cpu") or {}
    cores = sum(value for name, value in cpu.items() if name != "loadgen")
    return f"{cores / row['value'] * 1e6:,.0f}" if cpu and row["value"] else ""


def markdown(run: dict[str, Any], images: Sequence[tuple[str, str]] = ()) -> str:
    """The whole page. ``run`` holds ``scenarios`` (``ScenarioResult.to_dict()``), ``machine``,
    ``commands`` and ``params``; ``images`` are (title, relative path) pairs."""
    machine = run["machine"]
    params = run["params"]
    lines = [
        "# Benchmarks",
        "",
        "flask-azure-signalr against its peers, measured side by side in one run on one machine. The machine",
        "is small and shared, so absolute numbers drift from run to run; every figure is therefore also given",
        f"as a ratio to a baseline measured in the same run, and every value is the median of {params['repeats']}",
        "repeats, the systems of a case measured in turn within each repeat.",
        "",
        "*Full path* is what a deployed app does: load generator → emulator (the local Azure SignalR",
        "Service) → app-server hub (Flask + the hub runtime, 5 server connections) → emulator → clients,",
        "three processes on two cores. The peers: a raw gevent WebSocket echo/fan-out server (the 1-hop",
        "limit, `bench/raw_ws.py`), Flask-SocketIO on gevent, aiosignalr (a self-hosted SignalR server on",
        "asyncio: one hop fewer), and a bare Flask JSON route for negotiate. The load generator",
        "(`bench/loadgen.py`) runs in its own process, speaks the hub protocols itself, negotiates as the",
        "JavaScript client does, and checks every sequence number: *lost* counts messages that did not",
        "arrive, arrived twice or arrived wrong. *Cores busy* is the CPU time each process used during",
        "the runs divided by their wall time (medians): with three processes on two cores, a system whose",
        "processes together approach 2.0 is bounded by the machine rather than by waiting; *server CPU",
        "µs/op* divides the server processes' busy cores by the rate (what one operation costs them).",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; memory {machine['memory']}",
        f"- OS: {machine['os']}; {machine['python']}",
        f"- Load average when the run started: {machine['load_average']} (other work shared the machine)",
        "- Packages: " + ", ".join(f"{name} {version}" for name, version in machine["packages"].items()),
        f"- Run took {run.get('seconds', 0):.0f} s; measured seconds per run {params['seconds']:g} "
        f"(after {params['warmup']:g} s warm-up)",
        "",
        "## Commands",
        "",
        "```",
        *run["commands"],
        "```",
        "",
        "## Targets",
        "",
        "| target | measured | goal | met |",
        "|---|---:|---:|:---:|",
    ]
    for scenario in run["scenarios"]:
        for target in scenario["targets"]:
            lines.append(f"| {target['label']} | {_target_value(target)} | {_threshold(target)} | "
                         f"{'yes' if target['met'] else '**no**'} |")
    for scenario in run["scenarios"]:
        lines += ["", f"## {scenario['title']}", ""]
        if scenario["error"]:
            lines += [f"**Failed:** `{scenario['error']}`", ""]
            continue
        with_cpu = any(row.get("cpu") for row in scenario["rows"])
        lines += [
            "| case | system | median | unit | vs baseline | p50 ms | p90 ms | p99 ms | p50 vs baseline | lost |"
            + (" cores busy | server CPU µs/op |" if with_cpu else ""),
            "|---|---|---:|---|---:|---:|---:|---:|---:|---:|" + ("---|---:|" if with_cpu else ""),
        ]
        for row in scenario["rows"]:
            latency = row["has_latency"] and row["p50"] > 0
            versus = f"{_ratio(row['ratio'])} {row['baseline']}" if row["baseline"] else "baseline"
            lines.append(
                f"| {row['case']} | {row['system']} | {_number(row['value'])} | {row['unit']} | {versus} | "
                + (f"{row['p50']:.2f} | {row['p90']:.2f} | {row['p99']:.2f} | " if latency else "| | | ")
                + f"{_ratio(row['latency_ratio']) if latency else ''} | {row['lost']} |"
                + (f" {_cores(row.get('cpu') or {})} | {_server_cost(row)} |" if with_cpu else "")
            )
        for note in scenario["notes"]:
            lines += ["", note]
        lines += ["", f"Scenario time: {scenario['seconds']:.0f} s."]
    if images:
        lines += ["", "## Plots", ""]
        for title, path in images:
            lines += [f"![{title}]({path})", ""]
    for section in run.get("sections", []):
        lines += ["", section.rstrip()]
    return "\n".join(lines).rstrip() + "\n"


# -- plots ----------------------------------------------------------------------------------------


def _rows(run: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    for item in run["scenarios"]:
        if item["name"] == scenario and not item["error"]:
            return list(item["rows"])
    return []


def _grouped_bars(axis: Any, rows: list[dict[str, Any]], key: str, ylabel: str, log: bool = False) -> None:
    cases = list(dict.fromkeys(r["case"] for r in rows))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    width = 0.8 / max(len(systems), 1)
    for index, system in enumerate(systems):
        xs, ys = [], []
        for position, case in enumerate(cases):
            row = next((r for r in rows if r["case"] == case and r["system"] == system), None)
            if row is not None:
                xs.append(position + index * width - 0.4 + width / 2)
                ys.append(row[key])
        axis.bar(xs, ys, width, label=system)
    axis.set_xticks(range(len(cases)))
    axis.set_xticklabels(cases, fontsize=8)
    axis.set_ylabel(ylabel)
    if log:
        axis.set_yscale("log")
    axis.grid(axis="y", alpha=0.3)


def plot(run: dict[str, Any], directory: Path) -> list[tuple[str, str]]:
    """Write the PNGs into ``directory``; returns (title, file name) pairs of those written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str]] = []

    def save(figure: Any, name: str, title: str) -> None:
        figure.suptitle(title)
        figure.tight_layout()
        figure.savefig(directory / name, dpi=110)
        plt.close(figure)
        written.append((title, name))

    echo = _rows(run, "echo")
    if echo:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8))
        _grouped_bars(top, echo, "value", "round trips/s")
        _grouped_bars(bottom, echo, "p50", "p50 latency, ms", log=True)
        top.legend(fontsize=7, ncol=2)
        save(figure, "bench-echo.png", "Echo: throughput (top) and median latency (bottom)")
    fan = [r for name in ("broadcast", "group", "send-to-one") for r in _rows(run, name)]
    if fan:
        figure, axis = plt.subplots(figsize=(11, 4.5))
        _grouped_bars(axis, fan, "value", "deliveries/s")
        axis.legend(fontsize=7)
        save(figure, "bench-fanout.png", "Fan-out: deliveries per second")
    memory = _rows(run, "memory")
    memory = [r for r in memory if r["unit"] == "bytes/client"]
    if memory:
        figure, axis = plt.subplots(figsize=(8, 4.5))
        _grouped_bars(axis, memory, "value", "bytes per idle client")
        axis.axhline(2048, color="red", linestyle="--", linewidth=1, label="app-server target (2 KiB)")
        axis.legend(fontsize=8)
        save(figure, "bench-memory.png", "Memory per idle client")
    connections = _rows(run, "ramp") + _rows(run, "negotiate")
    if connections:
        figure, axis = plt.subplots(figsize=(10, 4.5))
        _grouped_bars(axis, connections, "value", "per second")
        axis.legend(fontsize=7)
        save(figure, "bench-connections.png", "Connection ramp (connections/s) and negotiate (requests/s)")
    targets = [t for s in run["scenarios"] for t in s["targets"] if t["threshold"]]
    if targets:
        figure, axis = plt.subplots(figsize=(10, 0.35 * len(targets) + 1.5))
        scores = [(t["value"] / t["threshold"]) if t["at_least"] else (t["threshold"] / t["value"] if t["value"] else 0)
                  for t in targets]
        colors = ["tab:green" if t["met"] else "tab:red" for t in targets]
        axis.barh(range(len(targets)), scores, color=colors)
        axis.set_yticks(range(len(targets)))
        axis.set_yticklabels([t["label"] for t in targets], fontsize=7)
        axis.invert_yaxis()
        axis.axvline(1.0, color="black", linewidth=1)
        axis.set_xlabel("measured / goal (≥ 1 means met; for 'at most' goals, goal / measured)")
        save(figure, "bench-targets.png", "Targets")
    return written


# -- profiles ---------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+):\d+\)$")


def _frame_name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match.group("file")
    for marker in ("flask_azure_signalr/", "site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "flask_azure_signalr/":
                path = "flask_azure_signalr/" + path
            break
    return f"{match.group('function')} ({path})"


def summarize_profile(path: Path, top: int = 12) -> str:
    """Markdown for one py-spy ``--format raw`` file: where the samples were (self) and which of the
    package's functions they passed through (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if "flask_azure_signalr/" in frame or "bench/" in frame:
                inclusive[frame] += count
    if not total:
        return f"`{path.name}`: no samples."
    lines = [f"**{path.stem}** ({total:,} samples)", "", "| self % | function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in own.most_common(top)]
    lines += ["", "| inclusive % | package function |", "|---:|---|"]
    lines += [f"| {100 * n / total:.1f} | `{name}` |" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


# -- writing --------------------------------------------------------------------------------------


def write_report(run: dict[str, Any], output: Path, profiles: Sequence[Path] = ()) -> Path:
    """Write ``benchmarks.md``, ``benchmarks.json`` and the plots under ``output``; returns the page."""
    output.mkdir(parents=True, exist_ok=True)
    if profiles:
        sections = ["## Profiles", "",
                    "py-spy (`--nonblocking`, 100 Hz) on the server processes for a whole scenario "
                    "(`python -m bench <scenario> --profile`), connection set-up included; `Hub.run` is gevent's "
                    "event loop (waiting and I/O dispatch)."]
        sections += [summarize_profile(path) for path in profiles if path.exists()]
        run = {**run, "sections": [*run.get("sections", []), "\n\n".join(sections)]}
    images = plot(run, output / IMAGE_DIR)
    (output / "benchmarks.json").write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    page = output / "benchmarks.md"
    page.write_text(markdown(run, [(title, f"{IMAGE_DIR}/{name}") for title, name in images]), encoding="utf-8")
    return page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild the benchmark page from saved results.")
    parser.add_argument("results", type=Path, help="benchmarks.json written by python -m bench")
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--profiles", type=Path, nargs="*", default=[],
                        help="py-spy raw files (from python -m bench ... --profile) to summarize on the page")
    parser.add_argument("--analysis", type=Path, help="a Markdown section to append (reading of this run)")
    args = parser.parse_args(argv)
    run = json.loads(args.results.read_text(encoding="utf-8"))
    if args.analysis is not None:
        run["sections"] = [*run.get("sections", []), args.analysis.read_text(encoding="utf-8")]
    print(write_report(run, args.output, args.profiles))


if __name__ == "__main__":
    main()
