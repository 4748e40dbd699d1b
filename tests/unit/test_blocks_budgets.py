"""Builders at their worst: every message and view stays inside what Slack takes (LIMITS.md), with typed text
escaped and cut only between whole characters, and a list too long for one message says how to see the rest."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from blocks.budget import lines_within, page_of, paged
from blocks.escalation import OTHER_AREA, feedback_modal
from blocks.home import home_view
from blocks.incident import Dashboard, environment_reply, incident_card, root_message
from blocks.lists import incident_list_blocks
from blocks.oncall import oncall_blocks
from blocks.summary import summary_command_messages, summary_messages
from blocks.text import clip, escape_mrkdwn, quoted, typed
from blocks.workarounds import attempt_reply, workaround_line, workaround_list_blocks
from bot.config import SettingsError, load_settings
from bot.domain.oncall import ActiveOverride, OnCall
from bot.domain.summary import WhatHappened
from bot.models import AttemptOutcome, Environment, Event, Workaround, WorkaroundKind
from tests.blockkit_limits import HALF_ENTITY, check_message, check_message_blocks, check_view, text_length
from tests.builders import an_incident
from tests.conftest import T0
from tests.unit.test_summary_formats import a_summary, many_entries

UTC_ZONE = ZoneInfo("UTC")
# A pasted error page: 200 lines, 2,500 characters, full of what mrkdwn must escape.
ERROR_PAGE = "\n".join(f"<b>E{n:03d}</b> a&b" for n in range(200))[:2500]
AMPERSANDS = "&" * 3000  # each becomes five characters once escaped


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def hostile_incident(**changes: Any) -> Any:
    """An incident with every typed field at its longest, made of characters that grow when escaped."""
    fields: dict[str, Any] = {
        "title": ("&<>" * 50)[:120],
        "blocker": ERROR_PAGE,
        "deadline_at": T0 + timedelta(hours=2),
        "deadline_context": AMPERSANDS[:200],
        "workflow": AMPERSANDS[:100],
        "region": AMPERSANDS[:60],
        "environment": Environment(
            file_size_text=AMPERSANDS[:40],
            browser=AMPERSANDS[:80],
            os=AMPERSANDS[:80],
            started_text=AMPERSANDS[:200],
            frequency="every time",
            already_tried=ERROR_PAGE[:2000],
        ),
    }
    incident = an_incident(**{**fields, **changes})
    incident.client.name = AMPERSANDS[:150]
    return incident


# --- one helper for typed text --------------------------------------------------------------------------

TYPED_TEXT = st.text(alphabet=st.sampled_from(list("&<>\n a;é🔥")), max_size=400)


@given(TYPED_TEXT, st.integers(min_value=2, max_value=500))
def test_quoted_text_fits_its_limit_quotes_every_line_and_cuts_only_whole_characters(text: str, limit: int) -> None:
    result = quoted(text, limit)
    assert len(result) <= limit
    assert not HALF_ENTITY.search(result)
    assert all(line.startswith(">") for line in result.split("\n"))
    shown = unescape("\n".join(line[1:] for line in result.split("\n")))
    original = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    if shown.endswith("…") and shown != original:
        assert original.startswith(shown[:-1].rstrip()), "a cut keeps the start of what was typed"
    else:
        assert shown == original


@given(TYPED_TEXT, st.integers(min_value=1, max_value=500))
def test_typed_text_fits_its_limit_and_never_ends_in_half_an_entity(text: str, limit: int) -> None:
    result = typed(text, limit)
    assert len(result) <= limit
    assert not HALF_ENTITY.search(result)
    assert "<" not in result and ">" not in result


@given(TYPED_TEXT, st.integers(min_value=1, max_value=500))
def test_clipped_mrkdwn_fits_and_never_ends_inside_an_entity_or_a_link(text: str, limit: int) -> None:
    mrkdwn = f"<@U0123ABCD> {escape_mrkdwn(text)} <https://example.com/a?b=1&amp;c=2|{escape_mrkdwn(text[:40])}>"
    result = clip(mrkdwn, limit)
    assert len(result) <= limit
    assert result == mrkdwn or (result.endswith("…") and mrkdwn.startswith(result[:-1]))
    assert not re.search(r"&(?:amp|am|a|lt|l|gt|g)?…$", result), "no half entity"
    assert not re.search(r"<[^>]*$", result), "no half link or mention"


def test_a_cut_right_after_an_ampersand_drops_the_whole_entity() -> None:
    assert typed("ab&cd", 6) == "ab…"
    assert quoted("ab&cd", 7) == ">ab…"
    assert quoted("a\n<b>", 100) == ">a\n>&lt;b&gt;"


# --- defect 4: the blocker, quoted after it is cut ---------------------------------------------------------


def test_a_pasted_error_page_is_quoted_within_one_section() -> None:
    message = root_message(an_incident(blocker=ERROR_PAGE), now=T0, zone=UTC_ZONE)
    check_message(message)
    blocker = message.blocks[2].to_dict()["text"]["text"]
    assert blocker.startswith("*Blocker*\n>&lt;b&gt;E000&lt;/b&gt; a&amp;b\n>")
    assert blocker.endswith("…") and len(blocker) <= 2900
    assert all(line.startswith(">") for line in blocker.split("\n")[1:])


def test_the_root_message_with_every_typed_field_at_its_longest_fits_a_message() -> None:
    dashboard = Dashboard(
        workaround_lines=[f"🔁 Retry cycle {n} · owner <@U{n:04d}> · " + "x" * 200 for n in range(30)],
        escalation_lines=[f"Engineering handoff (Jira): ENG-{n} ({'y' * 100})" for n in range(40)],
        linked_keys=[f"INC-{n}" for n in range(30)],
    )
    message = root_message(hostile_incident(), now=T0, zone=UTC_ZONE, dashboard=dashboard)
    check_message(message)
    text = " ".join(str(b.to_dict()) for b in message.blocks)
    assert "…and " in text, "dashboard lists that don't fit say how many are left out"


def test_the_show_card_keeps_the_latest_audit_entries_that_fit() -> None:
    incident = hostile_incident()
    events = [
        Event(incident_id=7, at=T0 + timedelta(minutes=n), actor_id="UREP", kind="step", summary=AMPERSANDS)
        for n in range(20)
    ]
    blocks = incident_card(
        incident, events=events, pending_deliveries=["⏳ root message: failed"] * 40, now=T0, zone=UTC_ZONE
    )
    check_message_blocks(blocks)


def test_the_environment_reply_and_a_changed_error_fit_a_section() -> None:
    check_message(environment_reply(hostile_incident()))
    workaround = Workaround(id=3, incident_id=7, kind=WorkaroundKind.RETRY_CYCLE, description="retry")
    message = attempt_reply(
        hostile_incident(),
        workaround,
        number=4,
        outcome=AttemptOutcome.ERROR_CHANGED,
        actor_id="UREP",
        error=ERROR_PAGE,
        changed=True,
    )
    check_message(message)


def test_the_summary_quotes_a_long_blocker_within_its_section() -> None:
    summary = a_summary(what_happened=WhatHappened(blocker=ERROR_PAGE, already_tried=ERROR_PAGE))
    for message in summary_messages(summary, zone=UTC_ZONE):
        check_message(message)


# --- defect 3: a hundred rotations ----------------------------------------------------------------------


def rotations(count: int) -> list[OnCall]:
    return [
        OnCall(
            team=f"team-{n:03d}-" + "&" * 90,
            user_id=f"U{n:05d}",
            via_override=n % 3 == 0,
            until=T0 + timedelta(hours=n),
            next_user_id=f"UN{n:04d}",
            escalation_channel_id=None,
        )
        for n in range(count)
    ]


def overrides(count: int) -> list[ActiveOverride]:
    return [
        ActiveOverride(id=n, team="&" * 100, user_id=f"U{n:05d}", replaces="UBOB", ends_at=T0, created_by="ULEAD")
        for n in range(count)
    ]


def team_numbers(blocks: list[Block]) -> list[int]:
    text = "\n".join(b.to_dict().get("text", {}).get("text", "") for b in blocks)
    return [int(n) for n in re.findall(r"\*team-(\d{3})-", text)]


def test_a_hundred_rotations_fit_oncall_messages_page_by_page() -> None:
    teams = rotations(100)
    first = oncall_blocks(teams, overrides(100), None, UTC_ZONE)
    check_message_blocks(first)
    more = next(b.to_dict()["elements"][0]["text"] for b in first if b.to_dict()["type"] == "context")
    shown = team_numbers(first)
    assert more.startswith(f"…and {100 - len(shown)} more teams — `/triage oncall 2`")
    seen = list(shown)
    page = 2
    while len(seen) < 100:
        blocks = oncall_blocks(teams, [], None, UTC_ZONE, page=page)
        check_message_blocks(blocks)
        seen += team_numbers(blocks)
        page += 1
    assert seen == list(range(100)), "every team on exactly one page, in order"
    assert team_numbers(oncall_blocks(teams, [], None, UTC_ZONE, page=99)) == team_numbers(blocks), "the last page"


def test_the_home_tab_with_a_hundred_rotations_and_many_incidents_is_a_valid_view() -> None:
    incidents = [hostile_incident(id=n) for n in range(1, 301)]
    view = home_view(
        mine=incidents, everyone=incidents, oncalls=rotations(100), fallback_oncall=None, now=T0, zone=UTC_ZONE
    )
    as_dict = check_view(view)
    assert "more teams — `/triage oncall 2`" in str(as_dict["blocks"])


# --- defect 6: lists with a budget ------------------------------------------------------------------------


def test_forty_open_incidents_are_listed_page_by_page_within_a_message() -> None:
    incidents = [hostile_incident(id=n) for n in range(1, 41)]
    seen: list[str] = []
    for page in (1, 2):
        blocks = incident_list_blocks(incidents, now=T0, zone=UTC_ZONE, page=page)
        check_message_blocks(blocks)
        seen += re.findall(r"\*(INC-\d+)\*", str([b.to_dict() for b in blocks]))
        if page == 1:
            notes = [b.to_dict()["elements"][0]["text"] for b in blocks if b.to_dict()["type"] == "context"]
            assert notes[0] == f"…and {40 - len(seen)} more — `/triage list 2` (page 1 of 2)"
    assert seen == [f"INC-{n}" for n in range(1, 41)], "each incident once, in order"


def test_forty_active_workarounds_are_listed_page_by_page_within_a_message() -> None:
    line = workaround_line(
        Workaround(
            kind=WorkaroundKind.BATCHING,
            owner_id="UOWNER",
            ends_at=T0 + timedelta(hours=1),
            batches_done=3,
            batches_total=9,
            failing_element=AMPERSANDS,
            progress_note=AMPERSANDS,
        ),
        attempts=0,
        now=T0,
        zone=UTC_ZONE,
    )
    lines = [f"*INC-{n}* {line}" for n in range(1, 41)]
    first = workaround_list_blocks(lines)
    check_message_blocks(first)
    shown = [b.to_dict()["text"]["text"] for b in first[1:-1]]
    assert first[-1].to_dict()["elements"][0]["text"] == (
        f"…and {40 - len(shown)} more — `/triage workarounds 2` (page 1 of 2)"
    )
    second = workaround_list_blocks(lines, 2)
    check_message_blocks(second)
    assert shown + [b.to_dict()["text"]["text"] for b in second[1:]] == lines


def test_pages_hold_every_line_once_within_their_budget() -> None:
    lines = [f"{n}:" + "x" * (n * 37 % 900) for n in range(250)]
    pages = paged(lines, max_lines=20, max_chars=6000)
    assert [line for page in pages for line in page] == lines
    assert all(len(page) <= 20 and sum(map(len, page)) <= 6000 for page in pages)
    last = page_of(lines, 10**6, max_lines=20)
    assert last.is_last and last.after == 0 and last.number == len(pages)


def test_lines_within_a_limit_count_what_they_leave_out() -> None:
    assert lines_within(["a" * 10] * 5, 35) == "aaaaaaaaaa\naaaaaaaaaa\n…and 3 more"
    assert lines_within(["a", "b"], 100) == "a\nb"
    assert len(lines_within(["z" * 50] * 100, 1500)) <= 1500


# --- defect 5: the summary through one response_url ----------------------------------------------------------


def test_a_long_summary_sends_what_one_command_can_and_names_the_rest() -> None:
    summary = a_summary(timeline=many_entries(1000))
    everything = summary_messages(summary, zone=UTC_ZONE)
    pages = len(everything) - 1
    assert pages > 6
    sent = summary_command_messages(summary, zone=UTC_ZONE, page=None, follow_ups=5)
    assert len(sent) == 6
    for message in sent:
        check_message(message)
    pointer = str(sent[0].blocks[-1].to_dict())
    assert f"on {pages} pages; the next 5 follow." in pointer and "`/triage summary INC-7 6`" in pointer
    assert f"Timeline pages 6 to {pages} of {pages}: `/triage summary INC-7 6`" in str(sent[-1].blocks[-1].to_dict())

    headers = [m.blocks[0].to_dict()["text"]["text"] for m in sent[1:]]
    page = 6
    while page <= pages:  # follow the pointers to the end
        more = summary_command_messages(summary, zone=UTC_ZONE, page=page, follow_ups=5)
        assert len(more) <= 6
        headers += [m.blocks[0].to_dict()["text"]["text"] for m in more]
        named = re.search(r"`/triage summary INC-7 (\d+)`", str(more[-1].blocks[-1].to_dict()))
        page = int(named.group(1)) if named else pages + 1
    assert headers == [f"Timeline ({n}/{pages}) · INC-7" for n in range(1, pages + 1)], "every page, once, in order"


def test_a_short_summary_is_sent_whole() -> None:
    summary = a_summary()
    assert summary_command_messages(summary, zone=UTC_ZONE, page=None, follow_ups=5) == summary_messages(
        summary, zone=UTC_ZONE
    )
    [page] = summary_command_messages(summary, zone=UTC_ZONE, page=3, follow_ups=5)
    assert page.blocks[0].to_dict()["text"]["text"] == "Timeline (1/1) · INC-7"


# --- defect 7: more than 100 product areas ------------------------------------------------------------------


def test_a_hundred_and_fifty_product_areas_open_the_feedback_form() -> None:
    areas = [f"Area {n:03d} " + "x" * 120 for n in range(150)]
    view = check_view(feedback_modal(hostile_incident(), areas, ERROR_PAGE[:2000]))
    select = next(b["element"] for b in view["blocks"] if b.get("block_id") == "area")
    values = [o["value"] for g in select["option_groups"] for o in g["options"]]
    assert sorted(values) == sorted([*areas, OTHER_AREA]) and len(values) == len(set(values))
    assert all(len(g["options"]) <= 100 for g in select["option_groups"]) and len(select["option_groups"]) <= 100


def test_a_few_product_areas_stay_one_plain_list() -> None:
    view = check_view(feedback_modal(an_incident(), ["uploads", "billing"], "use case"))
    select = next(b["element"] for b in view["blocks"] if b.get("block_id") == "area")
    assert [o["value"] for o in select["options"]] == ["uploads", "billing", OTHER_AREA]


def test_a_product_area_too_long_for_a_choice_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match=r"PRODUCT_AREAS.*longer than 150 characters"):
        load_settings(product_areas="x" * 151)


def test_texts_are_counted_like_slack_counts_them() -> None:
    assert text_length([b.to_dict() for b in root_message(an_incident(), now=T0, zone=UTC_ZONE).blocks]) > 0
