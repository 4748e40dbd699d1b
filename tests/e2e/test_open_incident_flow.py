"""`/triage` → modal → submission → stored incident, root message, thread replies, on-call tag."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.models import Event, Incident, OutboxMessage, OutboxState
from bot.scheduler import tick
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack

DEADLINE = T0 + timedelta(hours=2)
THREAD_AT_OPEN = 4  # environment, on-call page, correlation, isolation


def filled_form(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "client": "Hartley & Moss LLP",
        "premium": ["premium"],
        "title": "Exhibit upload fails at 99%",
        "severity": "SEV1",
        "deadline": int(DEADLINE.timestamp()),
        "deadline_context": "court filing",
        "blocker": "The 250 MB exhibit bundle stops at 99% with 'Network error'.",
        "workflow": "document upload",
        "region": "eu-west",
        "file_size": "250 MB",
        "browser": "Chrome 126",
        "os": "Windows 11",
        "started": "today 09:40",
        "frequency": "every time",
        "already_tried": "Retried twice",
    }
    values.update(overrides)
    return values


def open_modal(stack: Stack) -> dict[str, Any]:
    started = time.monotonic()
    response = stack.platform.slash_command(AGENT, SUPPORT)
    assert response.status == 200
    assert time.monotonic() - started < 3, "acknowledged inside Slack's 3 s"
    modal: dict[str, Any] = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    return modal


def stack_idle(stack: Stack) -> bool:
    """True once the post-acknowledgement delivery attempt has been recorded."""
    with unit_of_work(stack.services.session_factory) as session:
        root = session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "root_message"))
        return root is not None and root.attempts > 0


def all_sent(stack: Stack) -> bool:
    with unit_of_work(stack.services.session_factory) as session:
        return {m.state for m in session.scalars(select(OutboxMessage))} == {OutboxState.SENT}


def count(stack: Stack, model: type) -> int:
    with unit_of_work(stack.services.session_factory) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_triage_opens_the_new_incident_modal(stack: Stack) -> None:
    modal = open_modal(stack)
    assert modal["title"]["text"] == "New incident"
    assert [c.method for c in stack.emulator.calls("views.open")] == ["views.open"]


def test_submitting_the_modal_opens_an_incident_with_root_message_and_thread(stack: Stack) -> None:
    modal = open_modal(stack)
    response = stack.platform.submit_view(modal["id"], AGENT, filled_form())
    assert response.status == 200 and not response.body, "an empty ack closes the modal"
    assert stack.emulator.current_modal(AGENT) is None

    replies = stack.wait_for_thread(THREAD_AT_OPEN)
    root = stack.root_messages()[0]
    assert root["text"].startswith("INC-1 SEV1 · Hartley &amp; Moss LLP: Exhibit upload fails at 99%")
    header = root["blocks"][0]["text"]["text"]
    assert header == "🔴 SEV1 · INC-1 · Exhibit upload fails at 99%"
    fields = " ".join(f["text"] for f in root["blocks"][1]["fields"])
    assert "*Status*\nNew" in fields and "⭐ Premium" in fields and "in 2 h" in fields and "court filing" in fields
    assert "File size: 250 MB · Browser: Chrome 126 · OS: Windows 11" in str(root["blocks"])

    assert "Environment recorded by <@UAGENT> for INC-1" in replies[0]["text"]
    assert "What else happened in the 6 h before INC-1 opened" in replies[2]["text"]
    assert "No other account reports anything similar" in replies[3]["text"]
    assert replies[1]["text"].startswith(f"📟 <@{ONCALL}> you are on call for *INC-1*.")
    assert "*SEV1*" in replies[1]["text"] and "in 2 h" in replies[1]["text"]

    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident)).one()
        assert (incident.channel_id, incident.root_ts, incident.reporter_id) == (SUPPORT, root["ts"], AGENT)
        assert incident.deadline_at == DEADLINE
        kinds = session.scalars(select(Event.kind).order_by(Event.id)).all()
        assert kinds == ["opened", "environment_recorded", "oncall_paged", "step_done", "correlation_checked"]


def test_invalid_input_is_answered_on_the_exact_fields_and_nothing_is_stored(stack: Stack) -> None:
    modal = open_modal(stack)
    form = filled_form(title="", deadline=int((T0 - timedelta(hours=1)).timestamp()), file_size="abc")
    response = stack.platform.submit_view(modal["id"], AGENT, form, enforce_required=False)
    body = response.json()
    assert response.status == 200 and body["response_action"] == "errors"
    assert set(body["errors"]) == {"title", "deadline", "file_size"}
    assert body["errors"]["file_size"] == "Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k."
    assert stack.emulator.current_modal(AGENT) is not None, "the modal stays open with what was typed"
    assert count(stack, Incident) == 0

    fixed = stack.platform.submit_view(modal["id"], AGENT, filled_form())
    assert fixed.status == 200 and not fixed.body
    assert count(stack, Incident) == 1


def test_a_repeated_submission_creates_one_incident_and_one_root_message(stack: Stack) -> None:
    modal = open_modal(stack)
    first = stack.platform.submit_view(modal["id"], AGENT, filled_form())
    retried = stack.platform.redeliver(first, retry_num=1)
    double_click = stack.platform.redeliver(first)
    assert (first.status, retried.status, double_click.status) == (200, 200, 200)
    stack.wait_for_thread(THREAD_AT_OPEN)
    stack.settle()  # every submission handled: a wrongly duplicated post would be posted by now
    assert count(stack, Incident) == 1
    assert len(stack.root_messages()) == 1


def test_typed_mentions_and_links_are_posted_as_text(stack: Stack) -> None:
    modal = open_modal(stack)
    hostile = "<!channel> call <@U0BOSS> <https://evil.example|click>"
    stack.platform.submit_view(
        modal["id"], AGENT, filled_form(title="<!here> upload broken", blocker=hostile, client="<!everyone>")
    )
    replies = stack.wait_for_thread(THREAD_AT_OPEN)
    posted = str(stack.root_messages()) + str(replies)
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<https://evil.example|click>"):
        assert raw not in posted
    assert "&lt;!channel&gt;" in posted and "&lt;https://evil.example|click&gt;" in posted


def test_a_failed_slack_post_keeps_the_incident_and_is_retried(stack: Stack) -> None:
    stack.emulator.fail_next("chat.postMessage", error="internal_error", status=500, times=2)
    modal = open_modal(stack)
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form()).status == 200
    stack.emulator.wait_for(lambda: len(stack.emulator.calls("chat.postMessage")) >= 2)
    stack.emulator.wait_for(lambda: stack_idle(stack))
    with unit_of_work(stack.services.session_factory) as session:
        pending = {
            p.purpose: p
            for p in session.scalars(select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING))
        }
        assert count(stack, Incident) == 1
        assert {"root_message", "environment_reply", "oncall_page"} <= set(pending)
        assert pending["root_message"].last_error == "internal_error"
        assert pending["oncall_page"].attempts == 0, "replies wait for their root message"
    assert stack.root_messages() == []

    def scheduler_ticks() -> bool:
        """What the running scheduler does every few seconds; the post-ack thread may take a share."""
        stack.clock.advance(timedelta(seconds=5))
        tick(stack.services)
        return all_sent(stack)

    stack.emulator.wait_for(scheduler_ticks)
    assert len(stack.root_messages()) == 1
    assert len(stack.wait_for_thread(THREAD_AT_OPEN)) == THREAD_AT_OPEN
    stack.settle()  # nothing left to send: a wrongly repeated post would be posted by now
    assert len(stack.root_messages()) == 1 and len(stack.wait_for_thread(THREAD_AT_OPEN)) == THREAD_AT_OPEN
