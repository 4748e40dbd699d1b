"""`POST /hooks/deployments` over real HTTP on 127.0.0.1, storing into real PostgreSQL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.hooks import DEPLOYMENTS_PATH, MAX_BODY_BYTES, DeploymentHook
from bot.models import Deployment
from bot.sandbox.wsgi_server import start_background_server
from tests.conftest import T0

SECRET = "s3cret-hook-token"
DEPLOYMENT = {
    "service": "checkout-api",
    "version": "2.14.1",
    "environment": "production",
    "deployed_at": "2026-11-30T10:15:00+02:00",
    "link": "https://ci.example.com/runs/981",
    "commit": "ignored extra field",
}


@pytest.fixture
def hook_url(session_factory: sessionmaker[Session], clock: ManualClock) -> Iterator[str]:
    with start_background_server(DeploymentHook(session_factory, SECRET, clock)) as server:
        yield server.url + DEPLOYMENTS_PATH


def _request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read()), dict(exc.headers)


def _post(url: str, payload: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}", **headers}
    status, body, _ = _request(url, json.dumps(payload).encode(), headers)
    return status, body


def _stored(factory: sessionmaker[Session]) -> list[Deployment]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(Deployment).order_by(Deployment.id)))


def test_a_valid_report_is_stored_and_answered_with_its_id(
    hook_url: str, session_factory: sessionmaker[Session]
) -> None:
    status, body = _post(hook_url, DEPLOYMENT)

    assert status == 201
    [stored] = _stored(session_factory)
    assert body == {"id": stored.id, "service": "checkout-api", "deployed_at": "2026-11-30T08:15:00+00:00"}
    assert (stored.service, stored.version, stored.environment, stored.link) == (
        "checkout-api",
        "2.14.1",
        "production",
        "https://ci.example.com/runs/981",
    )
    assert stored.deployed_at == datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    assert stored.received_at == T0


def test_the_secret_header_works_too_and_a_repeat_returns_the_same_row(
    hook_url: str, session_factory: sessionmaker[Session]
) -> None:
    first = _post(hook_url, DEPLOYMENT, **{"X-Triage-Secret": SECRET, "Authorization": ""})
    second = _post(hook_url, DEPLOYMENT)

    assert first[0] == second[0] == 201
    assert first[1]["id"] == second[1]["id"]
    assert len(_stored(session_factory)) == 1


def test_a_report_without_a_time_is_dated_by_the_injected_clock(
    hook_url: str, session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    clock.advance(timedelta(minutes=7))
    status, body = _post(hook_url, {"service": "uploader", "version": "3.2.0"})

    assert (status, body["deployed_at"]) == (201, "2026-11-30T09:07:00+00:00")
    [stored] = _stored(session_factory)
    assert (stored.environment, stored.deployed_at, stored.link) == ("production", T0 + timedelta(minutes=7), None)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET}"},
        {"Authorization": "", "X-Triage-Secret": SECRET + "x"},
        {"Authorization": ""},
    ],
    ids=["wrong-bearer", "wrong-scheme", "wrong-header", "missing"],
)
def test_a_wrong_or_missing_secret_is_unauthorized_and_never_echoed(
    hook_url: str, session_factory: sessionmaker[Session], headers: dict[str, str]
) -> None:
    status, body = _post(hook_url, DEPLOYMENT, **headers)

    assert (status, body) == (401, {"error": "unauthorized"})
    assert _stored(session_factory) == []


def test_without_a_configured_secret_the_hook_is_disabled(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    with start_background_server(DeploymentHook(session_factory, None, clock)) as server:
        status, body = _post(server.url + DEPLOYMENTS_PATH, DEPLOYMENT)

    assert (status, body) == (503, {"error": "deployment hook disabled: set DEPLOY_HOOK_SECRET"})
    assert _stored(session_factory) == []


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"deployed_at": "2026-11-30T08:15:00"}, {"deployed_at": "needs a UTC offset, e.g. 2026-11-30T08:45:00Z"}),
        ({"service": None}, {"service": "must be a string"}),
        ({"link": "ftp://ci.example.com/runs/981"}, {"link": "must be an http(s) URL"}),
        (
            {"service": "  ", "version": "v" * 121, "deployed_at": 1764490500},
            {
                "service": "must not be empty",
                "version": "must be at most 120 characters",
                "deployed_at": "must be an ISO-8601 date-time with offset, e.g. 2026-11-30T08:45:00Z",
            },
        ),
    ],
    ids=["naive-time", "null-service", "bad-link", "several"],
)
def test_invalid_fields_are_named_with_what_is_wrong(
    hook_url: str, session_factory: sessionmaker[Session], changes: dict[str, Any], fields: dict[str, str]
) -> None:
    status, body = _post(hook_url, {**DEPLOYMENT, **changes})

    assert (status, body) == (400, {"error": "invalid deployment", "fields": fields})
    assert _stored(session_factory) == []


def test_a_missing_service_is_required(hook_url: str) -> None:
    payload = {key: value for key, value in DEPLOYMENT.items() if key != "service"}
    assert _post(hook_url, payload) == (400, {"error": "invalid deployment", "fields": {"service": "required"}})


@pytest.mark.parametrize(
    "body", [b"not json", b'["a", "list"]', b"\xff\xfe", b""], ids=["text", "list", "bytes", "empty"]
)
def test_a_body_that_is_not_a_json_object_is_rejected(hook_url: str, body: bytes) -> None:
    status, payload, _ = _request(hook_url, body, {"Authorization": f"Bearer {SECRET}"})
    assert (status, payload) == (400, {"error": "invalid deployment", "fields": {"body": "must be a JSON object"}})


def test_an_oversized_body_is_refused(hook_url: str, session_factory: sessionmaker[Session]) -> None:
    status, body = _post(hook_url, {**DEPLOYMENT, "notes": "x" * MAX_BODY_BYTES})

    assert (status, body) == (413, {"error": f"request body larger than {MAX_BODY_BYTES} bytes"})
    assert _stored(session_factory) == []


def test_only_post_is_allowed(hook_url: str) -> None:
    status, body, headers = _request(hook_url, method="GET", headers={"Authorization": f"Bearer {SECRET}"})
    assert (status, body, headers["Allow"]) == (405, {"error": "POST only"}, "POST")
