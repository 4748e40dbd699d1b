"""Each escalation keeps its own identity: a second feedback form, an engineering handoff beside feedback and a
follow-up that reads like an earlier one are each filed or posted, never merged into the first; the same request
sent again still counts once. Real PostgreSQL, the Slack emulator and a fake Jira Cloud over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from blocks.escalation import FeedbackForm
from blocks.incident_modals import StatusChange
from bot.clock import ManualClock
from bot.config import load_settings
from bot.db import unit_of_work
from bot.domain.escalations import AlreadyEscalated, escalations_of
from bot.models import (
    EscalationKind,
    EscalationState,
    Feedback,
    FeedbackTrack,
    IncidentStatus,
    JiraTicket,
    OutboxMessage,
)
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.fake_jira import FakeJira
from bot.sandbox.wsgi_server import start_background_server
from bot.services.container import Services
from bot.services.escalation.engineering import hand_off_to_engineering, handoff_draft
from bot.services.escalation.internal_notice import notify_internal_channel
from bot.services.escalation.product_feedback import file_feedback
from bot.services.incident_actions import change_status_and_severity
from bot.services.wiring import build_services
from tests.builders import open_test_incident

AGENT, PM = "UAGENT", "UPM"
ENG_CHANNEL = "CENG"
JIRA_USER, JIRA_TOKEN = "bot@example.com", "jira-token"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator()
    for user in (AGENT, PM):
        emulator.add_user(user, user.lower())
    emulator.add_channel("support", id="CSUPPORT", members=[AGENT, emulator.bot_user_id])
    emulator.add_channel("eng-escalations", id=ENG_CHANNEL, members=[emulator.bot_user_id])
    server = emulator.serve()
    yield emulator
    server.stop()


@pytest.fixture
def jira_server(clock: ManualClock) -> Iterator[tuple[FakeJira, str]]:
    fake = FakeJira(user=JIRA_USER, token=JIRA_TOKEN, clock=lambda: clock.now().timestamp())
    with start_background_server(fake) as running:
        yield fake, running.url


@pytest.fixture
def jira(jira_server: tuple[FakeJira, str]) -> FakeJira:
    return jira_server[0]


@pytest.fixture
def services(
    database_url: str, clean_db: Engine, clock: ManualClock, slack: SlackEmulator, jira_server: tuple[FakeJira, str]
) -> Services:
    settings = load_settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        slack_api_url=slack.api_url,
        database_url=database_url,
        jira_url=jira_server[1],
        jira_user=JIRA_USER,
        jira_api_token=JIRA_TOKEN,
        internal_channel_id=ENG_CHANNEL,
        product_areas=f"uploads={PM},billing",
    )
    return build_services(settings, clock=clock, engine=clean_db)


def deliver(services: Services) -> None:
    """What the outbox can send now (replies in the incident's thread wait: these incidents have no root post)."""
    for _ in range(10):
        if not services.outbox.deliver_due().busy:
            return
    raise AssertionError("the outbox kept finding work")


def feedback(services: Services, incident_id: int, submission: str, track: FeedbackTrack, area: str) -> None:
    form = FeedbackForm(track=track, area=area, use_case=f"{area}: what the client was doing")
    file_feedback(services, incident_id, AGENT, form, submission)


def tickets(services: Services) -> list[tuple[str, Any]]:
    """The Jira creates queued, by outbox key, with the label Jira is searched for."""
    with unit_of_work(services.session_factory) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.operation == "create_ticket").order_by(OutboxMessage.id)
        )
        return [(row.idempotency_key, row.payload["args"]["dedupe_label"]) for row in rows]


def filed(services: Services, incident_id: int) -> list[tuple[EscalationKind, EscalationState, str | None]]:
    with unit_of_work(services.session_factory) as session:
        return [(e.kind, e.state, e.external_ref) for e in escalations_of(session=session, incident_id=incident_id)]


# --- product feedback: once per submitted form ------------------------------------------------------------------


