"""Content at the sizes real workspaces reach, through signed requests and the emulator: a pasted error page as the
blocker, a hundred on-call rotations, forty open incidents and workarounds, a thousand-entry timeline and 150
product areas. Every answer stays inside what Slack takes, and what doesn't fit says how to see the rest."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.clock import ManualClock
from bot.db import unit_of_work
from bot.domain.audit import record_event
from bot.domain.oncall import TeamSpec, replace_teams
from bot.domain.workarounds import start_workaround
from bot.models import Feedback, Incident, WorkaroundKind
from tests.blockkit_limits import check_message_blocks, check_view
from tests.builders import open_test_incident
from tests.conftest import T0
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack, start_stack
from tests.e2e.test_open_incident_flow import filled_form, open_modal
from tests.e2e.test_triage_workflow import open_incident

ERROR_PAGE = "\n".join(f"<b>E{n:03d}</b> a&b" for n in range(200))[:2500]


def command(stack: Stack, text: str) -> dict[str, Any]:
    """`/triage <text>` as AGENT: its acknowledgement (what the asker sees first), checked as a message."""
    response = stack.platform.slash_command(AGENT, SUPPORT, text=text)
    assert response.status == 200, f"/triage {text} answered {response.status}"
    answer: dict[str, Any] = response.json()
    check_message_blocks(answer["blocks"])
    return answer


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_a_pasted_error_page_opens_an_incident_with_its_blocker_quoted(stack: Stack) -> None:
    modal = open_modal(stack)
    response = stack.platform.submit_view(modal["id"], AGENT, filled_form(blocker=ERROR_PAGE))
    assert response.status == 200 and not response.body
    root: dict[str, Any] = stack.emulator.wait_for(lambda: next(iter(stack.root_messages()), None))
    check_message_blocks(root["blocks"])
    blocker = next(
        b["text"]["text"] for b in root["blocks"] if b.get("text", {}).get("text", "").startswith("*Blocker*")
    )
    assert blocker.startswith("*Blocker*\n>&lt;b&gt;E000&lt;/b&gt; a&amp;b\n>&lt;b&gt;E001") and blocker.endswith("…")
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Incident.blocker)).one() == ERROR_PAGE, "stored whole, cut only for Slack"


def load_rotations(stack: Stack, count: int) -> None:
    specs = [
        TeamSpec(name=f"team-{n:03d} " + "&" * 80, members=(ONCALL, AGENT), timezone="UTC", starts_on=date(2026, 11, 1))
        for n in range(count)
    ]
    with unit_of_work(stack.services.session_factory) as session:
        replace_teams(session=session, teams=specs, now=T0)


def test_a_hundred_rotations_answer_oncall_page_by_page_and_the_home_tab_opens(stack: Stack) -> None:
    load_rotations(stack, 100)
    seen: list[str] = []
    answer = command(stack, "oncall")
    while True:
        seen += re.findall(r"\*(team-\d{3}) ", texts(answer["blocks"]))
        more = re.search(r"more teams — `/triage oncall (\d+)`", texts(answer["blocks"]))
        if more is None:
            break
        answer = command(stack, f"oncall {more.group(1)}")
    assert seen == [f"team-{n:03d}" for n in range(100)], "every team once, in order"

    assert stack.platform.open_home(AGENT).status == 200
    home = stack.emulator.wait_for(lambda: stack.emulator.home(AGENT))
    check_view(home)
    assert "more teams — `/triage oncall 2`" in texts(home["blocks"])


def open_many(stack: Stack, count: int) -> list[int]:
    """`count` open incidents with long, realistic names (as a client's legal name and a pasted title are)."""
    return [
        open_test_incident(
            stack.services.session_factory,
            f"many-{n}",
            client_name=f"Hartley, Moss, Whitcombe and Partners International Litigation Group {n}",
            title=f"Exhibit bundle upload fails at 99% for every filing in the appeal {n}" + " (urgent)" * 5,
            deadline_context="court filing for the appeal to the Supreme Court, docket 2026-1187",
        )
        for n in range(1, count + 1)
    ]


def test_forty_open_incidents_are_listed_within_a_message_with_the_rest_a_page_away(stack: Stack) -> None:
    ids = open_many(stack, 40)
    first = command(stack, "list")
    more = first["blocks"][-2]["elements"][0]["text"]
    shown = re.findall(r"\*INC-(\d+)\*", texts(first["blocks"]))
    assert more == f"…and {40 - len(shown)} more — `/triage list 2` (page 1 of 2)"
    second = command(stack, "list 2")
    shown += re.findall(r"\*INC-(\d+)\*", texts(second["blocks"]))
    assert sorted(map(int, shown)) == ids and len(shown) == 40
    assert "I don't know" not in texts(command(stack, "list 99")["blocks"]), "past the end: the last page"
    refused = stack.platform.slash_command(AGENT, SUPPORT, text="list two")
    assert refused.status == 200 and "The page is a number: `/triage list 2`." in refused.body


def test_forty_active_workarounds_are_listed_within_a_message_with_the_rest_a_page_away(stack: Stack) -> None:
    ids = open_many(stack, 40)
    with unit_of_work(stack.services.session_factory) as session:
        for incident_id in ids:
            start_workaround(
                session=session,
                incident=session.get_one(Incident, incident_id),
                kind=WorkaroundKind.BATCHING,
                description="Split the bundle into ten batches",
                client_expectation="Partial progress within the hour",
                owner_id=AGENT,
                time_box=timedelta(hours=2),
                interval=None,
                now=T0,
            )
    first = command(stack, "workarounds")
    assert "— `/triage workarounds 2`" in texts(first["blocks"])
    second = command(stack, "workarounds 2")
    listed = re.findall(r"\*INC-(\d+)\*", texts(first["blocks"]) + texts(second["blocks"]))
    assert sorted(map(int, listed)) == ids


def test_a_thousand_entry_summary_sends_what_one_response_url_takes_and_names_the_rest(stack: Stack) -> None:
    incident_id, _ = open_incident(stack)
    with unit_of_work(stack.services.session_factory) as session:
        incident = session.get_one(Incident, incident_id)
        for n in range(1000):
            record_event(
                session=session,
                incident=incident,
                at=T0 + timedelta(seconds=n),
                actor_id=AGENT,
                kind="step_logged",
                summary=f"Retry {n}: the exhibit upload still stops at 99% with 'Network error' & a <timeout>",
            )
    first = command(stack, f"summary INC-{incident_id}")
    announced = re.search(r"the next (\d+)", texts(first["blocks"]))
    assert announced is not None, "the summary says how many messages follow"
    follow = int(announced.group(1))

    def responses() -> list[dict[str, Any]]:
        return [e for e in stack.emulator.ephemerals(user=AGENT) if "Timeline (" in texts(e["blocks"])]

    stack.finish_work()
    sent = responses()
    assert len(sent) == follow, "exactly what was announced"
    for message in sent:
        check_message_blocks(message["blocks"])
    last_page = re.search(r"Timeline \((\d+)/(\d+)\)", texts(sent[-1]["blocks"]))
    assert last_page is not None and int(last_page.group(2)) > follow + 1, "more pages than one command takes"
    shown = int(last_page.group(1))
    assert f"`/triage summary INC-{incident_id} {shown + 1}`" in texts(sent[-1]["blocks"]), "and how to see them"


@pytest.fixture
def many_areas(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Stack]:
    areas = ",".join(f"Area {n:03d}" for n in range(150))
    stack, servers = start_stack(database_url, clean_db, clock, product_areas=areas)
    yield stack
    servers[0].stop()
    stack.finish_work()
    for server in servers[1:]:
        server.stop()


def test_a_hundred_and_fifty_product_areas_open_the_feedback_form(many_areas: Stack) -> None:
    stack = many_areas
    _, ts = open_incident(stack)
    stack.platform.click_button(AGENT, "incident_escalate", channel_id=SUPPORT, message_ts=ts)
    chooser = stack.emulator.wait_for(lambda: stack.emulator.current_modal(AGENT))
    response = stack.platform.submit_view(chooser["id"], AGENT, {"escalation_path": "product_feedback"})
    assert response.status == 200 and response.json()["response_action"] == "update"
    form = stack.emulator.current_modal(AGENT)
    assert form is not None and form["title"]["text"] == "Product feedback"
    check_view(form)
    values = {"track": "stability", "area": "Area 149", "use_case": "Files a 250 MB exhibit bundle"}
    filed = stack.platform.submit_view(form["id"], AGENT, values)
    assert filed.status == 200 and not filed.body
    with unit_of_work(stack.services.session_factory) as session:
        assert session.scalars(select(Feedback.area)).one() == "Area 149"
