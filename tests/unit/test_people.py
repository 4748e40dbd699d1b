"""What Slack says about people, for the roles: asked at most once a minute per person and workspace."""

from __future__ import annotations

from typing import Any

import pytest

from bot.integrations.people import Person, SlackPeople
from bot.integrations.slack import SlackCallError, SlackGateway

USERS: dict[str, dict[str, Any]] = {
    "UADMIN": {"id": "UADMIN", "team_id": "T1", "is_admin": True},
    "UOWNER": {"id": "UOWNER", "team_id": "T1", "is_owner": True},
    "UGUEST": {"id": "UGUEST", "team_id": "T1", "is_restricted": True},
    "USINGLE": {"id": "USINGLE", "team_id": "T1", "is_ultra_restricted": True},
    "UGONE": {"id": "UGONE", "team_id": "T1", "deleted": True, "is_admin": True},
    "UPLAIN": {"id": "UPLAIN", "team_id": "T2"},
}


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failure: SlackCallError | None = None

    def call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, args))
        if self.failure is not None:
            raise self.failure
        if operation == "users.info":
            if args["user"] not in USERS:
                raise SlackCallError("user_not_found", retryable=False)
            return {"user": USERS[args["user"]]}
        return {"users": ["UADMIN", 7]}


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack()


def as_gateway(fake: FakeSlack) -> SlackGateway:
    return fake  # type: ignore[return-value]


def test_flags_become_roles(slack: FakeSlack) -> None:
    people = SlackPeople()
    ask = lambda user: people.person(as_gateway(slack), "T1", user)  # noqa: E731
    assert ask("UADMIN") == Person("UADMIN", found=True, is_admin=True, team_id="T1")
    assert ask("UOWNER").is_admin and not ask("UPLAIN").is_admin
    assert ask("UGUEST").is_guest and ask("USINGLE").is_guest and ask("UGONE").is_guest
    assert ask("UPLAIN") == Person("UPLAIN", found=True, team_id="T2")
    assert ask("UNOBODY") == Person("UNOBODY", found=False)
    assert people.group_members(as_gateway(slack), "T1", "SLEADS") == frozenset({"UADMIN"})


def test_answers_are_kept_a_minute_per_workspace(slack: FakeSlack) -> None:
    now = [100.0]
    people = SlackPeople(monotonic=lambda: now[0])
    for _ in range(3):
        people.person(as_gateway(slack), "T1", "UADMIN")
        people.group_members(as_gateway(slack), "T1", "SLEADS")
    people.person(as_gateway(slack), "T2", "UADMIN")
    assert [op for op, _ in slack.calls] == ["users.info", "usergroups.users.list", "users.info"]
    now[0] += 60.0
    people.person(as_gateway(slack), "T1", "UADMIN")
    assert len(slack.calls) == 4, "asked again after a minute: a demotion in Slack is seen"


def test_slack_failures_are_not_kept_and_reach_the_caller(slack: FakeSlack) -> None:
    people = SlackPeople()
    slack.failure = SlackCallError("ratelimited", retryable=True)
    with pytest.raises(SlackCallError):
        people.person(as_gateway(slack), "T1", "UADMIN")
    slack.failure = None
    assert people.person(as_gateway(slack), "T1", "UADMIN").is_admin
