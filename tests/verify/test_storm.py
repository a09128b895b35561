"""Dispatch storms: a WhatsApp outage across many sessions must not multiply dispatches.

The dispatch storm alert is evaluated by promtool on the deltas of the
portal's own counters, measured while the breaker works and while an
operator forces it closed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from portal.verify.breaker import BreakerState, ChannelBreakers
from tests.harness.servers import REPO_ROOT, unavailable

pytestmark = pytest.mark.asyncio(loop_scope="session")

ALERTS = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
SENDING = {"failed", "sent", "delivered", "undelivered"}


def counter_total(name: str) -> float:
    """Return the sum of a counter over all its labels in this process's registry."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.name == f"{name}_total"
    )


def gauge_value(name: str, **labels: str) -> float | None:
    """Return one sample of a gauge, or None."""
    return REGISTRY.get_sample_value(name, labels)


async def run_batches(caller, dispatch_admin, numbers, batches: int, size: int) -> list[dict]:
    """Start `size` sessions at once, `batches` times, each time until every one sent a code."""
    sessions = []
    for _ in range(batches):
        recipients = [numbers() for _ in range(size)]
        responses = await asyncio.gather(*(caller.start(to) for to in recipients))
        assert all(response.status_code == 201 for response in responses)
        await asyncio.gather(*(dispatch_admin.wait_for_message(to) for to in recipients))
        sessions += [response.json() for response in responses]
    return sessions


async def dispatches_per_session(caller, sessions: list[dict]) -> float:
    """Return the messages requested from dispatch per session, from each session's view."""
    sent = 0
    for session in sessions:
        view = (await caller.get(session["id"])).json()
        sent += sum(1 for item in view["channels_tried"] if item["status"] in SENDING)
    return sent / len(sessions)


def storm_rule() -> dict:
    """Return the PortalVerifyDispatchStorm rule from alerts.yml."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    return next(rule for rule in rules if rule.get("alert") == "PortalVerifyDispatchStorm")


def storm_alert_fires(tmp_path: Path, dispatches: float, sessions: float) -> bool:
    """Replay the measured increase every minute for 15 minutes; return whether the alert fires."""
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (Debian package prometheus)")
    rule = storm_rule()
    ratio = f"{dispatches / sessions:.2f}"
    expected = {
        "exp_labels": rule["labels"],
        "exp_annotations": {
            name: text.replace('{{ $value | printf "%.2f" }}', ratio)
            for name, text in rule["annotations"].items()
        },
    }
    test = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'portal_verify_dispatches_total{channel="any",outcome="any"}',
                        "values": f"0+{dispatches}x15",
                    },
                    {
                        "series": "portal_verify_sessions_started_total",
                        "values": f"0+{sessions}x15",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "PortalVerifyDispatchStorm",
                        "exp_alerts": [expected],
                    }
                ],
            }
        ],
    }
    test_file = tmp_path / "storm.test.yml"
    test_file.write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True)
    return result.returncode == 0


async def test_breaker_opens_and_sessions_start_on_sms(
    caller, dispatch_admin, numbers, tmp_path, portal_settings
):
    await dispatch_admin.set_channel("whatsapp", outage=True)
    dispatches_before = counter_total("portal_verify_dispatches")
    sessions_before = counter_total("portal_verify_sessions_started")

    sessions = await run_batches(caller, dispatch_admin, numbers, batches=6, size=5)

    opened = [s for s in sessions if s["channel"] == "sms"]
    assert len(opened) >= 15, [s["channel"] for s in sessions]
    # Once the breaker is open, each session costs one message: no WhatsApp attempt.
    assert await dispatches_per_session(caller, opened) < 1.2
    assert await dispatches_per_session(caller, sessions) < 1.5
    whatsapp_requests = sum(
        row["count"]
        for row in (await dispatch_admin.stats())["outcomes"]
        if row["channel"] == "whatsapp"
    )
    assert whatsapp_requests <= portal_settings.verify_breaker_min_calls + 5
    assert gauge_value("portal_verify_channel_circuit_state", channel="whatsapp") == 2

    dispatches = counter_total("portal_verify_dispatches") - dispatches_before
    started = counter_total("portal_verify_sessions_started") - sessions_before
    assert started == len(sessions)
    assert not storm_alert_fires(tmp_path, dispatches, started)


async def test_storm_alert_fires_when_breaker_held_closed(
    caller, dispatch_admin, numbers, tmp_path, portal_settings, admin_redis
):
    breakers = ChannelBreakers(admin_redis, portal_settings)
    await breakers.force("whatsapp", BreakerState.CLOSED)
    try:
        await dispatch_admin.set_channel("whatsapp", outage=True)
        dispatches_before = counter_total("portal_verify_dispatches")
        sessions_before = counter_total("portal_verify_sessions_started")

        sessions = await run_batches(caller, dispatch_admin, numbers, batches=4, size=5)

        assert all(s["channel"] == "whatsapp" for s in sessions)
        assert await dispatches_per_session(caller, sessions) == 2
        dispatches = counter_total("portal_verify_dispatches") - dispatches_before
        started = counter_total("portal_verify_sessions_started") - sessions_before
        assert dispatches / started == pytest.approx(2.0, abs=0.15)
        assert storm_alert_fires(tmp_path, dispatches, started)
    finally:
        await breakers.force("whatsapp", None)
