"""The meta-test: processes, queues, routes, beat entries and deploy files agree with each other.

Each piece is fine on its own; what breaks in production is the gap between them (a queue nobody
consumes, a beat entry naming a task that does not exist, an env file that lost a variable).
"""

from __future__ import annotations

import ast
import configparser
import importlib
import os
import re
import runpy
import shlex
from pathlib import Path

import pytest
from celery import Celery
from click.testing import CliRunner

import celeryconfig
from kapta_vendus.cli import main
from kapta_vendus.config import VARIABLES, Settings, set_settings

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = {"release", "web", "worker", "billing", "express", "outbound", "beat", "flower"}
WORKERS = ("worker", "billing", "express", "outbound")
TASK_NAME = re.compile(r"^kapta\.[a-z_]+\.[a-z_]+$")


def procfile() -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        assert sep and re.fullmatch(r"[A-Za-z0-9_-]+", name), f"not a Procfile line: {line!r}"
        assert name not in processes, f"process {name} defined twice"
        processes[name] = command.strip()
    return processes


@pytest.fixture
def registered_app() -> Celery:
    """The Celery app with every task module imported, as a worker sees it."""
    importlib.import_module("kapta_vendus.tasks.registry")
    from kapta_vendus.tasks.app import app

    return app


def run_cli(args: list[str], env: dict[str, str]):
    set_settings(None)  # settings are read once per process; each invocation gets its own
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    set_settings(None)
    return result


# --- Procfile -----------------------------------------------------------------------------------


def test_procfile_has_every_process():
    assert set(procfile()) == PROCESSES


def test_release_migrates():
    assert shlex.split(procfile()["release"]) == ["kapta-vendus", "db", "upgrade"]


def _worker_argv(monkeypatch, tmp_path, argv: list[str]) -> list[str]:
    from kapta_vendus.tasks import process

    captured: list[list[str]] = []
    # The command points this process's metrics at the data directory (os.environ): undone after the test.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(process, "celery_main", lambda app, argv: captured.append(list(argv)) or 0)
    result = run_cli(argv, {"KAPTA_DATA_DIR": str(tmp_path), "KAPTA_LOG_LEVEL": "WARNING",
                            "KAPTA_BILLING_THREADS": "16"})
    assert result.exit_code == 0, result.output
    (worker_argv,) = captured
    return worker_argv


def _queues(argv: list[str]) -> list[str]:
    return argv[argv.index("-Q") + 1].split(",")


def _consumed(monkeypatch, tmp_path, name: str) -> list[str]:
    argv = shlex.split(procfile()[name].replace("${KAPTA_BILLING_THREADS:-16}", "16"))
    assert argv[:2] == ["kapta-vendus", "worker"]
    worker_argv = _worker_argv(monkeypatch, tmp_path, argv[1:])
    assert worker_argv[0] == "worker"
    assert worker_argv[worker_argv.index("--loglevel") + 1] == "WARNING"
    return _queues(worker_argv)


def test_the_workers_together_consume_every_queue(monkeypatch, tmp_path):
    consumed: list[str] = []
    for name in WORKERS:
        if name != "express":
            consumed += _consumed(monkeypatch, tmp_path, name)
    assert sorted(consumed) == sorted(celeryconfig.QUEUES), "every queue consumed, and by one worker only"


def test_the_express_worker_consumes_the_fast_lane_only(monkeypatch, tmp_path):
    # Beside the workers above: only the fast lane's queues, so no flood (slow lane) can occupy it.
    assert _consumed(monkeypatch, tmp_path, "express") == ["pipeline", "billing"]
    assert "--pool=threads" not in procfile()["express"]  # prefork: prepare and sync are CPU work


def test_a_worker_asked_for_a_queue_consumes_its_slow_lane_too(monkeypatch, tmp_path):
    assert _queues(_worker_argv(monkeypatch, tmp_path, ["worker", "-Q", "billing"])) == ["billing", "billing.slow"]
    assert _queues(_worker_argv(monkeypatch, tmp_path, ["worker", "--queues=ingest,pipeline", "-c", "1"])) == [
        "ingest", "pipeline", "pipeline.slow"]
    assert _queues(_worker_argv(monkeypatch, tmp_path, ["worker", "-Qreconcile"])) == ["reconcile"]


