"""The snippets router, tested on an app built from that router alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from api.routers.snippets import router
from portal.snippets.reports import ReportStore
from tests.snippets.conftest import SPECS_DIR


@pytest.fixture
def store(tmp_path: Path) -> ReportStore:
    return ReportStore(tmp_path / "state" / "snippet-reports.jsonl", max_reports=3)


@pytest.fixture
def client(store: ReportStore) -> TestClient:
    if not (SPECS_DIR / "vonage_verify.yml").exists():
        pytest.skip(f"{SPECS_DIR} is not present")
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.snippet_specs_dir = SPECS_DIR
    app.state.snippet_reports = store
    return TestClient(app)


def reports_counted(lang: str) -> float:
    return REGISTRY.get_sample_value("portal_snippet_reports_total", {"lang": lang}) or 0.0


def test_get_snippet_returns_code(client: TestClient) -> None:
    response = client.get(
        "/v1/snippets",
        params={"spec": "vonage-verify", "operation": "verifyCheck", "lang": "python"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["operation"] == "verifyCheck"
    assert body["template_version"] >= 1
    assert "devportal-snippet template=python" in body["code"]
    assert 'os.environ["VONAGE_API_SECRET"]' in body["code"]


def test_get_twilio_snippet(client: TestClient) -> None:
    response = client.get(
        "/v1/snippets",
        params={"spec": "twilio-verify-v2", "operation": "CreateVerification", "lang": "curl"},
    )
    assert response.status_code == 200
    assert "TWILIO_AUTH_TOKEN" in response.json()["code"]


def test_unknown_spec_is_404_problem(client: TestClient) -> None:
    response = client.get("/v1/snippets", params={"spec": "nope", "operation": "x", "lang": "go"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["parameter"] == "spec"
    assert "vonage-verify" in response.json()["choices"]


def test_unknown_operation_is_404_problem(client: TestClient) -> None:
    response = client.get(
        "/v1/snippets", params={"spec": "vonage-verify", "operation": "nope", "lang": "go"}
    )
    assert response.status_code == 404
    assert response.json()["parameter"] == "operation"
    assert "verifyRequest" in response.json()["choices"]


def test_unknown_lang_is_400_problem(client: TestClient) -> None:
    response = client.get(
        "/v1/snippets",
        params={"spec": "vonage-verify", "operation": "verifyCheck", "lang": "cobol"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["parameter"] == "lang"
    assert response.json()["choices"] == ["curl", "python", "javascript", "go", "java", "csharp"]


def test_missing_parameter_is_400_problem(client: TestClient) -> None:
    response = client.get("/v1/snippets", params={"spec": "vonage-verify"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


def test_report_is_stored_and_counted(client: TestClient, store: ReportStore) -> None:
    before = reports_counted("java")
    report = {
        "operation": "verifyCheck",
        "lang": "java",
        "template_version": 1,
        "text": "won't compile\n$(id)",
    }
    response = client.post("/v1/snippets/reports", json=report)
    assert response.status_code == 202
    assert reports_counted("java") == before + 1
    stored = store.all()[-1]
    assert stored["text"] == report["text"]
    assert stored["lang"] == "java"


def test_report_with_unknown_lang_is_rejected(client: TestClient, store: ReportStore) -> None:
    response = client.post(
        "/v1/snippets/reports",
        json={"operation": "x", "lang": "free text label", "template_version": 1, "text": "t"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert store.all() == []
    assert (
        REGISTRY.get_sample_value("portal_snippet_reports_total", {"lang": "free text label"})
        is None
    )


@pytest.mark.parametrize(
    "change",
    [
        {"text": ""},
        {"text": "x" * 4001},
        {"template_version": 0},
        {"operation": "a\nb"},
        {"extra": 1},
    ],
)
def test_invalid_report_is_rejected(client: TestClient, change: dict) -> None:
    report = {
        "operation": "verifyCheck",
        "lang": "go",
        "template_version": 1,
        "text": "bad",
        **change,
    }
    response = client.post("/v1/snippets/reports", json=report)
    assert response.status_code == 400


def test_report_store_is_bounded(client: TestClient, store: ReportStore) -> None:
    for number in range(5):
        report = {
            "operation": "verifyCheck",
            "lang": "go",
            "template_version": 1,
            "text": f"report {number}",
        }
        assert client.post("/v1/snippets/reports", json=report).status_code == 202
    texts = [record["text"] for record in store.all()]
    assert texts == ["report 2", "report 3", "report 4"]
    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == texts
