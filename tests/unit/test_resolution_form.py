"""The resolve modal and its rules: what it asks, how a submission is read, what is refused on the form."""

from __future__ import annotations

from datetime import date

from blocks.resolution import (
    FollowUpRow,
    ResolveForm,
    read_resolve_form,
    resolve_form_errors,
    resolve_modal,
    resolved_reply,
)
from bot.domain.resolution import FollowUpItem, learnings_from
from bot.models import FollowUp
from tests.builders import an_incident

TODAY = date(2026, 11, 30)


def _form(**changes: object) -> ResolveForm:
    values: dict[str, object] = {
        "root_cause": "Proxy timeout",
        "resolution": "Timeout raised",
        "rows": (),
        "tickets": False,
        "learnings": (),
        "file_feedback": False,
    }
    values.update(changes)
    return ResolveForm(**values)  # type: ignore[arg-type]


def _row(row: int, description: str = "", owner: str | None = None, due: date | None = None) -> FollowUpRow:
    return FollowUpRow(row, description, owner, due, due.isoformat() if due else None)


def test_the_modal_asks_for_root_cause_resolution_three_follow_ups_learnings_and_feedback() -> None:
    view = resolve_modal(an_incident(id=7), stopping=["Retry the upload"]).to_dict()
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == [
        "Root cause",
        "Resolution",
        *[f"{what}{n}" for n in (1, 2, 3) for what in ("Follow-up ", "Owner of follow-up ", "Due date of follow-up ")],
        "Jira",
        "Key learnings (one per line)",
        "Product feedback",
    ]
    assert view["callback_id"] == "incident_resolve_modal" and view["private_metadata"] == '{"incident_id": 7}'
    assert "Resolving stops: Retry the upload" in str(view["blocks"])


def test_learnings_are_one_per_line_without_bullets() -> None:
    assert learnings_from("- first\n\n  • second \n* third\n") == ("first", "second", "third")


def test_a_submission_is_read_back_with_dates_users_and_checkboxes() -> None:
    values = {
        "root_cause": {"root_cause": {"value": " Proxy timeout "}},
        "resolution": {"resolution": {"value": "Raised"}},
        "follow_up_1_description": {"follow_up_1_description": {"value": "Size check"}},
        "follow_up_1_owner": {"follow_up_1_owner": {"selected_user": "U1"}},
        "follow_up_1_due": {"follow_up_1_due": {"selected_date": "2026-12-15"}},
        "follow_up_tickets": {"follow_up_tickets": {"selected_options": [{"value": "yes"}]}},
        "learnings": {"learnings": {"value": "a\nb"}},
    }
    form = read_resolve_form(values, resolver_id="URESOLVER")
    assert (form.root_cause, form.tickets, form.file_feedback, form.learnings) == (
        "Proxy timeout",
        True,
        False,
        ("a", "b"),
    )
    assert form.follow_up_items() == (FollowUpItem("Size check", "U1", date(2026, 12, 15), True),)


def test_an_owner_left_empty_is_the_person_resolving_as_the_optional_label_says() -> None:
    view = resolve_modal(an_incident(id=7)).to_dict()
    owners = [b for b in view["blocks"] if b.get("block_id", "").endswith("_owner")]
    assert all(b["optional"] and b["hint"]["text"] == "Left empty, the follow-up is yours." for b in owners)
    assert "each has an owner: you, unless you pick someone" in str(view["blocks"])
    values = {
        "follow_up_1_description": {"follow_up_1_description": {"value": "Size check"}},
        "follow_up_2_description": {"follow_up_2_description": {"value": "Alert on timeouts"}},
        "follow_up_2_owner": {"follow_up_2_owner": {"selected_user": "UOPS"}},
    }
    form = read_resolve_form(values, resolver_id="URESOLVER")
    assert [(r.description, r.owner_id) for r in form.rows] == [
        ("Size check", "URESOLVER"),
        ("Alert on timeouts", "UOPS"),
        ("", None),
    ]
    assert not any(key.endswith("_owner") for key in resolve_form_errors(form, today=TODAY))


def test_a_complete_form_has_no_errors_and_empty_rows_are_fine() -> None:
    assert resolve_form_errors(_form(rows=(_row(1, "Size check", "U1", TODAY), _row(2), _row(3))), today=TODAY) == {}


def test_each_problem_is_reported_on_its_own_field() -> None:
    form = _form(
        root_cause="",
        resolution="x" * 3001,
        learnings=tuple(str(n) for n in range(11)),
        rows=(_row(1, "Size check"), _row(2, owner="U1"), _row(3, "Alert", "U2", date(2026, 11, 29))),
    )
    assert resolve_form_errors(form, today=TODAY) == {
        "root_cause": "Say what caused it (or what is known so far).",
        "resolution": "Keep the resolution under 3000 characters.",
        "learnings": "At most 10 learnings, one per line.",
        "follow_up_1_owner": "Every follow-up needs an owner.",
        "follow_up_2_description": "Say what needs doing, or clear the owner and date.",
        "follow_up_3_due": "That date is in the past.",
    }


def test_a_date_that_cannot_be_read_is_refused() -> None:
    row = FollowUpRow(1, "Size check", "U1", None, "15/12/2026")
    assert resolve_form_errors(_form(rows=(row,)), today=TODAY) == {
        "follow_up_1_due": "Pick the date from the calendar."
    }


def _follow_up(description: str, wants_ticket: bool) -> FollowUp:
    return FollowUp(description=description, owner_id="UOPS", due_on=None, wants_ticket=wants_ticket)


def test_the_resolved_reply_promises_tickets_only_when_jira_is_configured() -> None:
    follow_ups = [_follow_up("Size check", True)]
    with_jira = resolved_reply(an_incident(id=7), "UAGENT", follow_ups, 0, 0, jira_configured=True).blocks[0]
    assert "• Follow-up for <@UOPS>: Size check (Jira ticket on its way)" in str(with_jira.to_dict())
    assert "not configured" not in str(with_jira.to_dict())

    without = str(
        resolved_reply(an_incident(id=7), "UAGENT", follow_ups, 0, 0, jira_configured=False).blocks[0].to_dict()
    )
    assert "on its way" not in without
    assert "• Follow-up for <@UOPS>: Size check" in without
    assert "🎫 No Jira tickets: Jira is not configured (JIRA_URL, JIRA_USER, JIRA_API_TOKEN)" in without


def test_no_word_about_jira_when_no_follow_up_asked_for_a_ticket() -> None:
    reply = resolved_reply(an_incident(id=7), "UAGENT", [_follow_up("Docs", False)], 0, 0, jira_configured=False)
    assert "Jira" not in str(reply.blocks[0].to_dict())
