"""Shared fixtures live in tests/fixtures/ and are loaded as plugins from here."""

pytest_plugins: list[str] = ["tests.fixtures.emulator", "tests.fixtures.app_server", "tests.fixtures.node_client"]
