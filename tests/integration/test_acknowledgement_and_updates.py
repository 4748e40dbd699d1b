"""Acknowledgement escalation and client updates: what is scheduled, what is paged, what the client is told."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import unit_of_work
from bot.domain.acknowledgement import (
    ACK_ESCALATION,
    AckEscalation,
    parse_minutes_by_severity,
    plan_ack_escalation,
    schedule_ack_escalation,
)
from bot.domain.client_updates import (
    CLIENT_UPDATE_DUE,
    MAX_UPDATE_CHARS,
    draft_client_update,
    record_client_update,
    update_reminder_wanted,
)
from bot.domain.incidents import TEXT_LIMITS, ReportField
from bot.domain.lifecycle import IncidentClosed, acknowledge, change_status
from bot.domain.triage import StepKind, StepOutcome, log_step
from bot.models import Incident, IncidentStatus, Severity, Timer
from tests.builders import ACK_WINDOWS, UPDATE_CADENCE, an_incident, events_of, open_test_incident
from tests.conftest import T0

NEW_YORK = ZoneInfo("America/New_York")  # EST (UTC-5) at T0
KOLKATA = ZoneInfo("Asia/Kolkata")  # IST (UTC+5:30)


def _timers(session: Session) -> list[Timer]:
    return list(session.scalars(select(Timer).order_by(Timer.id)))


# --- acknowledgement escalation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "window"),
    [(Severity.SEV1, 5), (Severity.SEV2, 15), (Severity.SEV3, 60), (Severity.SEV4, 240)],
)
def test_level_1_is_due_one_window_after_opening_whenever_it_is_scheduled(
    session_factory: sessionmaker[Session], severity: Severity, window: int
) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=severity)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_ack_escalation(session=session, incident=incident, windows=ACK_WINDOWS, now=T0 + timedelta(minutes=2))
    with unit_of_work(session_factory) as session:
        (timer,) = _timers(session)
        assert (timer.kind, timer.due_at, timer.dedupe_key, timer.sequence, timer.incident_id, timer.created_at) == (
            ACK_ESCALATION,
            T0 + timedelta(minutes=window),
            f"INC-{incident_id}:ack:1",
            1,
            incident_id,
            T0 + timedelta(minutes=2),
        )


def test_level_2_is_due_one_window_after_level_1_fired(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV2)
    fired = T0 + timedelta(minutes=15, seconds=7)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_ack_escalation(session=session, incident=incident, windows=ACK_WINDOWS, now=T0)
        schedule_ack_escalation(session=session, incident=incident, windows=ACK_WINDOWS, now=fired, level=2)
    with unit_of_work(session_factory) as session:
        assert [(t.dedupe_key, t.sequence, t.due_at) for t in _timers(session)] == [
            (f"INC-{incident_id}:ack:1", 1, T0 + timedelta(minutes=15)),
            (f"INC-{incident_id}:ack:2", 2, fired + timedelta(minutes=15)),
        ]


def test_scheduling_an_escalation_level_twice_keeps_the_first(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV1)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_ack_escalation(session=session, incident=incident, windows=ACK_WINDOWS, now=T0, level=2)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        schedule_ack_escalation(
            session=session, incident=incident, windows=ACK_WINDOWS, now=T0 + timedelta(hours=1), level=2
        )
    with unit_of_work(session_factory) as session:
        assert [(t.dedupe_key, t.due_at) for t in _timers(session)] == [
            (f"INC-{incident_id}:ack:2", T0 + timedelta(minutes=5))
        ]


def test_level_1_re_pages_the_on_call_engineer() -> None:
    incident = an_incident()
    plan = plan_ack_escalation(
        incident=incident,
        level=1,
        now=T0 + timedelta(minutes=15, seconds=30),
        oncall_id="UONCALL",
        next_user_id="UNEXT",
        escalation_channel_id="CESCALATE",
    )
    assert plan == AckEscalation(
        level=1,
        repage_user_id="UONCALL",
        next_user_id=None,
        escalation_channel_id=None,
        waited=timedelta(minutes=15, seconds=30),
    )


def test_level_2_pages_the_next_person_and_the_escalation_channel() -> None:
    plan = plan_ack_escalation(
        incident=an_incident(),
        level=2,
        now=T0 + timedelta(minutes=30),
        oncall_id="UONCALL",
        next_user_id="UNEXT",
        escalation_channel_id="CESCALATE",
    )
    assert plan == AckEscalation(
        level=2,
        repage_user_id=None,
        next_user_id="UNEXT",
        escalation_channel_id="CESCALATE",
        waited=timedelta(minutes=30),
    )


def test_level_2_does_not_page_the_on_call_engineer_again_as_the_next_person() -> None:
    plan = plan_ack_escalation(
        incident=an_incident(),
        level=2,
        now=T0 + timedelta(minutes=30),
        oncall_id="UONCALL",
        next_user_id="UONCALL",
        escalation_channel_id="CESCALATE",
    )
    assert plan is not None
    assert (plan.repage_user_id, plan.next_user_id, plan.escalation_channel_id) == (None, None, "CESCALATE")


def test_level_2_with_nobody_next_and_no_channel_still_plans_the_level() -> None:
    plan = plan_ack_escalation(
        incident=an_incident(),
        level=2,
        now=T0 + timedelta(minutes=30),
        oncall_id=None,
        next_user_id=None,
        escalation_channel_id=None,
    )
    assert plan == AckEscalation(2, None, None, None, timedelta(minutes=30))


@pytest.mark.parametrize(
    ("changes", "level"),
    [
        ({"acknowledged_at": T0 + timedelta(minutes=3), "owner_id": "UALICE"}, 1),
        ({"acknowledged_at": T0 + timedelta(minutes=3), "owner_id": "UALICE"}, 2),
        ({"status": IncidentStatus.RESOLVED}, 1),
        ({"status": IncidentStatus.CLOSED}, 2),
        ({}, 3),
        ({}, 4),
    ],
    ids=["acknowledged-l1", "acknowledged-l2", "resolved", "closed", "level-3", "level-4"],
)
def test_no_escalation_is_wanted_once_acknowledged_finished_or_past_the_last_level(
    changes: dict[str, object], level: int
) -> None:
    plan = plan_ack_escalation(
        incident=an_incident(**changes),
        level=level,
        now=T0 + timedelta(minutes=30),
        oncall_id="UONCALL",
        next_user_id="UNEXT",
        escalation_channel_id="CESCALATE",
    )
    assert plan is None


@pytest.mark.parametrize(
    "status", [IncidentStatus.INVESTIGATING, IncidentStatus.ESCALATED, IncidentStatus.MITIGATED], ids=str
)
def test_an_open_unacknowledged_incident_is_escalated_whatever_its_status(status: IncidentStatus) -> None:
    plan = plan_ack_escalation(
        incident=an_incident(status=status),
        level=1,
        now=T0 + timedelta(minutes=5),
        oncall_id="UONCALL",
        next_user_id=None,
        escalation_channel_id=None,
    )
    assert plan is not None and plan.repage_user_id == "UONCALL"


def test_minutes_by_severity_are_parsed_leniently() -> None:
    assert parse_minutes_by_severity("SEV1=5,SEV2=15,SEV3=60,SEV4=240") == ACK_WINDOWS
    assert parse_minutes_by_severity(" sev4 = 1440 , Sev3=240,SEV2=60, SEV1=0.5 ,") == {
        Severity.SEV1: timedelta(seconds=30),
        Severity.SEV2: timedelta(minutes=60),
        Severity.SEV3: timedelta(minutes=240),
        Severity.SEV4: timedelta(minutes=1440),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing SEV1, SEV2, SEV3, SEV4"),
        ("SEV1=5,SEV2=15", "missing SEV3, SEV4"),
        ("SEV1=5,SEV2=15,SEV3=60", "missing SEV4"),
        ("SEV1=five,SEV2=15,SEV3=60,SEV4=240", "'SEV1=five' is not SEVn=minutes"),
        ("SEV1=5,SEV2=,SEV3=60,SEV4=240", "'SEV2=' is not SEVn=minutes"),
        ("SEV1=5,SEV2=15,SEV3=60,SEV4", "'SEV4' is not SEVn=minutes"),
        ("SEV1=5,SEV2=15,SEV3=60,SEV5=240", "'SEV5=240' is not SEVn=minutes"),
        ("SEV1=0,SEV2=15,SEV3=60,SEV4=240", "'SEV1=0' must be a positive number of minutes"),
        ("SEV1=5,SEV2=-15,SEV3=60,SEV4=240", "'SEV2=-15' must be a positive number of minutes"),
    ],
)
def test_invalid_minutes_by_severity_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_minutes_by_severity(text)
    assert str(raised.value) == message


@pytest.mark.parametrize("minutes", ["inf", "nan", "1e300"])
def test_non_finite_or_absurd_minutes_are_a_value_error_naming_the_part(minutes: str) -> None:
    """Settings validators only turn ValueError into a validation message; anything else crashes start-up."""
    with pytest.raises(ValueError, match=f"'SEV1={minutes}'"):
        parse_minutes_by_severity(f"SEV1={minutes},SEV2=15,SEV3=60,SEV4=240")


# --- client updates ---------------------------------------------------------------------------------------------------


def test_the_draft_tells_the_client_what_we_know_do_and_when_we_write_next(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV1)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        acknowledge(session=session, incident=incident, actor_id="UALICE", now=T0 + timedelta(minutes=2))
        for kind, description, outcome in [
            (StepKind.HYPOTHESIS, "the upload proxy times out", StepOutcome.RULED_OUT),
            (StepKind.REPRODUCTION, "the failure reproduces with any file over 200 MB", StepOutcome.CONFIRMED),
            (StepKind.STEP, "retrying does not help", StepOutcome.INCONCLUSIVE),
        ]:
            log_step(
                session=session,
                incident=incident,
                actor_id="UALICE",
                kind=kind,
                description=description,
                outcome=outcome,
                now=T0 + timedelta(minutes=5),
            )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        text = draft_client_update(
            incident=incident,
            events=events_of(session, incident_id),
            now=T0 + timedelta(minutes=10),
            zone=NEW_YORK,
            cadence=UPDATE_CADENCE,
        )
    assert text == "\n".join(
        [
            "Hi Hartley & Moss LLP team,",
            "",
            "An update on “Exhibit upload fails at 99%”.",
            "",
            "What we know: Uploading the 250 MB exhibit bundle stops at 99% with 'Network error'."
            " We have reproduced the problem on our side.",
            "What we are doing: Our engineers are actively investigating and working to reproduce the problem.",
            "Your deadline (court filing) is Mon 30 Nov 06:00 EST, and we are treating it as our priority.",
            "",
            "We will update you again by 04:40 EST, sooner if anything changes.",
        ]
    )


def test_the_draft_keeps_internal_findings_internal_and_no_deadline_line_without_a_deadline(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(
        session_factory, "view:1", severity=Severity.SEV3, deadline_at=None, blocker="Exports are slow"
    )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        for i, outcome in enumerate(
            [StepOutcome.CONFIRMED, StepOutcome.CONFIRMED, StepOutcome.RULED_OUT, StepOutcome.CONFIRMED]
        ):
            log_step(
                session=session,
                incident=incident,
                actor_id="UALICE",
                kind=StepKind.STEP,
                description=f"finding {i}",
                outcome=outcome,
                now=T0 + timedelta(minutes=i),
            )
        change_status(
            session=session,
            incident=incident,
            to=IncidentStatus.MITIGATED,
            actor_id="UALICE",
            now=T0 + timedelta(hours=1),
        )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        text = draft_client_update(
            incident=incident,
            events=events_of(session, incident_id),
            now=T0 + timedelta(hours=1),
            zone=KOLKATA,
            cadence=UPDATE_CADENCE,
        )
    lines = text.split("\n")
    assert "What we know: Exports are slow." in lines, "confirmed troubleshooting steps are not the client's news"
    assert "finding" not in text
    assert "What we are doing: A workaround is in place while we work on the permanent fix." in lines
    assert not any("deadline" in line for line in lines)
    # 10:00 UTC + 240 min = 14:00 UTC = 19:30 in Kolkata
    assert lines[-1] == "We will update you again by 19:30 IST, sooner if anything changes."


def test_the_draft_never_copies_reproduction_detail_from_the_audit_trail(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV2)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        for kind, description in [
            (StepKind.REPRODUCTION, "staging: proxy returns 413 for bundles over 200 MB"),
            (StepKind.HYPOTHESIS, "nginx client_max_body_size too low on upload-proxy-2"),
            (StepKind.STEP, "proxy returns 413 in the HAR"),
        ]:
            log_step(
                session=session,
                incident=incident,
                actor_id="UALICE",
                kind=kind,
                description=description,
                outcome=StepOutcome.CONFIRMED,
                now=T0 + timedelta(minutes=5),
            )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        events = events_of(session, incident_id)
        assert any("proxy returns 413" in e.summary for e in events), "the audit trail has it"
        text = draft_client_update(
            incident=incident, events=events, now=T0 + timedelta(minutes=10), zone=NEW_YORK, cadence=UPDATE_CADENCE
        )
    for internal in ("413", "proxy", "nginx", "client_max_body_size", "staging", "HAR"):
        assert internal not in text
    assert "We have reproduced the problem on our side. We have identified a likely cause." in text


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (IncidentStatus.NEW, "Our team has picked this up and is gathering the details needed to reproduce it."),
        (IncidentStatus.ESCALATED, "We have escalated this to our engineering team, who are working on it now."),
        (IncidentStatus.RESOLVED, "The issue is resolved; we are confirming everything works as expected."),
    ],
    ids=str,
)
def test_the_draft_says_what_we_are_doing_for_the_status(status: IncidentStatus, sentence: str) -> None:
    incident = an_incident(status=status, deadline_at=None)
    text = draft_client_update(incident=incident, events=[], now=T0, zone=NEW_YORK, cadence=UPDATE_CADENCE)
    assert f"What we are doing: {sentence}" in text.split("\n")
    assert "What we know: Uploads stop at 99%." in text
    assert "We have reproduced" not in text and "likely cause" not in text
    assert text.endswith("We will update you again by 05:00 EST, sooner if anything changes.")


def test_a_draft_for_the_longest_allowed_blocker_still_fits_and_ends_with_the_promise() -> None:
    """The draft fills a Slack input limited to MAX_UPDATE_CHARS; cutting it must not drop when we write next."""
    blocker = "Uploading any exhibit stops at 99% with a network error. " * 43  # 2450 characters: a valid report
    assert len(blocker.strip()) <= TEXT_LIMITS[ReportField.BLOCKER]
    incident = an_incident(
        blocker=blocker.strip(), deadline_at=T0 + timedelta(hours=2), deadline_context="court filing"
    )

    text = draft_client_update(incident=incident, events=[], now=T0, zone=NEW_YORK, cadence=UPDATE_CADENCE)

    assert len(text) <= MAX_UPDATE_CHARS
    assert "INC-7" not in text, "the incident's key is internal"
    assert "What we are doing: Our team has picked this up" in text
    assert "Your deadline (court filing) is Mon 30 Nov 06:00 EST" in text
    assert text.endswith("We will update you again by 05:00 EST, sooner if anything changes.")


def test_recording_an_update_sets_the_next_due_time_records_the_text_and_schedules_one_reminder(
    session_factory: sessionmaker[Session],
) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV2)
    sent_at = T0 + timedelta(minutes=20)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        due = record_client_update(
            session=session,
            incident=incident,
            actor_id="UALICE",
            text="Hi team, we are on it.",
            now=sent_at,
            cadence=UPDATE_CADENCE,
        )
        assert due == sent_at + timedelta(minutes=60)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert (incident.next_update_due_at, incident.updated_at) == (due, sent_at)
        (event,) = events_of(session, incident_id, "client_update")
        assert (event.actor_id, event.at, event.summary) == (
            "UALICE",
            sent_at,
            "Client update sent; next due 10:20 UTC",
        )
        assert event.details == {"text": "Hi team, we are on it.", "next_due": "2026-11-30T10:20:00+00:00"}
        (timer,) = _timers(session)
        assert (timer.kind, timer.due_at, timer.incident_id, timer.dedupe_key, timer.done_at) == (
            CLIENT_UPDATE_DUE,
            due,
            incident_id,
            f"INC-{incident_id}:update:2026-11-30T10:20:00+00:00",
            None,
        )
        assert update_reminder_wanted(incident, timer.due_at) is True


def test_recording_the_same_update_twice_schedules_the_reminder_once(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV1)
    for _ in range(2):
        with unit_of_work(session_factory) as session:
            record_client_update(
                session=session,
                incident=session.get_one(Incident, incident_id),
                actor_id="UALICE",
                text="Update",
                now=T0,
                cadence=UPDATE_CADENCE,
            )
    with unit_of_work(session_factory) as session:
        assert [t.due_at for t in _timers(session)] == [T0 + timedelta(minutes=30)]


def test_a_newer_update_supersedes_the_reminder_of_the_older_one(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV1)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        first = record_client_update(
            session=session, incident=incident, actor_id="UALICE", text="First", now=T0, cadence=UPDATE_CADENCE
        )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        second = record_client_update(
            session=session,
            incident=incident,
            actor_id="UBOB",
            text="Second",
            now=T0 + timedelta(minutes=20),
            cadence=UPDATE_CADENCE,
        )
    assert (first, second) == (T0 + timedelta(minutes=30), T0 + timedelta(minutes=50))
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        old_timer, new_timer = _timers(session)
        assert (old_timer.due_at, new_timer.due_at) == (first, second)
        assert update_reminder_wanted(incident, old_timer.due_at) is False
        assert update_reminder_wanted(incident, new_timer.due_at) is True
        assert [e.details["text"] for e in events_of(session, incident_id, "client_update")] == ["First", "Second"]


def test_no_reminder_is_wanted_once_the_incident_is_resolved(session_factory: sessionmaker[Session]) -> None:
    incident_id = open_test_incident(session_factory, "view:1", severity=Severity.SEV1)
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        due = record_client_update(
            session=session, incident=incident, actor_id="UALICE", text="Update", now=T0, cadence=UPDATE_CADENCE
        )
        change_status(
            session=session,
            incident=incident,
            to=IncidentStatus.RESOLVED,
            actor_id="UALICE",
            now=T0 + timedelta(minutes=9),
        )
    with unit_of_work(session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        assert incident.next_update_due_at == due
        assert update_reminder_wanted(incident, due) is False


def test_no_reminder_is_wanted_when_none_was_promised() -> None:
    assert update_reminder_wanted(an_incident(), T0) is False


@pytest.mark.parametrize("status", [IncidentStatus.RESOLVED, IncidentStatus.CLOSED], ids=str)
def test_a_finished_incident_gets_no_more_updates(
    session_factory: sessionmaker[Session], status: IncidentStatus
) -> None:
    incident_id = open_test_incident(session_factory, "view:1")
    with unit_of_work(session_factory) as session:
        session.get_one(Incident, incident_id).status = status
    with unit_of_work(session_factory) as session, pytest.raises(IncidentClosed, match="can't be updated any more"):
        record_client_update(
            session=session,
            incident=session.get_one(Incident, incident_id),
            actor_id="UALICE",
            text="Update",
            now=T0,
            cadence=UPDATE_CADENCE,
        )
    with unit_of_work(session_factory) as session:
        assert _timers(session) == []
        assert events_of(session, incident_id, "client_update") == []
