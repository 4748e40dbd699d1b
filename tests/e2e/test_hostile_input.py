"""Hostile input over real signed HTTP: forged and stale requests, oversized and malformed payloads,
mrkdwn/mention injection in every free-text field, and random modal states (hypothesis)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, func, select

from blocks.incident_modals import StatusChange
from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.domain.incidents import TEXT_LIMITS, ReportField
from bot.domain.resolution import MAX_FOLLOW_UP
from bot.domain.triage import StepKind
from bot.models import Event, Incident, IncidentStatus
from bot.sandbox.platform import PlatformResponse, build_state_values, sign_request
from bot.services.incident_actions import change_status_and_severity
from tests.e2e.conftest import AGENT, ONCALL, SIGNING_SECRET, SUPPORT, Stack
from tests.e2e.hostile import (
    FORGED_USER,
    FORM,
    INJECTION,
    hostile,
    injections,
    input_block_ids,
    interaction,
    modal_states,
    post_payload,
    post_raw,
    posted_text,
    settle,
    shown_tag,
    submit_state,
    table_counts,
)
from tests.e2e.test_escalation import ENG_CHANNEL, LEAD, Escalating, _stack, choose_path
from tests.e2e.test_open_incident_flow import count, filled_form, open_modal
from tests.e2e.test_triage_workflow import open_incident, root_fields, wait_for_reply


def still_serving(stack: Stack) -> None:
    """A valid request right after the hostile one is answered as usual."""
    before = len(stack.emulator.ephemerals(SUPPORT, AGENT))
    response = stack.platform.slash_command(AGENT, SUPPORT, text="help")
    assert response.status == 200 and response.elapsed < 3
    assert len(stack.emulator.ephemerals(SUPPORT, AGENT)) == before + 1


def nothing_happened(stack: Stack, counts: dict[str, int], calls: int, ephemerals: int) -> None:
    time.sleep(0.2)  # give wrongly started work the chance to show up
    assert table_counts(stack) == counts, "nothing stored"
    assert len(stack.emulator.calls()) == calls, "nothing posted"
    assert len(stack.emulator.ephemerals()) == ephemerals


# ------------------------------------------------------------------------------------------ 1. forged and stale


def forged_deliveries(stack: Stack, send: Any) -> list[tuple[str, Any]]:
    """The same request delivered with each way a forgery or a replay can look; (what, response)."""
    now = int(time.time())
    return [
        ("wrong secret", send(bad_signature=True)),
        ("6 min old", send(timestamp=now - 6 * 60)),
        ("6 min ahead", send(timestamp=now + 6 * 60)),
    ]


def test_forged_and_stale_slash_commands_are_refused_and_change_nothing(stack: Stack) -> None:
    counts, calls = settle(stack), len(stack.emulator.calls())
    for what, response in forged_deliveries(stack, lambda **k: stack.platform.slash_command(AGENT, SUPPORT, **k)):
        assert response.status == 401, what
    fields = stack.platform.slash_command_fields(AGENT, SUPPORT, text="")
    body = urlencode(fields)
    stamp = str(int(time.time()))
    variants = {
        "no signature": post_raw(stack, body, signature=""),
        "no timestamp": post_raw(stack, body, timestamp="", signature=sign_request(SIGNING_SECRET, stamp, body)),
        "signature of another body": post_raw(
            stack, body, timestamp=stamp, signature=sign_request(SIGNING_SECRET, stamp, body + "&x=1")
        ),
        "not a v0 signature": post_raw(stack, body, signature="v1=" + "0" * 64),
        "timestamp not a number": post_raw(
            stack, body, timestamp="soon", signature=sign_request(SIGNING_SECRET, "soon", body)
        ),
    }
    for what, response in variants.items():
        assert response.status == 401, f"{what}: {response.status} {response.body[:200]}"
    nothing_happened(stack, counts, calls, 0)
    assert stack.emulator.current_modal(AGENT) is None
    still_serving(stack)


def test_forged_and_stale_view_submissions_store_nothing(stack: Stack) -> None:
    modal = open_modal(stack)
    counts, calls = settle(stack), len(stack.emulator.calls())
    submit = lambda **k: stack.platform.submit_view(modal["id"], AGENT, filled_form(), **k)  # noqa: E731
    for what, response in forged_deliveries(stack, submit):
        assert response.status == 401, what
    nothing_happened(stack, counts, calls, 0)
    assert stack.emulator.current_modal(AGENT) is not None, "the form stays open"
    assert stack.root_messages() == []
    assert stack.platform.submit_view(modal["id"], AGENT, filled_form()).status == 200
    assert table_counts(stack)["incidents"] == 1


def test_forged_and_stale_button_clicks_change_nothing(stack: Stack) -> None:
    _, ts = open_incident(stack)
    counts, calls = settle(stack), len(stack.emulator.calls())
    ephemerals = len(stack.emulator.ephemerals())
    click = lambda **k: stack.platform.click_button(  # noqa: E731
        ONCALL, "incident_acknowledge", channel_id=SUPPORT, message_ts=ts, **k
    )
    for what, response in forged_deliveries(stack, click):
        assert response.status == 401, what
    nothing_happened(stack, counts, calls, ephemerals)
    assert root_fields(stack, ts)["Owner"] == "_Unassigned_"
    assert click().status == 200
    stack.emulator.wait_for(lambda: root_fields(stack, ts)["Owner"] == f"<@{ONCALL}>")


# ------------------------------------------------------------------------------------------ 2. oversized, malformed


def test_an_oversized_body_is_refused_with_413(stack: Stack) -> None:
    fields = stack.platform.slash_command_fields(AGENT, SUPPORT, text="help " + "x" * 2_000_000)
    response = post_raw(stack, urlencode(fields))
    assert response.status == 413
    payload = interaction(stack, "block_actions", AGENT)
    payload["actions"] = [{"action_id": "incident_acknowledge", "value": "1" * 2_000_000, "type": "button"}]
    assert post_payload(stack, payload).status == 413
    assert table_counts(stack)["events"] == 0 and stack.emulator.calls() == []
    still_serving(stack)


MALFORMED_BODIES: dict[str, tuple[str, str]] = {
    "truncated JSON in payload=": (urlencode({"payload": '{"type": "view_submission", "view": {"id": "V1", '}), FORM),
    "payload= is not JSON": (urlencode({"payload": "not json at all"}), FORM),
    "payload= is a JSON list": (urlencode({"payload": "[1, 2, 3]"}), FORM),
    "payload= is a JSON string": (urlencode({"payload": '"view_submission"'}), FORM),
    "payload= is null": (urlencode({"payload": "null"}), FORM),
    "empty body": ("", FORM),
    "form without command": (urlencode({"text": "help", "user_id": AGENT}), FORM),
    "JSON body cut short": ('{"type": "event_callback", "event": {', "application/json"),
    "JSON body is a list": ("[]", "application/json"),
    "not UTF-8": ("", "application/octet-stream"),
    "team is a string": (urlencode({"payload": json.dumps({"type": "block_actions", "team": "T1"})}), FORM),
    "user is a list": (urlencode({"payload": json.dumps({"type": "view_submission", "user": [1]})}), FORM),
    "authorizations is not a list": ('{"type": "event_callback", "authorizations": 5}', "application/json"),
}


@pytest.mark.parametrize("name", list(MALFORMED_BODIES))
def test_malformed_bodies_get_a_4xx_or_a_plain_ack_never_a_500(stack: Stack, name: str) -> None:
    body, content_type = MALFORMED_BODIES[name]
    data: str | bytes = b"\xff\xfe\xfa payload=%7B" if name == "not UTF-8" else body
    response = post_raw(stack, data, content_type=content_type)
    assert response.status in (400, 401, 404), f"{response.status}: {response.body[:300]}"
    assert response.elapsed < 3
    assert table_counts(stack)["incidents"] == 0
    still_serving(stack)


def test_a_content_length_that_is_not_a_number_is_a_400(stack: Stack) -> None:
    host, port = stack.bot_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: lots\r\nConnection: close\r\n\r\ncommand=%2Ftriage"
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer[:100]
    still_serving(stack)


def unhandled_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What reached the one error handler: a listener that crashed instead of answering."""
    return [r.getMessage() for r in caplog.records if r.name == "bot.app" and r.levelno >= logging.ERROR]


