"""``python -m bench``: run the scenarios against the peers and write the report.

::

    python -m bench all                 # every scenario; writes docs/benchmarks.md and docs/img/
    python -m bench echo broadcast      # some scenarios; prints their tables
    python -m bench all --quick         # a tiny smoke run (seconds, a handful of clients)
    python -m bench echo --profile      # also sample the emulator and app server with py-spy

Options: ``--repeats N`` and ``--seconds S`` override the sizes; ``--output DIR`` writes
``benchmarks.md``, ``benchmarks.json`` and ``img/*.png`` there (default ``docs`` for a full
``all`` run, nothing otherwise). Scenarios: echo, broadcast, group, send-to-one, ramp, negotiate,
memory.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from . import report, servers  # noqa: E402
from .scenarios import FULL, QUICK, SCENARIOS, ScenarioResult, run_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def raise_file_limit() -> int:
    """Lift the soft open-files limit to the hard one (the servers inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def summary_table(results: list[ScenarioResult]) -> str:
    lines = ["| scenario | case | system | median | unit | vs baseline | p50 ms | lost |", "|---|---|---|---:|---|---:|---:|---:|"]
    for result in results:
        if result.error:
            lines.append(f"| {result.name} | failed: {result.error} | | | | | | |")
        for row in result.rows:
            versus = f"{row.ratio:.2f}× {row.baseline}" if row.ratio is not None else ""
            p50 = f"{row.p50:.2f}" if row.has_latency and row.p50 else ""
            lines.append(f"| {result.name} | {row.case} | {row.system} | {row.value:,.1f} | {row.unit} | {versus} | "
                         f"{p50} | {row.lost} |")
    lines += ["", "| target | measured | goal | met |", "|---|---:|---:|:---:|"]
    for result in results:
        for target in result.targets:
            sign = "≥" if target.at_least else "≤"
            lines.append(f"| {target.label} | {target.value:.2f} | {sign} {target.threshold:g} | "
                         f"{'yes' if target.met else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+", choices=["all", *SCENARIOS], metavar="SCENARIO",
                        help=f"all, or some of: {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke run")
    parser.add_argument("--repeats", type=int, help="repeats per case (median reported; default 3)")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 2)")
    parser.add_argument("--output", type=Path, help="write benchmarks.md, benchmarks.json and img/ here")
    parser.add_argument("--profile", action="store_true", help="sample the emulator and app server with py-spy")
    args = parser.parse_args(argv)

    names = list(SCENARIOS) if "all" in args.scenarios else list(dict.fromkeys(args.scenarios))
    params = QUICK if args.quick else FULL
    overrides: dict[str, Any] = {}
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.seconds:
        overrides["seconds"] = args.seconds
    params = dataclasses.replace(params, **overrides)
    output = args.output
    if output is None and "all" in args.scenarios and not args.quick:
        output = ROOT / "docs"
    limit = raise_file_limit()
    if max(params.memory_counts) + 1000 > limit and "memory" in names:
        print(f"warning: open-files limit {limit} is below what the memory scenario needs", file=sys.stderr)
    profile_dir = Path(tempfile.mkdtemp(prefix="bench-profile-")) if args.profile else None

    started = time.monotonic()
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        servers.profile_into(profile_dir, name)
        result = run_scenario(name, params)
        print(f"  {name}: {result.seconds:.0f} s{' FAILED: ' + result.error if result.error else ''}",
              file=sys.stderr, flush=True)
        results.append(result)
    profiles = servers.profile_into(None)
    elapsed = time.monotonic() - started

    print(summary_table(results))
    if output is not None:
        command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        run = {
            "machine": report.machine_description(),
            "params": dataclasses.asdict(params),
            "commands": [
                command,
                *(f"python -m bench {name}" for name in SCENARIOS),
                "python -m bench all --quick   # smoke run (tests/bench/test_bench_smoke.py)",
                "python -m bench.report docs/benchmarks.json --output docs   # rebuild this page",
            ],
            "seconds": elapsed,
            "scenarios": [result.to_dict() for result in results],
        }
        print(f"\nwrote {report.write_report(run, output, profiles)}", file=sys.stderr)
    return 1 if any(result.error for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
