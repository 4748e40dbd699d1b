"""Jira tickets through the outbox, against a fake Jira Cloud whose search lags (eventually consistent).

The key Jira gives is kept in our database the moment it answers; the label search is only a second line, and
after a create whose answer was lost the ticket is not filed again until Jira's search has had time to show it.
Real databases (PostgreSQL, and SQLite where the record goes with the delivery) and the fake over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import make_engine, make_session_factory, unit_of_work
from bot.integrations.delivery_outcomes import DeliveryPurpose
from bot.integrations.jira_tracker import JiraTracker
from bot.integrations.outbox import OutboxDispatcher, enqueue_slack_call
from bot.integrations.slack import SlackGateway, build_web_client
from bot.integrations.workspaces import SlackWorkspaces
from bot.migrate import upgrade
from bot.models import JiraTicket, OutboxMessage, OutboxState
from bot.sandbox.fake_jira import FakeJira
from bot.sandbox.wsgi_server import start_background_server

USER, TOKEN = "bot@example.com", "jira-token"
LABEL = "triage-inc-1-engineering"
KEY = "INC-1:engineering:ticket"


class Killed(Exception):
    """Stands for the process dying: nothing after it in the delivery runs, its transaction rolls back."""


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def factory(request: pytest.FixtureRequest) -> sessionmaker[Session]:
    return request.getfixturevalue("session_factory" if request.param == "postgresql" else "sqlite_factory")


@pytest.fixture
def jira(clock: ManualClock) -> Iterator[tuple[FakeJira, str]]:
    """A fake Jira Cloud whose search lag runs on the tests' clock."""
    fake = FakeJira(user=USER, token=TOKEN, clock=lambda: clock.now().timestamp())
    with start_background_server(fake) as running:
        yield fake, running.url
    fake.clear_faults()


def dispatcher(factory: sessionmaker[Session], clock: ManualClock, url: str) -> OutboxDispatcher:
    unused_slack = SlackGateway(build_web_client(token="xoxb-unused", base_url="http://127.0.0.1:9/api/"))
    tracker = JiraTracker(url, USER, TOKEN, timeout=1.0, max_retries=0)
    return OutboxDispatcher(
        session_factory=factory, workspaces=SlackWorkspaces(unused_slack), clock=clock, jira=tracker
    )


def queue_ticket(factory: sessionmaker[Session], clock: ManualClock) -> None:
    with unit_of_work(factory) as session:
        enqueue_slack_call(
            session=session,
            key=KEY,
            operation="create_ticket",
            args={
                "project": "ENG",
                "summary": "[INC-1] SEV1 Acme: exhibit upload fails at 99%",
                "description": "Uploads stop at 99%.",
                "issue_type": "Bug",
                "priority": "Highest",
                "labels": ["triage-bot", LABEL],
                "dedupe_label": LABEL,
            },
            purpose="engineering_ticket",
            now=clock.now(),
            target="jira",
        )


def row(factory: sessionmaker[Session]) -> tuple[OutboxState, dict[str, Any] | None, str | None]:
    with unit_of_work(factory) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == KEY)).one()
        return message.state, message.result, message.last_error


def kept_key(factory: sessionmaker[Session]) -> str | None:
    with unit_of_work(factory) as session:
        ticket = session.get(JiraTicket, LABEL)
        return ticket.key if ticket else None


def creates(fake: FakeJira) -> int:
    return fake.requests().count(("POST", "/rest/api/2/issue"))


def test_a_create_whose_answer_was_lost_is_filed_once_while_search_lags(
    factory: sessionmaker[Session], clock: ManualClock, jira: tuple[FakeJira, str]
) -> None:
    fake, url = jira
    fake.set_search_lag(seconds=30)  # a new issue shows in search 30 s after it was made
    fake.set_delay(5.0, path_contains="/rest/api/2/issue", method="POST")  # Jira files it; the answer is lost
    queue_ticket(factory, clock)
    outbox = dispatcher(factory, clock, url)

    assert outbox.deliver_due().retrying == 1
    assert [i["key"] for i in fake.issues()] == ["ENG-1"]
    fake.clear_faults()

    clock.advance(timedelta(seconds=10))  # the first retry: search does not show ENG-1 yet
    assert outbox.deliver_due().retrying == 1
    state, _, error = row(factory)
    assert state == OutboxState.PENDING and creates(fake) == 1, "not filed again while search may lag"
    assert error is not None and error.startswith(f"Jira did not answer when the bot filed {LABEL}")

    clock.advance(timedelta(minutes=2))
    assert outbox.deliver_due().sent == 1

    state, result, _ = row(factory)
    assert (state, (result or {}).get("key")) == (OutboxState.SENT, "ENG-1")
    assert creates(fake) == 1 and len(fake.issues()) == 1, "one ticket"
    assert kept_key(factory) == "ENG-1"


def test_the_key_jira_gave_survives_a_crash_before_the_delivery_commits(
    session_factory: sessionmaker[Session], clock: ManualClock, jira: tuple[FakeJira, str]
) -> None:
    fake, url = jira
    fake.set_search_lag(searches=100)  # search will not show the issue for a long while
    dying = dispatcher(session_factory, clock, url)

    def dies_before_committing(session: Session, message: OutboxMessage) -> None:
        raise Killed  # after Jira answered, in the delivering transaction: as a killed process would leave it

    for purpose in DeliveryPurpose:
        dying.outcomes.register(purpose, dies_before_committing)
    queue_ticket(session_factory, clock)
    with pytest.raises(Killed):
        dying.deliver_due()
    assert row(session_factory)[0] == OutboxState.PENDING, "the delivery rolled back"

    report = dispatcher(session_factory, clock, url).deliver_due()

    assert creates(fake) == 1 and len(fake.issues()) == 1, "filed once"
    assert report.sent == 1 and row(session_factory)[1] == {"key": "ENG-1", "url": f"{url}/browse/ENG-1"}
    assert kept_key(session_factory) == "ENG-1", "the key Jira gave was kept through the crash"
    assert len([path for _, path in fake.requests() if "/search" in path]) == 1, "the kept key, not search, found it"


def test_a_refused_create_is_not_waited_for(
    factory: sessionmaker[Session], clock: ManualClock, jira: tuple[FakeJira, str]
) -> None:
    """A 4xx means nothing was filed: the wait after a lost answer does not apply."""
    fake, url = jira
    queue_ticket(factory, clock)
    fake.fail_next(429, retry_after=1, path_contains="/rest/api/2/issue", method="POST")
    outbox = dispatcher(factory, clock, url)
    assert outbox.deliver_due().retrying == 1

    clock.advance(timedelta(seconds=5))

    assert outbox.deliver_due().sent == 1 and creates(fake) == 2 and len(fake.issues()) == 1
