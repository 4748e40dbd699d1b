"""Unit tests of blocks/escalation.py: the escalation modals, their readers and the status lines."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from blocks.escalation import (
    FeedbackForm,
    declare_modal,
    engineering_modal,
    escalate_modal,
    escalation_line,
    feedback_modal,
    internal_notice,
    lead_line,
    major_brief,
    read_feedback,
    read_handoff,
    read_lead,
    read_path,
)
from bot.domain.handoff import HandoffForm
from bot.models import (
    Client,
    ClientTier,
    Environment,
    Escalation,
    EscalationKind,
    EscalationState,
    FeedbackTrack,
    Severity,
)
from tests.builders import an_incident
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")
K, S = EscalationKind, EscalationState
AT_T0 = "<!date^1796029200^{date_short_pretty} {time}|Mon 30 Nov 09:00 UTC>"
AT_10_55 = "<!date^1796036100^{date_short_pretty} {time}|Mon 30 Nov 10:55 UTC>"


def an_escalation(kind: EscalationKind, state: EscalationState, **changes: Any) -> Escalation:
    fields: dict[str, Any] = {
        "id": 1,
        "incident_id": 7,
        "kind": kind,
        "state": state,
        "requested_by": "UREP",
        "requested_at": T0,
        "details": {},
        "idempotency_key": f"INC-7:{kind.value}",
    }
    fields.update(changes)
    return Escalation(**fields)


def blocks_of(view: Any) -> list[dict[str, Any]]:
    return view.to_dict()["blocks"]


def block(view: Any, block_id: str) -> dict[str, Any]:
    return next(b for b in blocks_of(view) if b.get("block_id") == block_id)


def typed(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def chosen(value: str | None, kind: str = "radio_buttons") -> dict[str, Any]:
    option = None if value is None else {"value": value, "text": {"type": "plain_text", "text": value}}
    return {"type": kind, "selected_option": option}


# --- escalate_modal ---------------------------------------------------------------------------------


def test_escalate_modal_offers_the_four_paths_with_short_descriptions() -> None:
    view = escalate_modal(an_incident(), [])
    as_dict = view.to_dict()
    assert (as_dict["type"], as_dict["callback_id"]) == ("modal", "incident_escalate_modal")
    assert (as_dict["title"]["text"], as_dict["submit"]["text"], as_dict["close"]["text"]) == (
        "Escalate",
        "Next",
        "Cancel",
    )
    assert json.loads(as_dict["private_metadata"]) == {"incident_id": 7}
    assert as_dict["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*INC-7* · Exhibit upload fails at 99%"},
    }
    chooser = block(view, "escalation_path")
    assert chooser["label"]["text"] == "Which path?"
    assert chooser["element"]["type"] == "radio_buttons" and chooser["element"]["action_id"] == "escalation_path"
    options = chooser["element"]["options"]
    assert [o["value"] for o in options] == ["internal", "engineering", "product_feedback", "incident_management"]
    assert [o["text"]["text"].lower() for o in options] == [
        "internal notice",
        "engineering handoff (jira)",
        "product feedback",
        "incident management",
    ]
    assert [o["description"]["text"] for o in options] == [
        "Post a concise notice in the support/engineering channel and tag on-call",
        "Create a Jira issue with reproduction, environment, impact and deadline",
        "A workflow pattern: file feedback for the area's product manager",
        "Systemic (outage, region-wide, security): own channel and an incident lead",
    ]
    assert all(len(o["description"]["text"]) <= 75 for o in options)


def test_escalate_modal_escapes_the_title_in_its_header() -> None:
    view = escalate_modal(an_incident(title="Uploads <!channel> & more"), [])
    assert blocks_of(view)[0]["text"]["text"] == "*INC-7* · Uploads &lt;!channel&gt; &amp; more"


def test_path_labels_keep_jira_capitalised() -> None:
    """KIND_LABELS says "engineering handoff (Jira)"; str.capitalize() lower-cases the rest, showing "(jira)"."""
    options = block(escalate_modal(an_incident(), []), "escalation_path")["element"]["options"]
    assert options[1]["text"]["text"] == "Engineering handoff (Jira)"
    assert escalation_line(an_escalation(K.ENGINEERING, S.PENDING)) == "Engineering handoff (Jira): in progress"


@pytest.mark.parametrize(
    ("kind", "state", "said"),
    [
        (K.INTERNAL, S.FILED, "already filed"),
        (K.ENGINEERING, S.PENDING, "already in progress"),
        (K.INCIDENT_MANAGEMENT, S.NOT_CONFIGURED, "already recorded, not filed"),
    ],
)
def test_escalate_modal_says_a_path_was_already_taken(kind: EscalationKind, state: EscalationState, said: str) -> None:
    """The note must survive the 75-character limit: every path's help text is 64-74 characters long, so
    truncating help + note to 75 drops the note (e.g. "… and tag on-call —…")."""
    options = block(escalate_modal(an_incident(), [an_escalation(kind, state)]), "escalation_path")["element"][
        "options"
    ]
    description = next(o["description"]["text"] for o in options if o["value"] == kind.value)
    assert len(description) <= 75
    assert said in description.lower()
    others = [o["description"]["text"] for o in options if o["value"] != kind.value]
    assert not any("already" in d for d in others)


def test_without_jira_the_paths_that_file_tickets_say_they_only_record() -> None:
    with_jira = block(escalate_modal(an_incident(), []), "escalation_path")["element"]["options"]
    without = block(escalate_modal(an_incident(), [], jira_configured=False), "escalation_path")["element"]["options"]
    said = {o["value"]: o["description"]["text"] for o in without}
    assert said["engineering"] == "Record a handoff for engineering (Jira is not configured: no ticket)"
    assert "Jira is not configured" in said["product_feedback"]
    assert [o["description"] for o in with_jira if o["value"] in ("internal", "incident_management")] == [
        o["description"] for o in without if o["value"] in ("internal", "incident_management")
    ]
    assert all(len(text) <= 75 for text in said.values())


def test_escalate_modal_never_marks_product_feedback_as_already_done() -> None:
    existing = [an_escalation(K.PRODUCT_FEEDBACK, S.FILED)]
    options = block(escalate_modal(an_incident(), existing), "escalation_path")["element"]["options"]
    assert [o["description"]["text"] for o in options] == [
        o["description"]["text"]
        for o in block(escalate_modal(an_incident(), []), "escalation_path")["element"]["options"]
    ]


# --- engineering_modal ------------------------------------------------------------------------------


def a_handoff(**changes: str) -> HandoffForm:
    fields = {
        "reproduction": "1. Upload a 250 MB PDF\n2. Wait",
        "expected": "document upload completes normally.",
        "actual": "Stops at 99%.",
        "environment": "Chrome 126 · Windows 11",
        "evidence": "https://files.example/har",
        "impact": "Court filing in 1 h 55 min",
    }
    fields.update(changes)
    return HandoffForm(**fields)


def test_engineering_modal_is_prefilled_from_the_draft() -> None:
    view = engineering_modal(an_incident(), a_handoff(), priority="Highest", project="OPS", jira_configured=True)
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_engineering_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Engineering handoff", "Create Jira issue")
    assert json.loads(as_dict["private_metadata"]) == {"incident_id": 7}
    blocks = as_dict["blocks"]
    assert blocks[1]["text"]["text"] == (
        "Files a Jira issue in project *OPS*, priority *Highest* (SEV2), linked to this thread."
    )
    inputs = {b["block_id"]: b for b in blocks if b["type"] == "input"}
    assert list(inputs) == ["reproduction", "expected", "actual", "environment", "evidence", "impact"]
    assert {k: b["label"]["text"] for k, b in inputs.items()} == {
        "reproduction": "Steps to reproduce",
        "expected": "Expected",
        "actual": "Actual",
        "environment": "Environment",
        "evidence": "Logs and screenshots (links)",
        "impact": "Business impact and deadline",
    }
    assert {k: b["element"]["initial_value"] for k, b in inputs.items()} == {
        "reproduction": "1. Upload a 250 MB PDF\n2. Wait",
        "expected": "document upload completes normally.",
        "actual": "Stops at 99%.",
        "environment": "Chrome 126 · Windows 11",
        "evidence": "https://files.example/har",
        "impact": "Court filing in 1 h 55 min",
    }
    assert {k for k, b in inputs.items() if b.get("optional")} == {"environment", "evidence"}
    for field_id, b in inputs.items():
        assert b["element"]["action_id"] == field_id
        assert b["element"]["multiline"] is True and b["element"]["max_length"] == 3000
    assert inputs["evidence"]["hint"]["text"] == "Files shared in the incident's thread are linked automatically."


def test_engineering_modal_leaves_empty_draft_fields_without_an_initial_value() -> None:
    view = engineering_modal(
        an_incident(severity=Severity.SEV1),
        a_handoff(environment="", evidence=""),
        priority="High",
        project="SUP",
        jira_configured=True,
    )
    assert blocks_of(view)[1]["text"]["text"].startswith("Files a Jira issue in project *SUP*, priority *High* (SEV1)")
    assert "initial_value" not in block(view, "environment")["element"]
    assert "initial_value" not in block(view, "evidence")["element"]
    assert block(view, "actual")["element"]["initial_value"] == "Stops at 99%."


# --- feedback_modal ---------------------------------------------------------------------------------


def test_feedback_modal_offers_the_three_tracks_and_the_areas() -> None:
    view = feedback_modal(an_incident(), ["Document upload", "Search"], "They file exhibits before hearings.")
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_feedback_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Product feedback", "File feedback")
    track = block(view, "track")
    assert track["label"]["text"] == "Track" and track["element"]["type"] == "radio_buttons"
    assert [(o["value"], o["text"]["text"]) for o in track["element"]["options"]] == [
        ("stability", "Stability — crashes, timeouts"),
        ("messaging", "Messaging — confusing UI or error text"),
        ("monitoring", "Monitoring — missing alerts or observability gaps"),
    ]
    area = block(view, "area")
    assert area["label"]["text"] == "Product area" and area["element"]["type"] == "static_select"
    assert area["element"]["placeholder"]["text"] == "Choose the area"
    assert [(o["value"], o["text"]["text"]) for o in area["element"]["options"]] == [
        ("Document upload", "Document upload"),
        ("Search", "Search"),
        ("other", "Other / not sure"),
    ]
    use_case = block(view, "use_case")
    assert use_case["label"]["text"] == "The client's use case"
    assert use_case["element"]["initial_value"] == "They file exhibits before hearings."


def test_feedback_modal_without_areas_still_offers_other_and_shortens_long_names() -> None:
    options = block(feedback_modal(an_incident(), [], ""), "area")["element"]["options"]
    assert [(o["value"], o["text"]["text"]) for o in options] == [("other", "Other / not sure")]
    long_name = "A" * 90
    options = block(feedback_modal(an_incident(), [long_name], ""), "area")["element"]["options"]
    assert options[0]["value"] == long_name
    assert options[0]["text"]["text"] == "A" * 74 + "…"


# --- declare_modal ----------------------------------------------------------------------------------


def test_declare_modal_suggests_the_lead() -> None:
    view = declare_modal(an_incident(), "ULEAD")
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_declare_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Incident management", "Declare")
    assert as_dict["blocks"][1]["text"]["text"] == (
        "Creates a dedicated channel, invites the reporter, owner, on-call and lead, pins a brief, "
        "and links related incidents."
    )
    lead = block(view, "lead")
    assert lead["label"]["text"] == "Incident lead"
    assert lead["element"] == {
        "type": "users_select",
        "action_id": "lead",
        "initial_user": "ULEAD",
        "placeholder": {"type": "plain_text", "text": "Who leads it?", "emoji": True},
    }


def test_declare_modal_without_a_suggestion_preselects_nobody() -> None:
    assert "initial_user" not in block(declare_modal(an_incident(), None), "lead")["element"]


# --- readers ----------------------------------------------------------------------------------------


def test_read_path_reads_the_chosen_path() -> None:
    for kind in EscalationKind:
        assert read_path({"escalation_path": {"escalation_path": chosen(kind.value)}}) is kind


def test_read_path_is_none_when_nothing_or_something_unknown_was_chosen() -> None:
    assert read_path({}) is None
    assert read_path({"escalation_path": {"escalation_path": chosen(None)}}) is None
    assert read_path({"escalation_path": {"escalation_path": chosen("pager")}}) is None
    assert read_path({"escalation_path": {}}) is None


def test_read_handoff_strips_what_was_typed_and_reads_missing_as_empty() -> None:
    values = {
        "reproduction": {"reproduction": typed("  1. Upload\n2. Wait  ")},
        "expected": {"expected": typed("It completes")},
        "actual": {"actual": typed("Stops at 99%\n")},
        "environment": {"environment": typed(None)},
        "impact": {"impact": typed("Filing at 17:00")},
    }
    assert read_handoff(values) == HandoffForm(
        reproduction="1. Upload\n2. Wait",
        expected="It completes",
        actual="Stops at 99%",
        environment="",
        evidence="",
        impact="Filing at 17:00",
    )
    assert read_handoff({}) == HandoffForm("", "", "", "", "", "")


def test_read_feedback_reads_track_area_and_use_case() -> None:
    values = {
        "track": {"track": chosen("messaging")},
        "area": {"area": chosen("Document upload", "static_select")},
        "use_case": {"use_case": typed("  They need clearer errors. ")},
    }
    assert read_feedback(values) == FeedbackForm(
        track=FeedbackTrack.MESSAGING, area="Document upload", use_case="They need clearer errors."
    )
    other = {"track": {"track": chosen("stability")}, "area": {"area": chosen("other", "static_select")}}
    assert read_feedback(other) == FeedbackForm(track=FeedbackTrack.STABILITY, area="other", use_case="")


def test_read_feedback_with_missing_or_unknown_choices() -> None:
    assert read_feedback({}) == FeedbackForm(track=None, area=None, use_case="")
    values = {
        "track": {"track": chosen("vibes")},
        "area": {"area": chosen(None, "static_select")},
        "use_case": {"use_case": typed(None)},
    }
    assert read_feedback(values) == FeedbackForm(track=None, area=None, use_case="")


def test_read_lead() -> None:
    assert read_lead({"lead": {"lead": {"type": "users_select", "selected_user": "ULEAD"}}}) == "ULEAD"
    assert read_lead({"lead": {"lead": {"type": "users_select", "selected_user": None}}}) is None
    assert read_lead({"lead": {"lead": {"type": "users_select", "selected_user": ""}}}) is None
    assert read_lead({"lead": {"lead": {"type": "users_select"}}}) is None
    assert read_lead({}) is None


# --- escalation_line --------------------------------------------------------------------------------


def test_filed_jira_issue_links_its_key_and_shows_its_status() -> None:
    line = escalation_line(
        an_escalation(
            K.ENGINEERING,
            S.FILED,
            external_ref="OPS-12",
            external_url="https://jira.example/browse/OPS-12",
            external_status="In Progress",
        )
    )
    assert line.lower().startswith("engineering handoff (jira): ")
    assert line.endswith(": <https://jira.example/browse/OPS-12|OPS-12> (In Progress)")


def test_filed_feedback_without_url_shows_the_escaped_ref_and_status() -> None:
    line = escalation_line(an_escalation(K.PRODUCT_FEEDBACK, S.FILED, external_ref="FB<7>", external_status="A & B"))
    assert line == "Product feedback: FB&lt;7&gt; (A &amp; B)"
    assert escalation_line(an_escalation(K.PRODUCT_FEEDBACK, S.FILED, external_ref="FB-7")) == "Product feedback: FB-7"


def test_filed_internal_notice_says_where_it_was_posted_with_a_link_to_the_message() -> None:
    escalation = an_escalation(K.INTERNAL, S.FILED, external_ref="CENGESC", external_url="https://x.slack.com/p1")
    assert escalation_line(escalation) == "Internal notice: posted in <#CENGESC> (<https://x.slack.com/p1|message>)"
    unlinked = an_escalation(K.INTERNAL, S.FILED, external_ref="CENGESC")
    assert escalation_line(unlinked) == "Internal notice: posted in <#CENGESC>"


def test_incident_management_mentions_its_channel() -> None:
    escalation = an_escalation(K.INCIDENT_MANAGEMENT, S.FILED, external_ref="CMAJOR")
    assert escalation_line(escalation) == "Incident management: <#CMAJOR>"


def test_pending_escalation_is_in_progress_until_an_attempt_fails() -> None:
    assert escalation_line(an_escalation(K.INTERNAL, S.PENDING)) == "Internal notice: in progress"
    assert escalation_line(an_escalation(K.INCIDENT_MANAGEMENT, S.PENDING)) == "Incident management: in progress"
    engineering = escalation_line(an_escalation(K.ENGINEERING, S.PENDING))
    assert engineering.lower() == "engineering handoff (jira): in progress"


def test_pending_escalation_with_an_error_is_retrying() -> None:
    for kind in (K.ENGINEERING, K.PRODUCT_FEEDBACK):
        assert escalation_line(an_escalation(kind, S.PENDING, last_error="502")) == "Jira ticket pending — retrying"
    assert escalation_line(an_escalation(K.INTERNAL, S.PENDING, last_error="ratelimited")) == (
        "Internal notice pending — retrying"
    )
    assert escalation_line(an_escalation(K.INCIDENT_MANAGEMENT, S.PENDING, last_error="name_taken")) == (
        "Incident management pending — retrying"
    )


def test_not_configured_escalation_is_recorded_only() -> None:
    assert escalation_line(an_escalation(K.PRODUCT_FEEDBACK, S.NOT_CONFIGURED)) == (
        "Product feedback: recorded, not filed (not configured)"
    )
    line = escalation_line(an_escalation(K.ENGINEERING, S.NOT_CONFIGURED))
    assert line.endswith(": recorded, not filed (not configured)")


def test_failed_escalation_shows_the_error_escaped_and_shortened() -> None:
    failed = an_escalation(K.INTERNAL, S.FAILED, last_error="not_in_channel <!channel> & <@U1>")
    assert escalation_line(failed) == "Internal notice: failed — not_in_channel &lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escalation_line(an_escalation(K.INTERNAL, S.FAILED)) == "Internal notice: failed — unknown error"
    long_error = escalation_line(an_escalation(K.PRODUCT_FEEDBACK, S.FAILED, last_error="x" * 500))
    assert long_error == "Product feedback: failed — " + "x" * 199 + "…"


# --- lead_line --------------------------------------------------------------------------------------


def test_lead_line() -> None:
    assert lead_line(an_incident()) is None
    assert lead_line(an_incident(is_major=False, lead_id="ULEAD", major_channel_id="CMAJOR")) is None
    assert lead_line(an_incident(is_major=True)) == "🚨 *Incident management*"
    assert lead_line(an_incident(is_major=True, lead_id="ULEAD", major_channel_id="CMAJOR")) == (
        "🚨 *Incident management* in <#CMAJOR> · incident lead <@ULEAD>"
    )
    assert (
        lead_line(an_incident(is_major=True, lead_id="SLEADS"))
        == "🚨 *Incident management* · incident lead <!subteam^SLEADS>"
    )


# --- internal_notice --------------------------------------------------------------------------------


def a_full_incident(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "deadline_at": T0 + timedelta(hours=1, minutes=55),
        "deadline_context": "court filing",
        "root_permalink": "https://acme.slack.com/archives/CSUPPORT/p1",
        "environment": Environment(
            file_size_text="250 MB",
            file_size_bytes=250_000_000,
            browser="Chrome",
            browser_version="126",
            os="Windows 11",
            started_text="today 09:40",
            frequency="every time",
            already_tried="Another browser",
        ),
    }
    fields.update(changes)
    return an_incident(**fields)


def test_internal_notice_has_everything_engineering_needs() -> None:
    message = internal_notice(
        a_full_incident(blocker="Uploads stop at 99%.\nThen the page reloads."), now=T0, zone=UTC_ZONE
    )
    assert message.text.splitlines() == [
        "📣 *INC-7* SEV2 · Hartley &amp; Moss LLP (⭐ premium) · on-call <@UONCALL>",
        "*Blocker:* Uploads stop at 99%.",
        f"*Deadline:* {AT_10_55} (court filing), in 1 h 55 min",
        "*Environment:* File size: 250 MB · Browser: Chrome 126 · OS: Windows 11 · Started: today 09:40 · "
        "Frequency: every time",
        "Details in <https://acme.slack.com/archives/CSUPPORT/p1|the incident thread>.",
    ]
    assert [b.to_dict() for b in message.blocks] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": message.text}}
    ]


def test_internal_notice_for_a_standard_client_with_nothing_recorded() -> None:
    incident = an_incident(
        client=Client(name="Acme", name_key="acme", tier=ClientTier.STANDARD, created_at=T0), oncall_id=None
    )
    assert internal_notice(incident, now=T0, zone=UTC_ZONE).text.splitlines() == [
        "📣 *INC-7* SEV2 · Acme (standard)",
        "*Blocker:* Uploads stop at 99%.",
        "*Deadline:* no deadline",
        "*Environment:* not recorded yet",
        "Details in the thread in <#CSUPPORT>.",
    ]


def test_internal_notice_deadline_passed_and_without_context() -> None:
    incident = an_incident(deadline_at=T0 - timedelta(minutes=30))
    lines = internal_notice(incident, now=T0, zone=UTC_ZONE).text.splitlines()
    assert (
        lines[2] == "*Deadline:* <!date^1796027400^{date_short_pretty} {time}|Mon 30 Nov 08:30 UTC>, passed 30 min ago"
    )


def test_internal_notice_never_lets_typed_text_ping() -> None:
    incident = a_full_incident(
        client=Client(name="Evil <!channel> Co", name_key="evil", tier=ClientTier.STANDARD, created_at=T0),
        blocker="<!here> it broke <https://evil.example|click>",
        deadline_context="<!everyone> filing",
        environment=Environment(os="<@U999>"),
    )
    text = internal_notice(incident, now=T0, zone=UTC_ZONE).text
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<https://evil.example|click>"):
        assert raw not in text
    assert "Evil &lt;!channel&gt; Co (standard)" in text
    assert "*Blocker:* &lt;!here&gt; it broke &lt;https://evil.example|click&gt;" in text
    assert "(&lt;!everyone&gt; filing)" in text
    assert "*Environment:* OS: &lt;@U999&gt;" in text


def test_internal_notice_shortens_a_long_blocker_line() -> None:
    text = internal_notice(an_incident(blocker="y" * 400), now=T0, zone=UTC_ZONE).text
    assert text.splitlines()[1] == "*Blocker:* " + "y" * 299 + "…"


# --- major_brief ------------------------------------------------------------------------------------


def test_major_brief_pins_what_the_channel_needs() -> None:
    incident = a_full_incident(scope="systemic", blocker="Uploads stop at 99%.\nEvery account in eu-west.")
    message = major_brief(incident, lead_id="ULEAD", related=["INC-3", "INC-5"], now=T0, zone=UTC_ZONE)
    assert message.text.splitlines() == [
        "🚨 *Incident management: INC-7* — Exhibit upload fails at 99%",
        "*Incident lead:* <@ULEAD> · *Severity:* SEV2 · *Scope:* systemic",
        f"*Client:* Hartley &amp; Moss LLP · *Deadline:* {AT_10_55} (in 1 h 55 min)",
        "*Blocker:* Uploads stop at 99%.",
        "Every account in eu-west.",
        "*Related incidents:* INC-3, INC-5",
        "*History:* <https://acme.slack.com/archives/CSUPPORT/p1|main thread>",
    ]
    assert message.blocks[0].to_dict()["text"]["text"] == message.text


def test_major_brief_without_deadline_scope_related_or_permalink() -> None:
    incident = an_incident(title="Everything <!channel> down")
    text = major_brief(incident, lead_id="ULEAD", related=[], now=T0, zone=UTC_ZONE).text
    assert text.splitlines() == [
        "🚨 *Incident management: INC-7* — Everything &lt;!channel&gt; down",
        "*Incident lead:* <@ULEAD> · *Severity:* SEV2 · *Scope:* systemic?",
        "*Client:* Hartley &amp; Moss LLP · *Deadline:* none",
        "*Blocker:* Uploads stop at 99%.",
        "*Related incidents:* none found yet",
        "*History:* <#CSUPPORT>",
    ]
