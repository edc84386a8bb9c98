"""`kapta-vendus reconcile` and `kapta-vendus import`, run in-process against PostgreSQL and the simulator."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from reconcile_testkit import API_KEY, World

from kapta_vendus.cli import main
from kapta_vendus.commands import reconcile as commands
from kapta_vendus.config import set_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def cli(world: World, monkeypatch):
    set_settings(world.settings)
    monkeypatch.setattr(commands, "_enqueue_event", world.enqueued.append)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_reconcile_polls_now_and_summarises(world: World, cli):
    world.create(type="FT")
    world.create(type="OT")

    data = json.loads(cli("reconcile", "--integration", "shop", "--json"))

    (poll,) = data["polls"]
    assert poll["counts"]["new"] == 2 and poll["counts"]["events"] == 1
    assert data["drift"]["found"] == 0 and data["deadlines"]["watched"] == 0
    assert len(world.enqueued) == 1

    text = cli("reconcile", "--integration", world.integration_id, "--store", str(world.store_id))
    assert "events emitted" in text and "drift found: 0" in text and "legal deadlines" in text


def test_reconcile_refuses_an_unknown_store_or_integration(world: World, cli):
    result = CliRunner().invoke(main, ["reconcile", "--integration", "shop", "--store", "1"])
    assert result.exit_code != 0 and "not stores of shop" in result.output
    result = CliRunner().invoke(main, ["reconcile", "--integration", "nope"])
    assert result.exit_code != 0 and "no integration" in result.output


def test_import_command_summary_and_dry_run(world: World, cli):
    today = date.fromisoformat(world.sim.state.today(API_KEY))
    world.sim.state.bulk_create_documents(API_KEY, 50, start_date=(today - timedelta(days=90)).isoformat(),
                                          end_date=today.isoformat())
    since = (today - timedelta(days=100)).isoformat()

    data = json.loads(cli("import", "--integration", "shop", "--since", since, "--resources",
                          "documents,clients,products", "--replay-rules", "--dry-run", "--json"))

    (docs,) = data["documents"]
    assert docs["complete"] and docs["documents"] == 50 and docs["by_type_status"] == {"FT N": 50}
    assert {c["resource"] for c in data["catalog"]} == {"clients", "products"}
    assert data["replay"]["dry_run"] and data["replay"]["actions"] == {"link_only": 50, "notify": 50}
    assert world.enqueued == []

    text = cli("import", "--integration", "shop", "--since", since)
    assert "50 document(s)" not in text and "complete" in text  # already done: nothing read again
    assert "FT" in text


def test_import_options_are_checked(cli, world: World):
    result = CliRunner().invoke(main, ["import", "--integration", "shop", "--since", "2024-01-01",
                                       "--resources", "documents,orders"])
    assert result.exit_code != 0 and "--resources" in result.output
    result = CliRunner().invoke(main, ["import", "--integration", "shop", "--since", "2024-01-01", "--dry-run"])
    assert result.exit_code != 0 and "--replay-rules" in result.output


def test_import_with_celery_enqueues_one_job_per_window(world: World, cli, monkeypatch):
    from kapta_vendus.tasks.app import app

    sent: list[tuple] = []

    class Signature:
        def __init__(self, name: str, args: tuple) -> None:
            self.name, self.args = name, args

        def apply_async(self) -> None:
            sent.append((self.name, self.args))

    monkeypatch.setattr(app, "signature", lambda name, args: Signature(name, tuple(args)))
    text = cli("import", "--integration", "shop", "--since", "2024-01-01", "--until", "2024-03-05", "--celery")
    assert "enqueued 3 import job(s)" in text
    assert sent == [("kapta.reconcile.import_window", (world.integration_id, world.store_id, since, until, False))
                    for since, until in (("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-03-02"),
                                         ("2024-03-03", "2024-03-05"))]