def test_a_second_feedback_form_on_the_same_incident_is_its_own_escalation_and_ticket(
    services: Services, jira: FakeJira
) -> None:
    incident_id = open_test_incident(services.session_factory, "view:1")
    feedback(services, incident_id, "V0FIRST", FeedbackTrack.MESSAGING, "uploads")
    feedback(services, incident_id, "V0SECOND", FeedbackTrack.STABILITY, "billing")
    feedback(services, incident_id, "V0FIRST", FeedbackTrack.MESSAGING, "uploads")  # the first form, sent again

    deliver(services)

    issues = jira.issues("PROD")
    assert [(i["key"], i["summary"]) for i in issues] == [
        ("PROD-1", "[Messaging] uploads: Exhibit upload fails at 99% (from INC-1)"),
        ("PROD-2", "[Stability] billing: Exhibit upload fails at 99% (from INC-1)"),
    ]
    assert filed(services, incident_id) == [
        (EscalationKind.PRODUCT_FEEDBACK, EscalationState.FILED, "PROD-1"),
        (EscalationKind.PRODUCT_FEEDBACK, EscalationState.FILED, "PROD-2"),
    ]
    queued = tickets(services)
    assert len({key for key, _ in queued}) == len({label for _, label in queued}) == 2
    assert [set(i["labels"]) & {label for _, label in queued} for i in issues] == [{queued[0][1]}, {queued[1][1]}]
    with unit_of_work(services.session_factory) as session:
        escalation_ids = [e.id for e in escalations_of(session=session, incident_id=incident_id)]
        forms = session.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert [(f.area, f.escalation_id) for f in forms] == list(
            zip(["uploads", "billing"], escalation_ids, strict=True)
        )
        assert len(session.scalars(select(JiraTicket)).all()) == 2, "each ticket kept under its own label"


def test_a_second_feedback_form_is_filed_after_the_first_ticket_is_already_in_jira(
    services: Services, jira: FakeJira
) -> None:
    """The second form's ticket is looked up (kept key, then Jira's search) by its own label, so the first is not
    taken for it."""
    incident_id = open_test_incident(services.session_factory, "view:1")
    feedback(services, incident_id, "V0FIRST", FeedbackTrack.MESSAGING, "uploads")
    deliver(services)
    feedback(services, incident_id, "V0SECOND", FeedbackTrack.MESSAGING, "uploads")  # the same words, another form
    deliver(services)

    assert [i["key"] for i in jira.issues("PROD")] == ["PROD-1", "PROD-2"]
    assert [ref for _, _, ref in filed(services, incident_id)] == ["PROD-1", "PROD-2"]


# --- engineering: one handoff per incident, its own ticket beside any feedback -------------------------------------


def test_an_engineering_handoff_beside_feedback_files_its_own_issue_and_a_second_one_is_refused(
    services: Services, jira: FakeJira
) -> None:
    incident_id = open_test_incident(services.session_factory, "view:1")
    feedback(services, incident_id, "V0FIRST", FeedbackTrack.MESSAGING, "uploads")
    deliver(services)
    form = handoff_draft(services, incident_id).form
    hand_off_to_engineering(services, incident_id, AGENT, form)
    deliver(services)

    with pytest.raises(AlreadyEscalated, match="INC-1 already has an engineering handoff"):
        hand_off_to_engineering(services, incident_id, AGENT, form)
    deliver(services)

    assert [i["key"] for i in jira.issues("ENG")] == ["ENG-1"]
    assert [i["key"] for i in jira.issues("PROD")] == ["PROD-1"]
    assert sorted(filed(services, incident_id), key=lambda row: row[0].value) == [
        (EscalationKind.ENGINEERING, EscalationState.FILED, "ENG-1"),
        (EscalationKind.PRODUCT_FEEDBACK, EscalationState.FILED, "PROD-1"),
    ]
    assert len({label for _, label in tickets(services)}) == 2


# --- the internal notice's thread: every follow-up, even one that reads like an earlier one -------------------------


def test_identical_follow_ups_to_the_internal_channel_are_each_posted(services: Services, slack: SlackEmulator) -> None:
    incident_id = open_test_incident(services.session_factory, "view:1")
    notify_internal_channel(services, incident_id, AGENT)
    deliver(services)
    notice = slack.messages(ENG_CHANNEL)[0]

    for status in (IncidentStatus.MITIGATED, IncidentStatus.INVESTIGATING) * 2:
        change_status_and_severity(
            services, incident_id, AGENT, StatusChange(status=status, severity=None, reason=None)
        )
    deliver(services)

    assert [reply["text"] for reply in slack.replies(ENG_CHANNEL, notice["ts"])] == [
        "🔁 INC-1 status new → mitigated",
        "🔁 INC-1 status mitigated → investigating",
        "🔁 INC-1 status investigating → mitigated",
        "🔁 INC-1 status mitigated → investigating",
    ]
    assert len(slack.messages(ENG_CHANNEL)) == 1, "follow-ups go in the notice's thread"
