"""Replay every committed history against the checked-out workflow code.

A change that makes a workflow issue other commands than a history recorded
fails here. Fix it with `workflow.patched` (see docs/operations.md), or, when
no run of the old code can still be open, regenerate the fixture with
`portal ops fixtures --type TYPE --overwrite`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from portal.codec import ENCODING
from portal.ops.fixtures import FIXTURES_DIR, committed_fixtures, workflow_type_name
from portal.ops.history import collect_payloads, read_history
from portal.ops.replay import HistoryReplayer
from portal.settings import load_settings
from portal.temporal import build_data_converter
from workers.registry import all_workflows

FIXTURES = sorted(FIXTURES_DIR.rglob("*.json"))
E164 = re.compile(r"\+[1-9]\d{7,14}")


def fixture_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES_DIR))


@pytest.fixture(scope="module")
def replayer() -> HistoryReplayer:
    # Fixtures are stored decoded, so the codec never needs KMS here.
    settings = load_settings(environment="test")
    return HistoryReplayer(all_workflows(), build_data_converter(settings))


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
async def test_fixture_replays(path: Path, replayer: HistoryReplayer):
    report = await replayer.replay(read_history(path))

    assert report.deterministic, report.summary()


def test_every_workflow_type_has_fixture():
    committed = committed_fixtures()
    registered = {workflow_type_name(cls) for cls in all_workflows()}

    missing = sorted(registered - set(committed))

    assert not missing, (
        f"no replay fixture for {', '.join(missing)}: run "
        f"`portal ops fixtures --type {' --type '.join(missing)}` and commit "
        "tests/replay/histories/"
    )


def test_fixtures_name_registered_types():
    registered = {workflow_type_name(cls) for cls in all_workflows()}

    unknown = sorted(set(committed_fixtures()) - registered)

    assert not unknown, f"fixtures of workflow types no longer registered: {unknown}"


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_is_decoded(path: Path):
    encrypted = []
    for event in read_history(path).events:
        payloads: list[Payload] = []
        collect_payloads(event, payloads)
        if any(payload.metadata.get("encoding") == ENCODING for payload in payloads):
            encrypted.append(event.event_id)

    assert not encrypted, (
        f"{fixture_id(path)} events {encrypted} hold encrypted payloads, which no CI KMS "
        "can decrypt; export it with --decode"
    )


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_ids_and_search_attributes_hold_no_number(path: Path):
    # Workflow ids and search attributes are never encrypted, so they must not
    # carry phone numbers, not even in test data.
    for event in read_history(path).events:
        plain: list[str] = []
        attributes_name = event.WhichOneof("attributes") or ""
        attributes = getattr(event, attributes_name, None)
        if attributes is not None and attributes.DESCRIPTOR.fields_by_name.get("search_attributes"):
            for payload in attributes.search_attributes.indexed_fields.values():
                plain.append(payload.data.decode(errors="replace"))
        if attributes is not None and attributes.DESCRIPTOR.fields_by_name.get("workflow_id"):
            plain.append(attributes.workflow_id)
        for text in plain:
            assert not E164.search(text), f"event {event.event_id} of {fixture_id(path)}: {text}"
