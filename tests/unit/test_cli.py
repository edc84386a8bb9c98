"""The operator's command line, run in-process with click's CliRunner and an explicit environment."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rich.console import Console

from kapta_vendus import __version__, cli
from kapta_vendus.config import VARIABLES, set_settings
from kapta_vendus.db import migrate


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # Rich wraps tables to the terminal width; a wide console keeps every message on one line.
    monkeypatch.setattr(cli, "console", Console(width=400, color_system=None))


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The embedded defaults in a private data dir."""
    return {"KAPTA_DATA_DIR": str(tmp_path / "var")}


def run(args: list[str], env: dict[str, str]):
    set_settings(None)  # settings are read once per process; each invocation reads its own env
    try:
        return CliRunner().invoke(cli.main, args, env=env)
    finally:
        set_settings(None)


def test_version(env):
    result = run(["--version"], env)
    assert result.exit_code == 0
    assert result.output.strip() == f"kapta-vendus, version {__version__}"


def test_help_lists_the_commands(env):
    result = run(["--help"], env)
    assert result.exit_code == 0
    for command in ("config", "db", "doctor", "worker", "beat"):
        assert command in result.output


def test_config_markdown_lists_every_variable(env):
    result = run(["config", "--format", "markdown"], env)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:2] == ["| Variable | Default | Purpose |", "|---|---|---|"]
    rows = lines[2:]
    assert [row.split("|")[1].strip().strip("`") for row in rows] == [v.env for v in VARIABLES]
    for variable, row in zip(VARIABLES, rows, strict=True):
        assert variable.doc in row


def test_config_env_lists_every_variable_with_its_default(env):
    result = run(["config", "--format", "env"], env)
    assert result.exit_code == 0
    assignments = [line for line in result.output.splitlines() if line and not line.startswith("#")]
    assert assignments == [f"{v.env}={v.default}" for v in VARIABLES]
    for variable in VARIABLES:
        assert f"# {variable.doc}" in result.output


def test_config_table(env):
    result = run(["config"], env)
    assert result.exit_code == 0
    for variable in VARIABLES:
        assert variable.env in result.output


def test_db_upgrade_and_current(tmp_path, env):
    env = env | {"KAPTA_DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3"}
    head = migrate.head_revision()

    before = run(["db", "current"], env)
    assert before.exit_code == 0, before.output
    assert "(empty)" in before.output

    upgraded = run(["db", "upgrade"], env)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {head}" in upgraded.output
    assert migrate.current_revision(env["KAPTA_DATABASE_URL"]) == head

    current = run(["db", "current"], env)
    assert current.exit_code == 0
    assert current.output.strip() == head

    downgraded = run(["db", "downgrade", "base"], env)
    assert downgraded.exit_code == 0, downgraded.output
    assert migrate.current_revision(env["KAPTA_DATABASE_URL"]) is None


def test_db_upgrade_with_a_bad_variable_names_it(env):
    result = run(["db", "upgrade"], env | {"KAPTA_TASK_MAX_RETRIES": "many"})
    assert result.exit_code == 1
    assert "KAPTA_TASK_MAX_RETRIES" in result.output
    assert "Traceback" not in result.output


def test_doctor_is_healthy_on_the_embedded_defaults(env):
    assert run(["db", "upgrade"], env).exit_code == 0
    result = run(["doctor"], env)
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output
    assert "unhealthy" not in result.output
    assert "FAIL" not in result.output
    # No KAPTA_SECRET_KEYS: works, with the generated key file, but says so.
    assert "KAPTA_SECRET_KEYS" in result.output


def test_doctor_asks_for_a_migration(env):
    result = run(["doctor"], env)
    assert result.exit_code == 1
    assert "kapta-vendus db upgrade" in result.output
    assert "unhealthy" in result.output


@pytest.mark.parametrize(("variable", "value"), [
    ("KAPTA_LOG_LEVEL", "LOUD"),
    ("KAPTA_BROKER_URL", "amqp://guest@localhost//"),
    ("KAPTA_VISIBILITY_TIMEOUT", "10"),
])
def test_doctor_names_a_bad_variable(env, variable, value):
    result = run(["doctor"], env | {variable: value})
    assert result.exit_code == 1
    assert variable in result.output
    assert "unhealthy" in result.output
    assert "Traceback" not in result.output


def test_doctor_never_prints_a_bad_secret_key(env):
    result = run(["doctor"], env | {"KAPTA_SECRET_KEYS": "my-very-secret-passphrase"})
    assert result.exit_code == 1
    assert "KAPTA_SECRET_KEYS" in result.output
    assert "my-very-secret-passphrase" not in result.output


def test_doctor_reports_an_unreachable_database(env):
    # Port 1 on loopback refuses at once: a fast, deterministic "cannot connect".
    url = "postgresql+psycopg://kapta:hunter2-password@127.0.0.1:1/kapta"
    result = run(["doctor"], env | {"KAPTA_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "cannot connect" in result.output
    assert "127.0.0.1:1" in result.output
    assert "Connection refused" in result.output, "the driver's reason tells the operator what to fix"
    assert "hunter2-password" not in result.output
    assert "unhealthy" in result.output


def test_doctor_reports_an_unreachable_broker(env):
    assert run(["db", "upgrade"], env).exit_code == 0
    result = run(["doctor"], env | {"KAPTA_BROKER_URL": "redis://:hunter2-password@127.0.0.1:1/0"})
    assert result.exit_code == 1
    assert "broker" in result.output
    assert "hunter2-password" not in result.output


def test_import_keeps_its_old_form_as_import_history(env, monkeypatch):
    """`import --integration …` (no subcommand) still runs the historical import: ``import history``."""
    from kapta_vendus.commands import imports

    seen = []
    monkeypatch.setattr(imports.history, "callback", lambda **kwargs: seen.append(kwargs["ref"]))
    runner = CliRunner()
    assert runner.invoke(cli.main, ["import", "--integration", "shop", "--since", "2024-01-01"], env=env).exit_code == 0
    assert runner.invoke(cli.main, ["import", "history", "--integration", "shop2", "--since", "2024-01-01"],
                         env=env).exit_code == 0
    assert seen == ["shop", "shop2"]
    listing = runner.invoke(cli.main, ["import", "--help"], env=env).output
    assert "customers" in listing and "products" in listing and "history" in listing