def new_incident_view(stack: Stack) -> dict[str, Any]:
    """The new-incident modal as Slack shows it (opened through /triage, then closed again)."""
    modal = open_modal(stack)
    stack.emulator.close_view(modal["id"])
    return modal


def garbage_submissions(view: dict[str, Any]) -> dict[str, Any]:
    """view_submission bodies (besides the envelope) that no real Slack sends."""
    good = build_state_values(view.get("blocks", []), filled_form() if view.get("blocks") else {})
    return {
        "unknown callback": {"view": {**view, "callback_id": "no_such_form", "state": {"values": good}}},
        "no view": {},
        "view is a string": {"view": "V123"},
        "view without state": {"view": {k: v for k, v in view.items() if k != "state"}},
        "values is a string": {"view": {**view, "state": {"values": "garbage"}}},
        "values is a list": {"view": {**view, "state": {"values": [1, 2]}}},
        "block is a list": {"view": {**view, "state": {"values": {"client": ["Acme"]}}}},
        "element is a string": {"view": {**view, "state": {"values": {"title": {"title": "Upload fails"}}}}},
        "value is a number": {"view": {**view, "state": {"values": {"client": {"client": {"value": 42}}}}}},
        "option is a string": {
            "view": {**view, "state": {"values": {"severity": {"severity": {"selected_option": "SEV1"}}}}}
        },
        "options is a dict": {
            "view": {**view, "state": {"values": {"premium": {"premium": {"selected_options": {"v": 1}}}}}}
        },
        "options hold strings": {
            "view": {**view, "state": {"values": {"premium": {"premium": {"selected_options": ["premium"]}}}}}
        },
        "date time is text": {
            "view": {**view, "state": {"values": {"deadline": {"deadline": {"selected_date_time": "tomorrow"}}}}}
        },
        "date time is a list": {
            "view": {**view, "state": {"values": {"deadline": {"deadline": {"selected_date_time": [1]}}}}}
        },
        "date time past year 9999": {
            "view": {**view, "state": {"values": {"deadline": {"deadline": {"selected_date_time": 10**12}}}}}
        },
        "date time before year 1": {
            "view": {**view, "state": {"values": {"deadline": {"deadline": {"selected_date_time": -(10**12)}}}}}
        },
        "private_metadata is not JSON": {"view": {**view, "private_metadata": "{", "state": {"values": good}}},
        "private_metadata has no channel": {"view": {**view, "private_metadata": "{}", "state": {"values": good}}},
        "user is missing": {"user": None},
    }


