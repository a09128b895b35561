"""Validation problems name the field at fault, including a body that is not JSON."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers


class Body(BaseModel):
    to: str


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    def echo(body: Body) -> dict[str, str]:
        return {"to": body.to}

    return TestClient(app)


@pytest.mark.parametrize(
    ("content", "offset"),
    [(b"not json", 0), (b'{"to": "a",', 11)],
)
def test_invalid_json_names_body(client: TestClient, content: bytes, offset: int) -> None:
    response = client.post("/echo", content=content, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert error["in"] == "body"
    assert error["message"].startswith("is not valid JSON")
    assert f"at character {offset}" in error["message"]
    assert "Content-Type: application/json" in error["message"]


def test_missing_field_is_named(client: TestClient) -> None:
    response = client.post("/echo", json={})

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "to"
    assert error["message"] == "Field required"
