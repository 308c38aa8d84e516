"""The README's "Testing your hubs" example, run as written against the sample app."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from flask_azure_signalr import HubException
from sample_app import create_app, signalr

README = (Path(__file__).resolve().parents[2] / "README.rst").read_text(encoding="utf-8")


def _example() -> str:
    match = re.search(r"through the app's server connections::\n\n((?: {4}.*\n|\n)+)", README)
    assert match is not None, "the README lost its test-client example"
    return textwrap.dedent(match.group(1))


def test_the_readme_example_passes(sample) -> None:
    namespace = {"pytest": pytest, "HubException": HubException, "create_app": create_app, "signalr": signalr}
    exec(compile(_example(), "README.rst", "exec"), namespace)
    assert {"app", "test_chat"} <= set(namespace)
    namespace["test_chat"](sample)