GARBAGE_SUBMISSIONS = list(garbage_submissions({}))
# What each is answered with; the others are answered on the form (`response_action: errors` on their inputs).
REFUSED_GARBAGE = {
    "unknown callback": 404,
    "no view": 400,
    "view is a string": 400,
    "view without state": 400,
    "values is a string": 400,
    "values is a list": 400,
    "user is missing": 400,
}


@pytest.mark.parametrize("name", GARBAGE_SUBMISSIONS)
def test_garbage_view_submissions_are_refused_or_answered_on_the_form(
    stack: Stack, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    view = new_incident_view(stack)
    payload = interaction(stack, "view_submission", AGENT)
    payload.update(garbage_submissions(view)[name])
    payload = {k: v for k, v in payload.items() if v is not None}
    response = post_payload(stack, payload)
    assert response.elapsed < 3
    if name in REFUSED_GARBAGE:
        assert response.status == REFUSED_GARBAGE[name], f"{response.status}: {response.body[:300]}"
    else:
        assert response.status == 200, f"{response.status}: {response.body[:300]}"
        answer = response.json()
        assert answer["response_action"] == "errors" and set(answer["errors"]) <= input_block_ids(view), answer
    assert table_counts(stack)["incidents"] == 0
    still_serving(stack)
    settle(stack)
    assert unhandled_errors(caplog) == []


BUTTON_VALUES = ["abc", "", "-1", "1.5", "²", "٣", "1e3", "9" * 30, "0x1", "null", "2147483648"]


def test_buttons_with_values_that_are_not_incident_ids_are_answered_without_a_crash(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    _, ts = open_incident(stack)
    counts = settle(stack)
    answers: dict[tuple[str, str], int] = {}
    for value in BUTTON_VALUES:
        for action in ("incident_acknowledge", "incident_log_step", "incident_resolve", "timebox_extend"):
            payload = interaction(stack, "block_actions", ONCALL)
            payload["actions"] = [{"action_id": action, "block_id": "b", "type": "button", "value": value}]
            payload["response_url"] = stack.emulator.new_response_url(SUPPORT, ONCALL)
            response = post_payload(stack, payload)
            assert response.elapsed < 3
            answers[(action, value)] = response.status
    for value in ("x:y", "1:", ":1", "99999999999:1", "²:1", "1:²"):
        payload = interaction(stack, "block_actions", ONCALL)
        payload["actions"] = [{"action_id": "checkin_worked", "block_id": "b", "type": "button", "value": value}]
        payload["response_url"] = stack.emulator.new_response_url(SUPPORT, ONCALL)
        answers[("checkin_worked", value)] = post_payload(stack, payload).status
    assert {key: status for key, status in answers.items() if status != 200} == {}
    for actions in ([], "garbage", [None], [{"action_id": 5}], [{"value": "1"}]):
        payload = interaction(stack, "block_actions", ONCALL)
        payload["actions"] = actions
        response = post_payload(stack, payload)
        assert response.status in (200, 400, 404), (actions, response.status)
    assert settle(stack) == counts, "nothing stored"
    told = [e["text"] for e in stack.emulator.ephemerals(SUPPORT, ONCALL)]
    refusals = ("no longer", "isn't available here", "nothing more to record")
    assert len(told) == len(answers) and all(any(r in t for r in refusals) for t in told), set(told)
    assert root_fields(stack, ts)["Owner"] == "_Unassigned_"
    assert stack.emulator.current_modal(ONCALL) is None
    assert unhandled_errors(caplog) == []
    still_serving(stack)


# ------------------------------------------------------------------------------------------ 3. injection


@pytest.fixture
def esc(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    """Internal channel, product areas and a fake Jira: every escalation path posts something."""
    yield from _stack(database_url, clean_db, clock)


NEW_INCIDENT_TEXTS = [f.value for f in TEXT_LIMITS if f != ReportField.FILE_SIZE]
DETAILS_TEXTS = ["workflow", "region", "browser", "os", "started", "already_tried"]


def modal_after(stack: Stack, action: str, ts: str, title: str, user: str = AGENT) -> dict[str, Any]:
    """Click `action` on the root message; the modal it opens."""
    before = stack.emulator.current_modal(user)
    stack.platform.click_button(user, action, channel_id=SUPPORT, message_ts=ts)
    modal: dict[str, Any] = stack.emulator.wait_for(
        lambda: (m := stack.emulator.current_modal(user)) is not None and m != before and m
    )
    assert modal["title"]["text"] == title
    return modal


def submitted(stack: Stack, modal: dict[str, Any], values: dict[str, Any], user: str = AGENT) -> Any:
    response = stack.platform.submit_view(modal["id"], user, values)
    assert response.status == 200 and response.elapsed < 3, response.body
    assert (response.json() or {}).get("response_action") != "errors", response.body
    return response.json()


def ask(stack: Stack, text: str, user: str = AGENT) -> None:
    response = stack.platform.slash_command(user, SUPPORT, text=text)
    assert response.status == 200 and response.elapsed < 3


def rejected_calls(stack: Stack) -> list[str]:
    """Web API calls the emulator refused (invalid blocks, too long): what Slack would not have shown."""
    return [f"{c.method}: {c.response.get('error')}" for c in stack.emulator.calls() if not c.response.get("ok")]


def assert_posted_as_text(stack: Stack, tags: list[str], answers: list[Any]) -> None:
    settle(stack)
    assert injections(stack, answers) == []
    shown = posted_text(stack, answers)
    assert [tag for tag in tags if shown_tag(tag) not in shown] == [], "every field was shown somewhere, escaped"
    assert rejected_calls(stack) == []


def test_mentions_and_links_typed_into_the_new_incident_form_are_posted_as_text(esc: Escalating) -> None:
    stack = esc.stack
    form = filled_form(**{f: hostile(f, TEXT_LIMITS[ReportField(f)]) for f in NEW_INCIDENT_TEXTS})
    _, ts = open_incident(stack, **form)
    answers: list[Any] = []

    details = modal_after(stack, "incident_add_details", ts, "Add details")
    submitted(stack, details, {f: hostile(f"details-{f}", TEXT_LIMITS[ReportField(f)]) for f in DETAILS_TEXTS})
    wait_for_reply(stack, ts, "updated the details")

    for text in ("list", "show INC-1", "summary INC-1", "audit INC-1"):
        ask(stack, text)
    stack.platform.open_home(AGENT)
    choose_path(stack, ts, "internal")
    stack.wait_while_scheduling(lambda: stack.emulator.messages(ENG_CHANNEL))
    answers.append(choose_path(stack, ts, "incident_management", user=ONCALL).json())
    assert submitted(stack, stack.emulator.current_modal(ONCALL), {"lead": LEAD}, user=ONCALL) is None
    wait_for_reply(stack, ts, "started incident management")

    forged = new_incident_view(stack)
    values = build_state_values(forged["blocks"], filled_form())
    values["frequency"]["frequency"]["selected_option"] = {
        "text": {"type": "plain_text", "text": "x"},
        "value": INJECTION,
    }
    refused = submit_state(stack, AGENT, forged, values, view_id="VFORGED").json()
    assert refused == {"response_action": "errors", "errors": {"frequency": "Choose how often it happens."}}

    tags = NEW_INCIDENT_TEXTS + [f"details-{f}" for f in DETAILS_TEXTS]
    assert_posted_as_text(stack, tags, answers)
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.client.name == form["client"] and incident.blocker == form["blocker"], "stored as typed"
    major = next(c for c in stack.emulator.calls("conversations.create"))
    assert re.fullmatch(r"[a-z0-9_-]{1,80}", major.args["name"]), major.args["name"]


def test_mentions_and_links_typed_while_working_an_incident_are_posted_as_text(esc: Escalating) -> None:
    stack = esc.stack
    _, ts = open_incident(stack)
    answers: list[Any] = []

    step = modal_after(stack, "incident_log_step", ts, "Log a step")
    submitted(
        stack, step, {"step_kind": "hypothesis", "step_description": hostile("step"), "step_outcome": "inconclusive"}
    )
    status = modal_after(stack, "incident_change_status", ts, "Status and severity")
    submitted(stack, status, {"status": "investigating", "severity": "SEV1", "reason": hostile("reason", 300)})
    update = modal_after(stack, "incident_client_update", ts, "Client update")
    submitted(stack, update, {"update_text": hostile("client-update")})

    answers.append(choose_path(stack, ts, "engineering").json())
    handoff = {
        f: hostile(f"handoff-{f}") for f in ("reproduction", "expected", "actual", "environment", "evidence", "impact")
    }
    submitted(stack, stack.emulator.current_modal(AGENT), handoff)
    wait_for_reply(stack, ts, "filed for *INC-1*")
    description = esc.jira.issues("ENG")[0]["description"]
    assert all(text in description for text in handoff.values()), "Jira gets the handoff as typed (not mrkdwn)"
    answers.append(choose_path(stack, ts, "product_feedback").json())
    feedback = {"track": "messaging", "area": "uploads", "use_case": hostile("use-case")}
    submitted(stack, stack.emulator.current_modal(AGENT), feedback)
    wait_for_reply(stack, ts, "feedback for *uploads*")

    batching = modal_after(stack, "incident_start_workaround", ts, "Start a workaround")
    submitted(
        stack,
        batching,
        {
            "workaround_kind": "batching",
            "description": hostile("batching"),
            "client_expectation": hostile("expect", 500),
        },
    )
    stack.wait_while_scheduling(lambda: "Workaround progress" in json.dumps(stack.emulator.message(SUPPORT, ts)))
    progress = modal_after(stack, "incident_workaround_progress", ts, "Workaround progress")
    submitted(
        stack,
        progress,
        {
            "batches_done": "3",
            "batches_total": "10",
            "failing_element": hostile("failing", 300),
            "progress_note": hostile("progress"),
        },
    )
    wait_for_reply(stack, ts, "updated progress")
    payload = interaction(stack, "block_actions", AGENT)  # the root now offers progress; the time box offers this
    payload["actions"] = [{"action_id": "incident_start_workaround", "block_id": "b", "type": "button", "value": "1"}]
    assert post_payload(stack, payload).status == 200
    retry = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    submitted(
        stack,
        retry,
        {
            "workaround_kind": "retry_cycle",
            "description": hostile("retry"),
            "client_expectation": hostile("retry-expect", 500),
        },
    )
    stack.clock.advance(timedelta(minutes=10))
    checkin = stack.wait_while_scheduling(
        lambda: next((r for r in stack.emulator.replies(SUPPORT, ts) if r["text"] == "Retry #1 for INC-1 is due"), None)
    )
    stack.platform.click_button(AGENT, "checkin_error_changed", channel_id=SUPPORT, message_ts=checkin["ts"])
    changed = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    submitted(stack, changed, {"error_text": hostile("error-text")})
    wait_for_reply(stack, ts, "The error changed")

    ask(stack, f"correct INC-1 2 {hostile('correction')}")
    wait_for_reply(stack, ts, "corrected audit entry #2")
    resolve = modal_after(stack, "incident_resolve", ts, "Resolve incident")
    submitted(
        stack,
        resolve,
        {
            "root_cause": hostile("root-cause"),
            "resolution": hostile("resolution"),
            "follow_up_1_description": hostile("follow-up", MAX_FOLLOW_UP),
            "follow_up_1_owner": ONCALL,
            "follow_up_tickets": ["yes"],
            "learnings": f"{hostile('learning-1')}\n{hostile('learning-2')}",
            "file_feedback": ["yes"],
        },
    )
    wait_for_reply(stack, ts, "INC-1 resolved")
    for text in ("summary INC-1", "audit INC-1", "audit INC-1 2", "workarounds", "report 30d"):
        ask(stack, text)
    stack.platform.open_home(AGENT)

    tags = [
        "step", "reason", "client-update", "use-case", "batching", "expect", "failing", "progress", "retry",
        "retry-expect", "error-text", "correction", "root-cause", "resolution", "follow-up", "learning-1", "learning-2",
    ]  # fmt: skip
    assert_posted_as_text(stack, tags, answers)


def test_long_hostile_text_stays_inert_when_it_is_cut_to_fit(stack: Stack) -> None:
    """Every field at its longest, made of tokens: cutting it (…) must never leave half an escape or a bare `<`."""
    longest = {f: ("<!channel>&<" * 300)[: TEXT_LIMITS[ReportField(f)]] for f in NEW_INCIDENT_TEXTS}
    _, ts = open_incident(stack, **longest)
    step = modal_after(stack, "incident_log_step", ts, "Log a step")
    submitted(stack, step, {"step_kind": "reproduction", "step_description": ("<@U0HOSTILE>" * 200)[:2000]})
    resolve = modal_after(stack, "incident_resolve", ts, "Resolve incident")
    submitted(
        stack,
        resolve,
        {"root_cause": "<" * 3000, "resolution": "&lt;" * 750, "learnings": "\n".join(["<!here>" * 40] * 10)},
    )
    wait_for_reply(stack, ts, "INC-1 resolved")
    ask(stack, "summary INC-1")
    ask(stack, "show INC-1")
    settle(stack)
    assert injections(stack) == []
    assert rejected_calls(stack) == []
    root = stack.root_messages()[0]
    assert root["text"].startswith("INC-1 ") and "&lt;!channel&gt;&amp;&lt;" in root["text"]


# ------------------------------------------------------------------------------------------ 4. random modal states

RANDOM_FORMS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
USERS = [AGENT, ONCALL, "U0NOBODY"]
# Dozens of forms in a row are a storm of posts in one channel: each example lets Slack's rate limits catch up.
SLACK_PACE = timedelta(seconds=6)


def answered(response: PlatformResponse, view: dict[str, Any]) -> bool:
    """Within Slack's 3 s: 200 with an empty body (done), or 200 with errors on inputs the modal has; never else."""
    assert response.elapsed < 3, f"answered in {response.elapsed:.2f} s"
    assert response.status == 200, f"{response.status}: {response.body[:300]}"
    if not response.body:
        return True
    answer = response.json()
    assert isinstance(answer, dict) and answer.get("response_action") == "errors", response.body[:300]
    assert answer["errors"] and set(answer["errors"]) <= input_block_ids(view), answer["errors"]
    return False


def events_of_kind(stack: Stack, kinds: list[str]) -> int:
    with unit_of_work(stack.services.session_factory) as session:
        return int(session.scalar(select(func.count()).select_from(Event).where(Event.kind.in_(kinds))) or 0)


def assert_nothing_broke(stack: Stack, caplog: pytest.LogCaptureFixture, outcomes: Counter[str]) -> None:
    assert outcomes["done"] >= 3 and outcomes["errors"] >= 3, f"both kinds of answer were exercised: {outcomes}"
    settle(stack)
    assert unhandled_errors(caplog) == []
    assert injections(stack) == []
    assert rejected_calls(stack) == []
    still_serving(stack)


def test_random_new_incident_forms_open_an_incident_or_are_answered_on_their_fields(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    view = new_incident_view(stack)
    good = build_state_values(view["blocks"], filled_form())
    outcomes: Counter[str] = Counter()
    ids = itertools.count(1)

    @RANDOM_FORMS
    @given(values=modal_states(view, good, USERS))
    def submit(values: dict[str, Any]) -> None:
        before = count(stack, Incident)
        done = answered(submit_state(stack, AGENT, view, values, view_id=f"VRANDOM{next(ids)}"), view)
        outcomes["done" if done else "errors"] += 1
        stack.clock.advance(SLACK_PACE)  # a new incident's posts at Slack's one a second per channel
        assert count(stack, Incident) == before + (1 if done else 0), "an incident exactly when the form closed"

    submit()
    assert_nothing_broke(stack, caplog, outcomes)


def test_random_log_a_step_forms_record_a_step_or_are_answered_on_their_fields(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    _, ts = open_incident(stack)
    view = modal_after(stack, "incident_log_step", ts, "Log a step")
    good = build_state_values(view["blocks"], {"step_kind": "hypothesis", "step_description": "Proxy timeout?"})
    steps = [kind.value for kind in StepKind]
    outcomes: Counter[str] = Counter()
    ids = itertools.count(1)

    @RANDOM_FORMS
    @given(values=modal_states(view, good, USERS))
    def submit(values: dict[str, Any]) -> None:
        before = events_of_kind(stack, steps)
        done = answered(submit_state(stack, AGENT, view, values, view_id=f"VSTEP{next(ids)}"), view)
        outcomes["done" if done else "errors"] += 1
        assert events_of_kind(stack, steps) == before + (1 if done else 0), "a step exactly when the form closed"

    submit()
    assert_nothing_broke(stack, caplog, outcomes)


def test_random_resolve_forms_resolve_or_are_answered_on_their_fields(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    incident_id, ts = open_incident(stack)
    view = modal_after(stack, "incident_resolve", ts, "Resolve incident")
    good = build_state_values(view["blocks"], {"root_cause": "Proxy timeout", "resolution": "Timeout raised"})
    reopen = StatusChange(status=IncidentStatus.INVESTIGATING, severity=None, reason="reopened for the next example")
    outcomes: Counter[str] = Counter()
    ids = itertools.count(1)

    def status() -> IncidentStatus:
        with unit_of_work(stack.services.session_factory) as session:
            return session.get_one(Incident, incident_id).status

    @settings(RANDOM_FORMS, max_examples=50)
    @given(values=modal_states(view, good, USERS))
    def submit(values: dict[str, Any]) -> None:
        done = answered(submit_state(stack, AGENT, view, values, view_id=f"VRESOLVE{next(ids)}"), view)
        outcomes["done" if done else "errors"] += 1
        stack.clock.advance(SLACK_PACE)  # a resolution's posts and root edits at Slack's pace
        assert status() == (IncidentStatus.RESOLVED if done else IncidentStatus.INVESTIGATING)
        if done:
            change_status_and_severity(stack.services, incident_id, AGENT, reopen)

    change_status_and_severity(stack.services, incident_id, AGENT, reopen)
    submit()
    assert_nothing_broke(stack, caplog, outcomes)


SUBCOMMAND_TEXTS = [
    INJECTION,
    f"show {INJECTION}",
    f"summary {INJECTION}",
    f"audit INC-1 {INJECTION}",
    f"audit {INJECTION}",
    f"correct INC-1 {INJECTION}",
    f"correct {INJECTION} 1 text",
    f"declare {INJECTION}",
    f"report {INJECTION}",
    f"oncall override {INJECTION}",
    f"oncall override <@{FORGED_USER}|boss> 4h <!here>",
    f"list {INJECTION}",
    "show INC-²",
]


def test_hostile_slash_command_text_is_answered_as_text(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    open_incident(stack)
    for text in SUBCOMMAND_TEXTS:
        response = stack.platform.slash_command(AGENT, SUPPORT, text=text)
        assert response.status == 200 and response.elapsed < 3, (text, response.status)
    settle(stack)
    assert unhandled_errors(caplog) == []
    assert injections(stack) == []


@pytest.mark.parametrize("text", ["audit INC-1 ²", "correct INC-1 ² text"])
def test_a_superscript_digit_in_a_subcommand_is_answered_not_a_500(stack: Stack, text: str) -> None:
    open_incident(stack)
    response = stack.platform.slash_command(AGENT, SUPPORT, text=text)
    assert response.status == 200 and response.elapsed < 3
