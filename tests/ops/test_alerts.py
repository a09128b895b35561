"""Alert rules: promtool accepts and unit-tests them, each has a runbook and both test cases.

Every area adds its rules to deploy/prometheus/alerts.yml and its promtool
tests to deploy/prometheus/tests/<area>.test.yml; this module checks the whole
set, so a rule without a firing case, a quiet case or a runbook fails CI.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.harness.servers import REPO_ROOT, unavailable
from tests.ops.promql import metric_names

PROMETHEUS_DIR = REPO_ROOT / "deploy" / "prometheus"
ALERTS_FILE = PROMETHEUS_DIR / "alerts.yml"
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
RUNBOOKS_DIR = REPO_ROOT / "docs" / "runbooks"
CODE_DIRS = ("portal", "api", "workers", "activities", "workflows", "services")
# Metrics the Temporal SDK exports on the worker's SDK metrics port.
SDK_METRIC_PREFIX = "temporal_"

# Each detection signal of the portal and the metrics any one of which an alert must use.
SIGNALS = {
    "CDN edge stale": {"portal_docs_edge_stale"},
    "circuit breaker open per dependency": {"portal_dependency_circuit_state"},
    "circuit breaker open per Verify channel": {"portal_verify_channel_circuit_state"},
    "key revocations pending too long": {"portal_keys_revocation_oldest_pending_age_seconds"},
    "pepper rotation overdue": {"portal_verify_pepper_age_seconds"},
    "Redis ACL denials": {"portal_verify_redis_acl_denied_total"},
    "dispatch-to-session ratio above 1.8": {"portal_verify_dispatches_total"},
    "partial SDK release": {
        "portal_sdk_releases_partial_total",
        "portal_sdk_partial_releases_open",
    },
    "SDK version skew": {"portal_sdk_registry_latest_version_seen_timestamp_seconds"},
}


def load_rules() -> list[dict]:
    document = yaml.safe_load(ALERTS_FILE.read_text())
    return [
        {**rule, "group": group["name"]}
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def alert_cases() -> dict[str, dict[str, int]]:
    """Count, per alert name, the promtool cases that expect it to fire and to stay quiet."""
    cases: dict[str, dict[str, int]] = defaultdict(lambda: {"firing": 0, "quiet": 0})
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text()).get("tests", []):
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                cases[case["alertname"]][kind] += 1
    return cases


@functools.cache
def portal_sources() -> str:
    """Return the text of every Python file of the portal's code, joined."""
    return "\n".join(
        path.read_text(errors="replace")
        for directory in CODE_DIRS
        for path in (REPO_ROOT / directory).rglob("*.py")
    )


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool is not installed (Debian package prometheus)")
    return found  # type: ignore[return-value]


RULES = load_rules()
RULE_IDS = [rule["alert"] for rule in RULES]


def test_promtool_checks_rules():
    result = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS_FILE)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    assert TEST_FILES, "no promtool test files under deploy/prometheus/tests"

    result = subprocess.run(
        [
            promtool(),
            "test",
            "rules",
            *(str(path.relative_to(PROMETHEUS_DIR)) for path in TEST_FILES),
        ],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_names_are_unique():
    duplicates = sorted({name for name in RULE_IDS if RULE_IDS.count(name) > 1})

    assert not duplicates


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_has_firing_and_quiet_case(rule: dict):
    counts = alert_cases().get(rule["alert"], {"firing": 0, "quiet": 0})

    assert counts["firing"] >= 1, f"no promtool case in which {rule['alert']} fires"
    assert counts["quiet"] >= 1, f"no promtool case in which {rule['alert']} stays quiet"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_links_existing_runbook(rule: dict):
    link = rule.get("annotations", {}).get("runbook_url", "")

    assert re.fullmatch(r"docs/runbooks/[a-z0-9-]+\.md", link), f"runbook_url is {link!r}"
    assert (REPO_ROOT / link).is_file(), f"{rule['alert']} links {link}, which does not exist"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_follows_conventions(rule: dict):
    annotations = rule.get("annotations", {})

    assert rule["alert"].startswith("Portal")
    assert rule["group"].startswith("portal-")
    assert rule.get("labels", {}).get("severity") in {"page", "ticket"}
    assert annotations.get("summary")
    assert annotations.get("description")


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_rule_metrics_are_exported(rule: dict):
    sources = portal_sources()

    for name in metric_names(rule["expr"]):
        if name.startswith(SDK_METRIC_PREFIX):
            continue
        # prometheus-client appends _total to a counter's name when the code leaves it out.
        spelled = {f'"{name}"', f'"{name.removesuffix("_total")}"'}
        assert any(form in sources for form in spelled), (
            f"{rule['alert']} uses {name}, which no portal code exports"
        )


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_signal_has_alert(signal: str):
    used = set().union(*(metric_names(rule["expr"]) for rule in RULES))

    assert used & SIGNALS[signal], f"no alert rule covers {signal} ({sorted(SIGNALS[signal])})"


def test_dispatch_ratio_threshold_is_1_8():
    [rule] = [
        rule for rule in RULES if "portal_verify_dispatches_total" in metric_names(rule["expr"])
    ]

    assert re.search(r">\s*1\.8\b", rule["expr"]), rule["expr"]


def test_runbook_index_lists_every_runbook():
    index = (RUNBOOKS_DIR / "README.md").read_text()
    runbooks = sorted(path.name for path in RUNBOOKS_DIR.glob("*.md") if path.name != "README.md")

    missing = [name for name in runbooks if f"({name})" not in index]

    assert not missing, f"docs/runbooks/README.md does not link {missing}"


def test_runbooks_are_not_empty():
    for path in Path(RUNBOOKS_DIR).glob("*.md"):
        text = path.read_text()
        assert text.startswith("# "), f"{path.name} has no title"
        assert len(text.split()) > 40, f"{path.name} is too short to guide on-call"
