"""The Grafana dashboard shows every signal an alert rule fires on."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.harness.servers import REPO_ROOT
from tests.ops.promql import metric_names

DASHBOARDS = sorted((REPO_ROOT / "deploy" / "grafana").glob("*.json"))
ALERTS_FILE = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
# Grafana's built-in interval variables, replaced so promql-parser reads the query.
GRAFANA_VARIABLES = re.compile(r"\$__(rate_interval|interval|range)")


def panel_queries() -> list[tuple[str, str]]:
    """Return (panel title, PromQL) for every target of every dashboard."""
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append((panel["title"], target["expr"]))
    return queries


def alert_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS_FILE.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_dashboard_exists():
    assert DASHBOARDS, "no Grafana dashboard under deploy/grafana"


def test_panel_queries_parse():
    for title, expr in panel_queries():
        assert metric_names(GRAFANA_VARIABLES.sub("5m", expr)), f"{title!r} selects no metric"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_metrics_have_panel(rule: dict):
    shown = set().union(
        *(metric_names(GRAFANA_VARIABLES.sub("5m", expr)) for _, expr in panel_queries())
    )

    missing = sorted(metric_names(rule["expr"]) - shown)

    assert not missing, f"{rule['alert']} alerts on {missing}, which no dashboard panel shows"


def test_panels_have_unique_ids():
    for path in DASHBOARDS:
        ids = [panel["id"] for panel in json.loads(path.read_text())["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name} repeats panel ids"