def test_fast_lane_only_needs_queues(monkeypatch, tmp_path):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    result = run_cli(["worker", "--fast-lane-only"], {"KAPTA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "--fast-lane-only needs -Q" in result.output


def test_billing_runs_on_a_thread_pool_and_the_rest_on_prefork():
    billing, other = (shlex.split(procfile()[name]) for name in ("billing", "worker"))
    assert _queues(billing) == ["billing"] and "--pool=threads" in billing
    assert not any(a.startswith("--pool") for a in other)  # Celery's default: prefork
    outbound = shlex.split(procfile()["outbound"])
    assert _queues(outbound) == ["outbound"] and "--pool=threads" in outbound  # waits on other systems


def test_a_bare_worker_consumes_every_queue(monkeypatch, tmp_path):
    assert sorted(_queues(_worker_argv(monkeypatch, tmp_path, ["worker"]))) == sorted(celeryconfig.QUEUES)


def test_worker_exits_with_celerys_exit_code(monkeypatch, tmp_path):
    """worker_main threw Celery's exit code away: a failed worker exited 0 and was never restarted."""
    from kapta_vendus.tasks import process

    monkeypatch.setattr(process, "celery_main", lambda app, argv: 1)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    result = run_cli(["worker"], {"KAPTA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1


def test_worker_passes_extra_arguments_to_celery(monkeypatch, tmp_path):
    argv = _worker_argv(monkeypatch, tmp_path, ["worker", "--concurrency=2", "--hostname=w1@%h"])
    assert argv[-2:] == ["--concurrency=2", "--hostname=w1@%h"]


def test_beat_is_started_again_when_it_stops_on_an_error():
    from kapta_vendus.tasks import process

    codes, slept = [1, 1, 0], []
    assert process.run_beat(None, ["beat"], run=lambda app, argv: codes.pop(0), sleep=slept.append) == 0
    assert codes == [] and len(slept) == 2
    assert process.run_beat(None, ["beat"], run=lambda app, argv: 2, sleep=slept.append, restarts=1) == 2


def test_beat_runs_celery_beat(monkeypatch, tmp_path):
    from kapta_vendus.tasks import process

    argv = shlex.split(procfile()["beat"])
    assert argv == ["kapta-vendus", "beat"]
    captured: list[list[str]] = []
    # The command points this process's metrics at the data directory (os.environ): undone after the test.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(process, "celery_main", lambda app, argv: captured.append(list(argv)) or 0)
    result = run_cli(argv[1:], {"KAPTA_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert captured[0][0] == "beat"


def test_flower_points_at_the_celery_app():
    argv = shlex.split(procfile()["flower"])
    assert argv[0] == "celery"
    assert "flower" in argv
    module, _, attribute = argv[argv.index("-A") + 1].partition(":")
    assert isinstance(getattr(importlib.import_module(module), attribute), Celery)
    # Loopback only, read-only, and never without its basic auth (FLOWER_BASIC_AUTH=user:password).
    assert "--address=127.0.0.1" in argv
    assert "--read_only=True" in argv
    assert any(a.startswith("--basic_auth=${FLOWER_BASIC_AUTH:?") for a in argv)


def test_web_serves_the_app_factory_with_the_gunicorn_config():
    argv = shlex.split(procfile()["web"])
    assert argv[:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    assert (ROOT / argv[2]).is_file()
    target = argv[3]
    module, _, call = target.partition(":")
    assert call.endswith("()")
    assert callable(getattr(importlib.import_module(module), call[:-2]))


# --- gunicorn -----------------------------------------------------------------------------------


def test_gunicorn_config(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("KAPTA_DATA_DIR", str(tmp_path))
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    # Prometheus multiprocess mode, in the directory the workers of this host also write to.
    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") == str(tmp_path / "prometheus")
    assert (tmp_path / "prometheus").is_dir() and callable(conf["child_exit"])
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert conf["bind"] == "0.0.0.0:9123"
    assert 1 <= conf["workers"] <= 8
    assert conf["timeout"] > 0 and conf["graceful_timeout"] > 0
    assert conf["accesslog"] == "-"
    assert conf["max_requests"] > 0 and 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert "%(q)s" not in conf["access_log_format"], "query strings may carry an api_key"

    forgotten: list[bool] = []
    monkeypatch.setattr("kapta_vendus.db.session.forget_connections_after_fork",
                        lambda: forgotten.append(True))
    conf["post_fork"](server=None, worker=None)
    assert forgotten == [True]


def test_gunicorn_bind_and_workers_can_be_overridden(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:8000")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert (conf["bind"], conf["workers"]) == ("127.0.0.1:8000", 3)


# --- queues, routes, beat -----------------------------------------------------------------------


def test_declared_queues_are_the_queue_list():
    assert [q.name for q in celeryconfig.task_queues] == list(celeryconfig.QUEUES)
    assert celeryconfig.task_default_queue in celeryconfig.QUEUES
    assert celeryconfig.task_create_missing_queues is False


def test_every_route_targets_a_declared_queue():
    for pattern, route in celeryconfig.task_routes.items():
        assert route["queue"] in celeryconfig.QUEUES, pattern


def test_reliability_switches():
    assert celeryconfig.task_acks_late is True
    assert celeryconfig.task_reject_on_worker_lost is True
    assert celeryconfig.worker_prefetch_multiplier == 1
    assert celeryconfig.accept_content == ["json"]


def _beat_schedule(tmp_path, **changes) -> dict:
    return celeryconfig.for_settings(Settings(data_dir=str(tmp_path), **changes))["beat_schedule"]


def test_every_beat_entry_expires(tmp_path):
    schedule = _beat_schedule(tmp_path)
    assert schedule
    for name, entry in schedule.items():
        expires = entry.get("options", {}).get("expires")
        assert expires, f"beat entry {name} has no options.expires"
        # A run that could not start before the next one is due is dropped, not piled up.
        assert 0 < expires <= entry["schedule"], name


def test_every_beat_entry_names_a_registered_task(tmp_path, registered_app):
    for broker in ("", "redis://127.0.0.1:6379/0"):
        for name, entry in _beat_schedule(tmp_path, broker_url=broker).items():
            assert entry["task"] in registered_app.tasks, f"beat entry {name}: {entry['task']} is not registered"


def test_every_kapta_task_routes_to_a_declared_queue(registered_app):
    names = [n for n in registered_app.tasks if n.startswith("kapta.")]
    assert names, "no kapta.* task registered"
    router = registered_app.amqp.router
    for name in names:
        # The second part of the name is the queue: kapta.<queue>.<task>. A name that matches no
        # route would silently land on the default queue.
        assert name.split(".")[1] in celeryconfig.QUEUES, name
        assert router.route({}, name)["queue"].name == name.split(".")[1], name


def test_every_task_name_used_in_the_code_is_registered(registered_app):
    # Tasks are sent by name (dispatch, beat) so that callers need no task imports; a typo in such a
    # name would only show up as a message nobody can run.
    used: dict[str, str] = {}
    for path in [*(ROOT / "kapta_vendus").rglob("*.py"), ROOT / "celeryconfig.py"]:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and TASK_NAME.match(node.value):
                used.setdefault(node.value, str(path.relative_to(ROOT)))
    missing = {name: where for name, where in used.items() if name not in registered_app.tasks}
    assert not missing, f"task names used but not registered: {missing}"


# --- deploy files -------------------------------------------------------------------------------


def _env_example() -> tuple[str, str]:
    text = (ROOT / "deploy" / "env.example").read_text()
    header, _, body = text.partition("\n\n")
    return header, body


def test_env_example_lists_exactly_the_variables():
    _, body = _env_example()
    names = [line.split("=", 1)[0] for line in body.splitlines() if line and not line.startswith("#")]
    assert names == [v.env for v in VARIABLES]


def test_env_example_is_the_generated_output(tmp_path):
    header, body = _env_example()
    assert "kapta-vendus config --format env" in header
    assert all(line.startswith("#") for line in header.splitlines())
    generated = run_cli(["config", "--format", "env"], {"KAPTA_DATA_DIR": str(tmp_path)}).output
    assert body == generated, "deploy/env.example is stale: regenerate it with kapta-vendus config --format env"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(ROOT / "deploy" / "systemd" / f"kapta-vendus-{name}.service")
    return parser


@pytest.mark.parametrize("name", ["web", "worker", "billing", "express", "outbound", "beat", "flower"])
def test_systemd_unit_runs_the_procfile_command(name):
    unit = _unit(name)
    service = unit["Service"]
    assert service["EnvironmentFile"] == "/etc/kapta-vendus/env"
    assert service["User"] == "kapta"
    # always: a worker that stopped on a broker failure must come back, whatever its exit code.
    assert service["Restart"] == "always"
    assert service["KillMode"] == "mixed"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/kapta-vendus" in service["ReadWritePaths"]
    # The same program and arguments; paths are absolute in the unit, options may differ.
    def essentials(command: str) -> list[str]:
        return [Path(a).name if "/" in a else a for a in shlex.split(command) if not a.startswith("--")]

    def expand(command: str) -> str:
        return command.replace("${KAPTA_BILLING_THREADS:-16}", "16").replace("${KAPTA_BILLING_THREADS}", "16")

    assert essentials(expand(service["ExecStart"])) == essentials(expand(procfile()[name]))


@pytest.mark.parametrize("name", WORKERS)
def test_worker_stop_timeout_outlasts_a_task(name):
    # Warm shutdown lets running tasks finish; systemd must not kill them before the time limit.
    assert int(_unit(name)["Service"]["TimeoutStopSec"]) > Settings().task_time_limit


def test_nginx_body_limit_matches_the_receiver():
    conf = (ROOT / "deploy" / "nginx" / "kapta-vendus.conf").read_text()
    (size,) = re.findall(r"^\s*client_max_body_size\s+(\d+)([km]?);", conf, re.MULTILINE)
    multiplier = {"": 1, "k": 1024, "m": 1024 * 1024}[size[1]]
    assert int(size[0]) * multiplier == Settings().receiver_max_body


def test_readme_configuration_table_is_the_generated_output(tmp_path):
    """The README says its configuration table is generated from the settings table: keep it so."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| Variable | Default | Purpose |")
    table = readme[start:readme.index("\n\n", start)]
    generated = run_cli(["config", "--format", "markdown"], {"KAPTA_DATA_DIR": str(tmp_path)}).output.strip("\n")
    assert table == generated, "README's configuration table is stale: kapta-vendus config --format markdown"
