"""The PagerDuty and Opsgenie clients over real HTTP against the fake services: shapes, keys, failures, timeouts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.integrations.oncall_services import OnCallServiceError, OpsgenieOnCalls, PagerDutyOnCalls
from bot.sandbox.fake_oncall import FakeOnCallServices, OnCallPerson
from bot.sandbox.wsgi_server import RunningServer, start_background_server


@pytest.fixture
def fake() -> Iterator[tuple[FakeOnCallServices, RunningServer]]:
    services = FakeOnCallServices(pagerduty_token="pd", opsgenie_key="og")
    services.set_policy(
        "PPOLICY",
        [OnCallPerson("Second@Example.com", "Sol", 2), OnCallPerson("first@example.com", "Pat", 1)],
    )
    services.set_schedule("Platform (EU)", [OnCallPerson("eu@example.com", "Eve")])
    server = start_background_server(services)
    yield services, server
    server.stop()


def test_pagerduty_names_its_on_call_by_escalation_level_with_the_key_in_its_header(
    fake: tuple[FakeOnCallServices, RunningServer],
) -> None:
    services, server = fake
    assert PagerDutyOnCalls(server.url, "pd").on_call_emails("PPOLICY") == ["first@example.com", "second@example.com"]
    seen = services.requests[-1]
    assert seen.authorization == "Token token=pd"
    assert "include%5B%5D=users" in seen.query and "earliest=true" in seen.query


def test_opsgenie_names_its_on_call_by_schedule_name(fake: tuple[FakeOnCallServices, RunningServer]) -> None:
    services, server = fake
    assert OpsgenieOnCalls(server.url + "/", "og").on_call_emails("Platform (EU)") == ["eu@example.com"]
    assert services.requests[-1].path == "/v2/schedules/Platform (EU)/on-calls"
    assert services.requests[-1].authorization == "GenieKey og"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "pagerduty_token", "other"), "PagerDuty refused the API key (HTTP 401)"),
        (lambda s: setattr(s, "down", True), "PagerDuty answered HTTP 503"),
    ],
)
def test_pagerduty_failures_are_one_line(
    fake: tuple[FakeOnCallServices, RunningServer], setup: object, message: str
) -> None:
    services, server = fake
    setup(services)  # type: ignore[operator]
    with pytest.raises(OnCallServiceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PagerDutyOnCalls(server.url, "pd").on_call_emails("PPOLICY")


def test_an_unknown_policy_is_named_as_such(fake: tuple[FakeOnCallServices, RunningServer]) -> None:
    with pytest.raises(OnCallServiceError, match="PagerDuty knows no such schedule or policy"):
        PagerDutyOnCalls(fake[1].url, "pd").on_call_emails("PNOSUCH")


def test_a_slow_service_is_given_up_on_at_the_timeout(fake: tuple[FakeOnCallServices, RunningServer]) -> None:
    services, server = fake
    services.delay = 1.0
    with pytest.raises(OnCallServiceError, match=r"Opsgenie did not answer within 0\.2 s"):
        OpsgenieOnCalls(server.url, "og", timeout=0.2).on_call_emails("Platform (EU)")


def test_nothing_listening_is_a_line_too() -> None:
    with pytest.raises(OnCallServiceError, match="PagerDuty could not be reached"):
        PagerDutyOnCalls("http://127.0.0.1:9", "pd", timeout=0.5).on_call_emails("PPOLICY")
