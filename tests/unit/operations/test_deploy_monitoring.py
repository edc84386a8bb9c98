"""deploy/prometheus/alerts.yml and the Grafana dashboard only use metrics that /metrics really exposes."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from kapta_vendus import metrics
from kapta_vendus.admin import overview
from kapta_vendus.admin.overview import IntegrationHealth, StorePoll
from kapta_vendus.metrics_state import StateCollector

DEPLOY = Path(__file__).parents[3] / "deploy"
METRIC = re.compile(r"\bkapta_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


class _Db:
    @contextlib.contextmanager
    def unit_of_work(self):
        yield None


def exposed_names(settings, monkeypatch) -> set[str]:
    row = IntegrationHealth("i1", "lisboa", "active", {}, {}, 12.0, 1, "ok", False, 0,
                            [StorePoll(1, datetime(2026, 1, 1, tzinfo=UTC), 30.0), StorePoll(2, None, None)], 0, 0)
    monkeypatch.setattr(overview, "overview", lambda session, settings: [row])
    monkeypatch.setattr("kapta_vendus.metrics_state.queue_depths", lambda settings: {"billing": 3})
    body, _ = metrics.exposition([StateCollector(_Db(), settings)])
    # Family names: a labelled counter has no sample before its first use, but its family is there.
    return {_family(f.name) for f in text_string_to_metric_families(body.decode())}


def _family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def used_in(text: str) -> set[str]:
    return {_family(name) for name in METRIC.findall(text)}


def test_alert_rules_are_well_formed_and_use_exposed_metrics(settings, monkeypatch):
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exposed = exposed_names(settings, monkeypatch)
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["alert"] and rule["expr"] and rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        assert used_in(rule["expr"]) <= exposed, (rule["alert"], used_in(rule["expr"]) - exposed)


def test_dashboard_panels_use_exposed_metrics(settings, monkeypatch):
    dashboard = json.loads((DEPLOY / "grafana" / "kapta-vendus-dashboard.json").read_text())
    exposed = exposed_names(settings, monkeypatch)
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(expressions) >= 12 and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for expr in expressions:
        assert used_in(expr) <= exposed, (expr, used_in(expr) - exposed)
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "integration")
    assert used_in(variable["definition"]) <= exposed
