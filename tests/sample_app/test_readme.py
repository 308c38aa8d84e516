"""README.rst: it renders, its configuration table matches the options, its Quickstart works.

The run command is executed as written, in a copy of the working tree (the files a clone has) and
a fresh virtual environment, with ``FLASK_RUN_PORT=0`` so it cannot collide with a port in use;
the page is fetched, then the process tree is stopped. The test command is not run recursively:
it must be what ``.ci/run`` runs.
"""

from __future__ import annotations

import enum
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from datetime import timedelta
from pathlib import Path

import docutils.core
import pytest

from flask_azure_signalr.options import ServiceOptions

from .conftest import (
    RUNNING_ON,
    SERVICE_VARIABLES,
    HttpSession,
    stop_process_group,
    wait_for_log,
)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.rst").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^{re.escape(title)}\n=+\n(.*?)(?=^[^\n]+\n=+\n|\Z)", README, re.MULTILINE | re.DOTALL)
    assert match is not None, f"README has no section {title!r}"
    return match.group(1)


def _quickstart_commands() -> list[str]:
    return re.findall(r"^ {7}(python3 -m pip install .+)$", _section("Quickstart"), re.MULTILINE)


def _shown(default: object) -> str:
    if isinstance(default, timedelta):
        return f"{int(default.total_seconds())} s"
    if isinstance(default, enum.Enum):
        return str(default.value)
    return str(default)


def test_readme_renders_without_warnings() -> None:
    warnings = io.StringIO()
    docutils.core.publish_doctree(
        README, settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5}
    )
    assert warnings.getvalue() == ""


def test_readme_has_the_sections_a_newcomer_needs() -> None:
    for title in ("Quickstart", "Using it in your app", "Testing your hubs", "Configuration", "Deployment", "The emulator"):
        assert _section(title).strip()


def test_configuration_table_lists_every_option() -> None:
    rows = re.split(r"^   \* - ", _section("Configuration"), flags=re.MULTILINE)[2:]  # [0] prose, [1] header
    by_key = {}
    for row in rows:
        keys = re.findall(r"``(AZURE_SIGNALR_[A-Z_]+)``", row.split("\n     - ", 1)[0])
        by_key[keys[0]] = " ".join(row.split())
    options = ServiceOptions.table()
    assert list(by_key) == [option.config_key for option in _seed_first(options)]
    for option in options:
        row = by_key[option.config_key]
        assert row.startswith(f"``{option.name}`` ``{option.config_key}`` - ``{_shown(option.default)}`` - ")
        assert " ".join(option.allowed.split()) in row


def _seed_first(options: tuple) -> list:
    """The options of Microsoft's SDK first (issue: "the seed's options first"), then the rest."""
    seed = [
        "connection_string", "initial_hub_server_connection_count", "max_hub_server_connection_count",
        "application_name", "claims_provider", "access_token_lifetime", "access_token_algorithm",
        "server_sticky_mode", "max_poll_interval_in_seconds",
    ]
    named = {option.name: option for option in options}
    return [named[name] for name in seed] + [option for option in options if option.name not in seed]


def test_the_test_command_is_what_ci_runs() -> None:
    """``.ci/run`` first installs Chromium when missing, then runs the README's command, last."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    last_command = [line for line in lines if line and not line.startswith("#")][-1]
    assert _quickstart_commands()[1] == last_command == "python3 -m pip install tox && python3 -m tox"


def _copy_of_the_working_tree(destination: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _fresh_environment(path: Path) -> Path:
    """A new virtual environment; it sees this interpreter's packages (a .pth file) so that pip
    has nothing to download but the build backend, and it installs into the new one only."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True)
    site = Path(subprocess.run(
        [str(path / "bin" / "python3"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip())
    (site / "outer-environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path / "bin"


@pytest.mark.timeout(420)
def test_the_run_command_serves_the_chat_page(tmp_path: Path) -> None:
    command = _quickstart_commands()[0]
    assert command == (
        "python3 -m pip install -e '.[login]' && npm ci --prefix sample_app --no-audit --no-fund "
        "&& flask --app sample_app run"
    )
    clone = tmp_path / "clone"
    _copy_of_the_working_tree(clone)
    assert not (clone / "sample_app" / "node_modules").exists()
    bin_dir = _fresh_environment(tmp_path / "venv")

    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES and key != "PYTHONPATH"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(bin_dir.parent), FLASK_RUN_PORT="0")
    log = tmp_path / "run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=clone, env=env, stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        port = int(wait_for_log(log, RUNNING_ON, process, timeout=360).group(1))
        session = HttpSession(f"http://127.0.0.1:{port}")
        status, page = session.request("GET", "/")
        assert status == 200 and 'id="messages"' in page
        with urllib.request.urlopen(f"{session.base_url}/vendor/signalr.min.js", timeout=15) as script:
            assert b"HubConnectionBuilder" in script.read()
        assert "url" in session.negotiate_when_ready(timeout=30)
    finally:
        stop_process_group(process)
    assert (clone / "sample_app" / "node_modules" / "@microsoft" / "signalr").is_dir()
