"""Smoke test of the benchmark suite: every scenario, tiny (``python -m bench all --quick``).

Not a measurement: it keeps the load generator, the servers and the report working. The run is
a subprocess in its own session so that a timeout kills the servers it started as well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(150)
def test_every_scenario_runs_tiny_and_loses_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "all", "--quick", "--output", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=140)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == 0, output[-4000:]

    run = json.loads((tmp_path / "benchmarks.json").read_text(encoding="utf-8"))
    page = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert [s["name"] for s in run["scenarios"]] == list(SCENARIOS)
    for scenario in run["scenarios"]:
        assert not scenario["error"], scenario["error"]
        assert scenario["rows"], f"{scenario['name']} produced no rows"
        assert f"## {scenario['title']}" in page
        for row in scenario["rows"]:
            assert row["value"] > 0, row
            assert row["lost"] == 0, row
            assert f"| {row['case']} | {row['system']} |" in page
    systems = {row["system"] for s in run["scenarios"] for row in s["rows"]}
    for peer in ("full path, JSON", "full path, MessagePack", "raw WebSocket (1 hop)", "aiosignalr (self-hosted)",
                 "Flask-SocketIO (gevent)", "bare Flask JSON route", "app server", "emulator"):
        assert peer in systems
    assert "## Targets" in page and "## Machine" in page and "python -m bench" in page
    for image in ("bench-echo.png", "bench-fanout.png", "bench-memory.png", "bench-targets.png"):
        assert (tmp_path / "img" / image).stat().st_size > 1000
