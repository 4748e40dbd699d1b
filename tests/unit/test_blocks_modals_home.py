"""Unit tests of the incident modals and their readers, App Home, on-call text and the root message's dashboard."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from blocks.home import home_view
from blocks.incident import Dashboard, NextCheckin, root_message
from blocks.incident_modals import (
    LoggedStep,
    ScopeDecision,
    StatusChange,
    add_details_modal,
    change_status_modal,
    client_update_modal,
    details_of,
    incident_id_of,
    isolate_modal,
    log_step_modal,
    read_client_update,
    read_isolation,
    read_log_step,
    read_status_change,
)
from blocks.lists import incident_list_blocks
from blocks.oncall import (
    no_rotation_text,
    oncall_blocks,
    oncall_line,
    oncall_page,
    override_cancelled_notice,
    override_set_notice,
    team_sections,
)
from bot.domain.incidents import TEXT_LIMITS, DetailsReport, EnvironmentReport, ReportField, validate_details
from bot.domain.isolation import Isolation, SimilarIncident
from bot.domain.oncall import ActiveOverride, OnCall
from bot.domain.triage import StepKind, StepOutcome, StepView
from bot.models import Environment, IncidentStatus, Scope, Severity, TriageStep
from bot.sandbox.emulator.blockkit import check_view
from tests.builders import an_incident
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")
AT_T0 = "<!date^1796029200^{date_short_pretty} {time}|Mon 30 Nov 09:00 UTC>"
AT_10_55 = "<!date^1796036100^{date_short_pretty} {time}|Mon 30 Nov 10:55 UTC>"
TOMORROW_11 = "<!date^1796122800^{date_short_pretty} {time}|Tue 01 Dec 11:00 UTC>"


def blocks_of(view: Any) -> list[dict[str, Any]]:
    return view.to_dict()["blocks"]


def block(view: Any, block_id: str) -> dict[str, Any]:
    return next(b for b in blocks_of(view) if b.get("block_id") == block_id)


def options_of(element: dict[str, Any], key: str = "options") -> list[tuple[str, str]]:
    return [(o["value"], o["text"]["text"]) for o in element.get(key) or []]


def chosen(value: str | None) -> dict[str, Any]:
    option = None if value is None else {"value": value, "text": {"type": "plain_text", "text": value}}
    return {"type": "static_select", "selected_option": option}


def typed(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


# --- log_step_modal ---------------------------------------------------------------------------------


def test_log_step_modal_asks_what_was_done_and_how_it_went() -> None:
    view = log_step_modal(an_incident())
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_log_step_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"], as_dict["close"]["text"]) == (
        "Log a step",
        "Log it",
        "Cancel",
    )
    assert incident_id_of(as_dict["private_metadata"]) == 7
    assert as_dict["blocks"][0]["text"]["text"] == "*INC-7* · Exhibit upload fails at 99%"
    kind = block(view, "step_kind")
    assert kind["label"]["text"] == "What is it" and kind["element"]["type"] == "radio_buttons"
    assert options_of(kind["element"]) == [
        ("reproduction", "Reproduction attempt"),
        ("hypothesis", "Hypothesis"),
        ("step", "Troubleshooting step"),
    ]
    assert kind["element"]["initial_option"]["value"] == "step"
    description = block(view, "step_description")
    assert description["label"]["text"] == "What was done or supposed"
    assert description["element"]["multiline"] is True and description["element"]["max_length"] == 2000
    outcome = block(view, "step_outcome")
    assert options_of(outcome["element"]) == [
        ("confirmed", "Confirmed"),
        ("ruled_out", "Ruled out"),
        ("inconclusive", "Inconclusive"),
    ]
    assert outcome["element"]["initial_option"]["value"] == "inconclusive"


# --- change_status_modal ----------------------------------------------------------------------------


def status_values(status: IncidentStatus) -> list[str]:
    element = block(change_status_modal(an_incident(status=status)), "status")["element"]
    assert element["initial_option"]["value"] == status.value, "the current status is preselected"
    return [value for value, _ in options_of(element)]


def test_change_status_modal_offers_the_current_status_and_allowed_moves_only() -> None:
    assert status_values(IncidentStatus.NEW) == ["new", "investigating", "escalated", "mitigated", "resolved"]
    assert status_values(IncidentStatus.INVESTIGATING) == ["investigating", "escalated", "mitigated", "resolved"]
    assert status_values(IncidentStatus.ESCALATED) == ["escalated", "investigating", "mitigated", "resolved"]
    assert status_values(IncidentStatus.MITIGATED) == ["mitigated", "investigating", "escalated", "resolved"]
    assert status_values(IncidentStatus.RESOLVED) == ["resolved", "investigating", "closed"]
    assert status_values(IncidentStatus.CLOSED) == ["closed"]


def test_change_status_modal_labels_and_severity() -> None:
    view = change_status_modal(an_incident(status=IncidentStatus.MITIGATED, severity=Severity.SEV3))
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_change_status_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Status and severity", "Save")
    status = block(view, "status")
    assert status["element"]["type"] == "static_select"
    assert [text for _, text in options_of(status["element"])] == [
        "Mitigated",
        "Investigating",
        "Escalated",
        "Resolved",
    ]
    severity = block(view, "severity")["element"]
    assert [value for value, _ in options_of(severity)] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert severity["initial_option"] == {
        "value": "SEV3",
        "text": {"type": "plain_text", "text": "SEV3 — Minor: impaired, but a workaround exists", "emoji": True},
    }
    reason = block(view, "reason")
    assert reason["optional"] is True and reason["label"]["text"] == "Why (shown in the audit trail)"
    assert reason["element"]["max_length"] == 300


# --- add_details_modal ------------------------------------------------------------------------------


def test_details_of_reads_what_is_recorded() -> None:
    incident = an_incident(
        workflow="document upload",
        region="eu-west",
        environment=Environment(
            file_size_text="250 MB",
            browser="Chrome",
            browser_version="126",
            os="Windows 11",
            started_text="today 09:40",
            frequency="intermittently",
            already_tried="Edge",
        ),
    )
    assert details_of(incident) == DetailsReport(
        workflow="document upload",
        region="eu-west",
        environment=EnvironmentReport(
            file_size="250 MB",
            browser="Chrome 126",
            os="Windows 11",
            started="today 09:40",
            frequency="intermittently",
            already_tried="Edge",
        ),
    )
    assert details_of(an_incident()) == DetailsReport()
    assert details_of(an_incident(environment=Environment(browser_version="126"))).environment.browser == "126"
    assert details_of(an_incident(environment=Environment(os="macOS"))).environment.browser is None


def test_a_recorded_value_longer_than_the_input_takes_is_shown_whole_and_slack_takes_the_form() -> None:
    """The database keeps 100 characters of an operating system where the form takes 80: prefilled cut, it would be
    lost on saving; prefilled whole into an 80-character input, Slack would refuse to open the form."""
    long_os = "Windows 11 Enterprise LTSC 24H2 build 26100.2894 on a Citrix VDI with FSLogix profiles"
    assert len(long_os) > TEXT_LIMITS[ReportField.OS]
    as_dict = add_details_modal(an_incident(environment=Environment(os=long_os)), []).to_dict()
    os_input = next(b["element"] for b in as_dict["blocks"] if b.get("block_id") == "os")
    assert (os_input["initial_value"], os_input["max_length"]) == (long_os, len(long_os))
    assert check_view(as_dict) == []
    problems = validate_details(DetailsReport(environment=EnvironmentReport(os=long_os)))
    assert problems[ReportField.OS].startswith("Keep this under 80 characters"), "saving it asks for it shorter"


def test_add_details_modal_is_prefilled_and_says_what_is_missing() -> None:
    incident = an_incident(
        workflow="document upload",
        environment=Environment(browser="Chrome", browser_version="126", frequency="every time"),
    )
    view = add_details_modal(incident, ["file size", "operating system", "when it started"])
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_add_details_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Add details", "Save")
    assert as_dict["blocks"][1]["text"]["text"] == "_Still missing: file size, operating system, when it started._"
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in as_dict["blocks"]
        if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    }
    assert initial == {
        "workflow": "document upload",
        "region": None,
        "file_size": None,
        "browser": "Chrome 126",
        "os": None,
        "started": None,
        "already_tried": None,
    }
    assert block(view, "frequency")["element"]["initial_option"]["value"] == "every time"


def test_add_details_modal_when_nothing_is_missing() -> None:
    view = add_details_modal(an_incident(), [])
    assert blocks_of(view)[1]["text"]["text"] == "_Everything the playbook asks for is recorded._"
    assert "initial_option" not in block(view, "frequency")["element"]


# --- isolate_modal ----------------------------------------------------------------------------------


def a_match(number: int, **changes: Any) -> SimilarIncident:
    fields: dict[str, Any] = {
        "incident_id": number,
        "key": f"INC-{number}",
        "client_name": "Acme",
        "title": "Uploads fail",
        "status": "new",
        "opened_at": T0 - timedelta(minutes=30),
        "shared": ("region eu-west",),
        "blocker_similarity": 0.4,
    }
    fields.update(changes)
    return SimilarIncident(**fields)


def an_isolation(matches: list[SimilarIncident], *, likely_systemic: bool, summary: str = "Summary") -> Isolation:
    return Isolation(matches, timedelta(hours=2), len(matches), summary, likely_systemic=likely_systemic)


def test_isolate_modal_suggests_systemic_and_prechecks_related_when_likely_systemic() -> None:
    isolation = an_isolation(
        [a_match(12), a_match(13, client_name="Beta", shared=("workflow upload", "similar blocker"))],
        likely_systemic=True,
        summary="2 other accounts report <upload> failing — likely systemic",
    )
    view = isolate_modal(an_incident(scope="account"), isolation)
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_isolate_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Isolate", "Save scope")
    assert as_dict["blocks"][1]["text"]["text"] == "2 other accounts report &lt;upload&gt; failing — likely systemic"
    scope = block(view, "scope")
    assert scope["label"]["text"] == "How far does it reach?"
    assert options_of(scope["element"]) == [
        ("account", "One account (this client only)"),
        ("region", "A region"),
        ("workflow", "A specific workflow"),
        ("systemic", "Systemic (many accounts)"),
    ]
    assert scope["element"]["initial_option"]["value"] == "systemic"
    related = block(view, "related")
    assert related["optional"] is True and related["label"]["text"] == "Link these incidents (same cause)"
    assert related["element"]["type"] == "checkboxes"
    expected = [
        ("12", "INC-12 Acme: Uploads fail (region eu-west)"),
        ("13", "INC-13 Beta: Uploads fail (workflow upload, similar blocker)"),
    ]
    assert options_of(related["element"]) == expected
    assert options_of(related["element"], "initial_options") == expected


def test_isolate_modal_keeps_the_recorded_scope_and_checks_nothing_when_not_systemic() -> None:
    isolation = an_isolation([a_match(12)], likely_systemic=False)
    view = isolate_modal(an_incident(scope="region"), isolation)
    assert block(view, "scope")["element"]["initial_option"]["value"] == "region"
    assert "initial_options" not in block(view, "related")["element"]
    unscoped = isolate_modal(an_incident(), isolation)
    assert block(unscoped, "scope")["element"]["initial_option"]["value"] == "account"


def test_isolate_modal_without_matches_has_no_related_input() -> None:
    view = isolate_modal(an_incident(), an_isolation([], likely_systemic=False))
    assert [b.get("block_id") for b in blocks_of(view) if b["type"] == "input"] == ["scope"]


def test_isolate_modal_offers_at_most_ten_related_incidents() -> None:
    view = isolate_modal(an_incident(), an_isolation([a_match(n) for n in range(20, 35)], likely_systemic=True))
    values = [value for value, _ in options_of(block(view, "related")["element"])]
    assert values == [str(n) for n in range(20, 30)]


def test_isolate_modal_opens_with_long_related_titles() -> None:
    """Slack (and slack_sdk) cap an option's text at 75 characters; the related options are cut at 150,
    so a typical match ("INC-12 Hartley & Moss LLP: … (workflow …, region …, similar blocker)") makes
    View.to_dict() raise SlackObjectFormationError and the Isolate modal never opens."""
    match = a_match(
        12,
        client_name="Hartley & Moss LLP",
        title="Exhibit upload fails at 99%",
        shared=("workflow document upload", "region eu-west", "similar blocker"),
    )
    view = isolate_modal(an_incident(), an_isolation([match], likely_systemic=True))
    options = block(view, "related")["element"]["options"]
    assert options[0]["value"] == "12"
    assert options[0]["text"]["text"].startswith("INC-12 Hartley & Moss LLP: Exhibit upload")
    assert len(options[0]["text"]["text"]) <= 75


# --- client_update_modal ----------------------------------------------------------------------------


def test_client_update_modal_starts_from_the_draft_and_says_when_the_next_is_due() -> None:
    view = client_update_modal(an_incident(), "Hello Hartley & Moss,\nWe are on it.", "10:30 UTC")
    as_dict = view.to_dict()
    assert as_dict["callback_id"] == "incident_client_update_modal"
    assert (as_dict["title"]["text"], as_dict["submit"]["text"]) == ("Client update", "Record update")
    update = block(view, "update_text")
    assert update["label"]["text"] == "Update for the client (edit freely)"
    assert update["hint"]["text"] == (
        "Send it to the client, then record it here. The next update will be due by 10:30 UTC."
    )
    assert update["element"]["initial_value"] == "Hello Hartley & Moss,\nWe are on it."
    assert update["element"]["multiline"] is True and update["element"]["max_length"] == 2500


# --- readers ----------------------------------------------------------------------------------------


def test_read_log_step() -> None:
    values = {
        "step_kind": {"step_kind": chosen("hypothesis")},
        "step_description": {"step_description": typed("  Proxy strips large bodies \n")},
        "step_outcome": {"step_outcome": chosen("ruled_out")},
    }
    assert read_log_step(values) == LoggedStep(
        kind=StepKind.HYPOTHESIS, description="Proxy strips large bodies", outcome=StepOutcome.RULED_OUT
    )


def test_read_log_step_with_missing_or_unknown_values() -> None:
    assert read_log_step({}) == LoggedStep(kind=None, description="", outcome=None)
    values = {
        "step_kind": {"step_kind": chosen("guess")},
        "step_description": {"step_description": typed(None)},
        "step_outcome": {"step_outcome": chosen(None)},
    }
    assert read_log_step(values) == LoggedStep(kind=None, description="", outcome=None)


def test_read_status_change() -> None:
    values = {
        "status": {"status": chosen("mitigated")},
        "severity": {"severity": chosen("SEV1")},
        "reason": {"reason": typed("  Workaround in place ")},
    }
    assert read_status_change(values) == StatusChange(
        status=IncidentStatus.MITIGATED, severity=Severity.SEV1, reason="Workaround in place"
    )


def test_read_status_change_with_bad_values() -> None:
    values = {
        "status": {"status": chosen("on_fire")},
        "severity": {"severity": chosen("sev1")},
        "reason": {"reason": typed("   ")},
    }
    assert read_status_change(values) == StatusChange(status=None, severity=None, reason=None)
    assert read_status_change({}) == StatusChange(status=None, severity=None, reason=None)


def test_read_isolation() -> None:
    values = {
        "scope": {"scope": {"type": "radio_buttons", "selected_option": {"value": "systemic"}}},
        "related": {
            "related": {
                "type": "checkboxes",
                "selected_options": [{"value": "12"}, {"value": "x13"}, {"value": "-4"}, {}, {"value": "14"}],
            }
        },
    }
    assert read_isolation(values) == ScopeDecision(scope=Scope.SYSTEMIC, related_ids=[12, 14])


def test_read_isolation_with_nothing_chosen() -> None:
    assert read_isolation({}) == ScopeDecision(scope=None, related_ids=[])
    values = {
        "scope": {"scope": {"type": "radio_buttons", "selected_option": {"value": "galaxy"}}},
        "related": {"related": {"type": "checkboxes", "selected_options": []}},
    }
    assert read_isolation(values) == ScopeDecision(scope=None, related_ids=[])


def test_read_client_update() -> None:
    assert read_client_update({"update_text": {"update_text": typed("\n Hello, \n")}}) == "Hello,"
    assert read_client_update({"update_text": {"update_text": typed(None)}}) == ""
    assert read_client_update({}) == ""


# --- home_view --------------------------------------------------------------------------------------


def an_oncall(**changes: Any) -> OnCall:
    fields: dict[str, Any] = {
        "team": "Platform",
        "user_id": "UONCALL",
        "via_override": False,
        "until": None,
        "next_user_id": None,
        "escalation_channel_id": None,
    }
    fields.update(changes)
    return OnCall(**fields)


def test_home_view_sections_with_nothing_open() -> None:
    view = home_view(mine=[], everyone=[], oncalls=[], fallback_oncall=None, now=T0, zone=UTC_ZONE)
    as_dict = view.to_dict()
    assert as_dict["type"] == "home"
    summary = [(b["type"], (b.get("text") or {}).get("text")) for b in as_dict["blocks"]]
    assert summary == [
        ("header", "My open incidents"),
        ("section", "_Nothing you own or reported is open._"),
        ("divider", None),
        ("header", "All open incidents, nearest deadline first"),
        ("section", "No open incidents. 🎉 `/triage` opens one."),
        ("divider", None),
        ("header", "On call now"),
        ("section", "No on-call rotation is set up. Load one with `triage-bot oncall load rotations.yaml`."),
    ]


def test_home_view_lists_incidents_and_who_is_on_call() -> None:
    mine = [an_incident(owner_id="UME", deadline_at=T0 + timedelta(hours=1, minutes=55))]
    everyone = [*mine, an_incident(id=8, title="Search slow", severity=Severity.SEV3)]
    view = home_view(
        mine=mine, everyone=everyone, oncalls=[an_oncall()], fallback_oncall="UFALL", now=T0, zone=UTC_ZONE
    )
    texts = [(b.get("text") or {}).get("text") for b in blocks_of(view)]
    first = (
        "*INC-7* 🟠 SEV2 · Hartley &amp; Moss LLP · Exhibit upload fails at 99% · deadline in 1 h 55 min · new · <@UME>"
    )
    assert texts == [
        "My open incidents",
        first,
        None,
        "All open incidents, nearest deadline first",
        first,
        "*INC-8* 🟡 SEV3 · Hartley &amp; Moss LLP · Search slow · no deadline · new · unassigned",
        None,
        "On call now",
        "*Platform*: <@UONCALL>",
    ]


def test_home_view_stays_within_the_block_limit_with_many_incidents() -> None:
    many = [an_incident(id=n) for n in range(1, 301)]
    view = home_view(mine=many, everyone=many, oncalls=[], fallback_oncall=None, now=T0, zone=UTC_ZONE)
    blocks = blocks_of(view)
    assert len(blocks) <= 100
    more = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert more == ["…and 280 more — `/triage list`", "…and 280 more — `/triage list 2`"]
    keys = [b["text"]["text"].split("*")[1] for b in blocks if b["type"] == "section" and "*INC-" in b["text"]["text"]]
    assert keys == [f"INC-{n}" for n in range(1, 21)] * 2
    assert blocks[-2]["text"]["text"] == "On call now", "the on-call section is never cut off"


# --- oncall -----------------------------------------------------------------------------------------


def test_oncall_line_plain() -> None:
    assert oncall_line(an_oncall(), UTC_ZONE) == "*Platform*: <@UONCALL>"


def test_oncall_line_with_override_until_and_next() -> None:
    oncall = an_oncall(
        team="Support <!here> & Co", via_override=True, until=T0 + timedelta(days=1, hours=2), next_user_id="UNEXT"
    )
    assert oncall_line(oncall, UTC_ZONE) == (
        f"*Support &lt;!here&gt; &amp; Co*: <@UONCALL> (override) until {TOMORROW_11} · next: <@UNEXT>"
    )
    assert (
        oncall_line(an_oncall(user_id="SGROUP", until=T0), UTC_ZONE) == f"*Platform*: <!subteam^SGROUP> until {AT_T0}"
    )


def test_team_sections_join_the_rotations() -> None:
    page = oncall_page([an_oncall(), an_oncall(team="Data", user_id="UDATA", next_user_id="UD2")], UTC_ZONE)
    [section] = [b.to_dict() for b in team_sections(page)]
    assert section["text"]["text"] == "*Platform*: <@UONCALL>\n*Data*: <@UDATA> · next: <@UD2>"


def test_no_rotation_text() -> None:
    assert no_rotation_text(None) == (
        "No on-call rotation is set up. Load one with `triage-bot oncall load rotations.yaml`."
    )
    assert no_rotation_text("UFALL") == (
        "No on-call rotation is set up. Load one with `triage-bot oncall load rotations.yaml`. "
        "Meanwhile <@UFALL> (ONCALL_SLACK_ID) is paged."
    )


def test_oncall_blocks() -> None:
    blocks = [b.to_dict() for b in oncall_blocks([an_oncall()], [], None, UTC_ZONE)]
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[1]["text"]["text"] == "*Platform*: <@UONCALL>"
    assert blocks[2]["elements"][0]["text"] == (
        "Cover for someone: `/triage oncall override @user 4h [team]` · end it: `/triage oncall cancel [team]`"
    )


def test_oncall_blocks_list_the_overrides_in_force() -> None:
    cover = ActiveOverride(
        id=3, team="Platform <!here>", user_id="UDAVE", replaces="UBOB", ends_at=T0, created_by="ULEAD"
    )
    self_cover = ActiveOverride(id=4, team="Data", user_id="UBOB", replaces="UBOB", ends_at=T0, created_by="UBOB")
    blocks = [b.to_dict() for b in oncall_blocks([an_oncall()], [cover, self_cover], None, UTC_ZONE)]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[2]["text"]["text"] == (
        "*Active overrides*\n"
        f"*Platform &lt;!here&gt;*: <@UDAVE> covers for <@UBOB> until {AT_T0} (set by <@ULEAD>)\n"
        f"*Data*: <@UBOB> covers until {AT_T0} (set by <@UBOB>)"
    )


def test_override_notices_say_who_covers_for_whom_and_how_to_end_it() -> None:
    notice = override_set_notice(
        team="platform", cover_id="UDAVE", replaces="UBOB", ends_at=T0, set_by="ULEAD", zone=UTC_ZONE
    )
    assert notice.text == (
        f"🔁 <@UDAVE> is on call for *platform* instead of <@UBOB> until {AT_T0} (override set by <@ULEAD>). "
        "Pages for new incidents go to them. Not expected? `/triage oncall cancel platform` ends it."
    )
    ended = override_cancelled_notice(team="platform", cover_id="UDAVE", back_to="UBOB", cancelled_by="UBOB")
    assert ended.text == "↩️ <@UBOB> ended <@UDAVE>'s override of *platform*. <@UBOB> is on call again."


# --- root_message with a dashboard ------------------------------------------------------------------


def steps(done: dict[TriageStep, tuple[str | None, Any]]) -> list[StepView]:
    titles = {
        TriageStep.GATHER: "Immediate Action",
        TriageStep.INVESTIGATE: "Investigate",
        TriageStep.ISOLATE: "Isolate",
        TriageStep.ESCALATE: "Escalate",
    }
    views = []
    for step, title in titles.items():
        who, at = done.get(step, (None, None))
        views.append(StepView(step, title, step in done, who, at, None))
    return views


def texts_of(message: Any) -> list[str]:
    out = []
    for b in message.as_args()["blocks"]:
        if b["type"] in ("section", "header") and "text" in b:
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.append(b["elements"][0]["text"])
    return out


def buttons_of(message: Any) -> list[tuple[str, str, str | None]]:
    actions = [b for b in message.as_args()["blocks"] if b["type"] == "actions"]
    if not actions:
        return []
    assert actions[0]["block_id"] == "incident_actions_7"
    return [(e["text"]["text"], e["action_id"], e.get("style")) for e in actions[0]["elements"]]


def test_root_message_checklist_shows_who_did_each_step() -> None:
    done = steps({TriageStep.GATHER: ("UREP", T0), TriageStep.INVESTIGATE: ("bot", T0)})
    dashboard = Dashboard(steps=[*done, StepView(TriageStep.ISOLATE, "Done without a time", True, "UX", None, None)])
    message = root_message(an_incident(), now=T0, zone=UTC_ZONE, dashboard=dashboard)
    checklist = [t for t in texts_of(message) if t.startswith("*Triage*")]
    assert checklist == [
        f"*Triage*  ✅ *Immediate Action* done by <@UREP> {AT_T0}  ·  ✅ *Investigate* done by triage-bot {AT_T0}  ·  "
        "⬜ Isolate (to do)  ·  ⬜ Escalate (to do)  ·  ⬜ Done without a time (to do)"
    ]


def test_root_message_without_a_dashboard_has_no_checklist_escalations_or_major_line() -> None:
    message = root_message(an_incident(), now=T0, zone=UTC_ZONE)
    assert [b["type"] for b in message.as_args()["blocks"]] == [
        "header",
        "section",
        "section",
        "context",
        "context",
        "actions",
    ]
    assert not any(t.startswith(("*Triage*", "*Escalations*", "🚨")) for t in texts_of(message))


def test_root_message_escalation_lines_and_major_line() -> None:
    dashboard = Dashboard(
        steps=steps({}),
        escalation_lines=["Internal notice: posted", "Incident management: <#CMAJOR>"],
        major_line="🚨 *Major incident* in <#CMAJOR> · lead <@ULEAD>",
        linked_keys=["INC-3", "INC-5"],
        next_checkin=NextCheckin(label="client update", at=T0 + timedelta(hours=1, minutes=55)),
    )
    message = root_message(an_incident(scope="systemic"), now=T0, zone=UTC_ZONE, dashboard=dashboard)
    blocks = message.as_args()["blocks"]
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "section",
        "section",
        "context",
        "section",
        "section",
        "context",
        "actions",
    ]
    assert blocks[1]["text"]["text"] == "🚨 *Major incident* in <#CMAJOR> · lead <@ULEAD>"
    assert "fields" in blocks[2], "the facts follow the major line"
    assert (
        blocks[5]["text"]["text"]
        == "*Triage*  ⬜ Immediate Action (to do)  ·  ⬜ Investigate (to do)  ·  ⬜ Isolate (to do)  ·  ⬜ Escalate (to do)"
    )
    assert blocks[6]["text"]["text"] == "*Escalations*  Internal notice: posted  ·  Incident management: <#CMAJOR>"
    assert blocks[7]["elements"][0]["text"] == (
        f"Opened {AT_T0} · Scope: *systemic* · Linked: INC-3, INC-5 · "
        f"Next check-in: client update {AT_10_55} (in 1 h 55 min) · updates in the thread 🧵"
    )


def test_root_message_buttons_before_acknowledgement() -> None:
    message = root_message(an_incident(), now=T0, zone=UTC_ZONE, dashboard=Dashboard())
    assert buttons_of(message) == [
        ("Acknowledge", "incident_acknowledge", "primary"),
        ("Add details", "incident_add_details", None),
        ("Log a step", "incident_log_step", None),
        ("Status / severity", "incident_change_status", None),
        ("Isolate", "incident_isolate", None),
        ("Escalate", "incident_escalate", "danger"),
        ("Start a workaround", "incident_start_workaround", None),
        ("Client update", "incident_client_update", None),
        ("Resolve", "incident_resolve", None),
    ]
    values = {e["value"] for b in message.as_args()["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert values == {"7"}


def test_root_message_buttons_after_acknowledgement_and_once_resolved() -> None:
    acknowledged = an_incident(status=IncidentStatus.INVESTIGATING, acknowledged_at=T0, owner_id="UOWNER")
    buttons = buttons_of(root_message(acknowledged, now=T0, zone=UTC_ZONE, dashboard=Dashboard()))
    assert buttons[0] == ("Take ownership", "incident_take_ownership", None)
    assert "Acknowledge" not in [text for text, _, _ in buttons]
    for status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
        done = an_incident(status=status, acknowledged_at=T0, owner_id="UOWNER")
        message = root_message(done, now=T0, zone=UTC_ZONE, dashboard=Dashboard(escalation_lines=["x"]))
        assert buttons_of(message) == []
        assert message.as_args()["blocks"][-1]["type"] == "context"


AT_09_40 = "<!date^1796031600^{date_short_pretty} {time}|Mon 30 Nov 09:40 UTC>"
AT_11_20 = "<!date^1796037600^{date_short_pretty} {time}|Mon 30 Nov 11:20 UTC>"
DEADLINE = T0 + timedelta(hours=1, minutes=55)
COUNTDOWN = re.compile(r"\((⏰ soon, )?in \d|passed \d")


def fields_of(message: Any) -> dict[str, str]:
    section = next(b for b in message.as_args()["blocks"] if b["type"] == "section" and "fields" in b)
    return {f["text"].split("\n", 1)[0].strip("*"): f["text"].split("\n", 1)[1] for f in section["fields"]}


def test_a_resolved_root_message_shows_the_deadline_met_and_no_countdown_or_next_check_in() -> None:
    resolved = an_incident(status=IncidentStatus.RESOLVED, deadline_at=DEADLINE, resolved_at=T0 + timedelta(minutes=40))
    # A client-update timer may still be pending in the database: a resolved incident shows it no more.
    dashboard = Dashboard(next_checkin=NextCheckin(label="client update due", at=T0 + timedelta(hours=1)))
    now = T0 + timedelta(minutes=41)
    message = root_message(resolved, now=now, zone=UTC_ZONE, dashboard=dashboard)
    assert fields_of(message)["Deadline"] == f"{AT_10_55} · ✅ *met* — client unblocked {AT_09_40}"
    text = json.dumps(message.as_args(), ensure_ascii=False)
    assert "Next check-in" not in text and not COUNTDOWN.search(text) and "⏰" not in text
    assert texts_of(message)[-1] == f"Opened {AT_T0} · updates in the thread 🧵"


def test_a_closed_root_message_resolved_after_the_deadline_shows_it_missed() -> None:
    closed = an_incident(
        status=IncidentStatus.CLOSED,
        deadline_at=DEADLINE,
        deadline_context="court filing",
        resolved_at=T0 + timedelta(hours=2, minutes=20),
        closed_at=T0 + timedelta(hours=3),
    )
    message = root_message(closed, now=T0 + timedelta(hours=5), zone=UTC_ZONE, dashboard=Dashboard())
    assert fields_of(message)["Deadline"] == f"{AT_10_55} · ❌ *missed* — client unblocked {AT_11_20}\n_court filing_"
    assert not COUNTDOWN.search(json.dumps(message.as_args()))


def test_a_mitigated_incident_has_met_its_deadline_and_keeps_its_next_check_in() -> None:
    """Mitigated is still open (check-ins fire, it can go back to investigating); the deadline is settled."""
    mitigated = an_incident(
        status=IncidentStatus.MITIGATED, deadline_at=DEADLINE, mitigated_at=T0 + timedelta(minutes=40)
    )
    dashboard = Dashboard(next_checkin=NextCheckin(label="client update due", at=T0 + timedelta(hours=1)))
    message = root_message(mitigated, now=T0 + timedelta(minutes=45), zone=UTC_ZONE, dashboard=dashboard)
    assert fields_of(message)["Deadline"] == f"{AT_10_55} · ✅ *met* — client unblocked {AT_09_40}"
    assert "Next check-in: client update due" in texts_of(message)[-1]


def test_an_open_incident_counts_down_to_its_deadline_and_says_when_it_was_missed() -> None:
    open_one = an_incident(status=IncidentStatus.INVESTIGATING, deadline_at=DEADLINE)
    ahead = root_message(open_one, now=T0, zone=UTC_ZONE, dashboard=Dashboard())
    assert fields_of(ahead)["Deadline"] == f"{AT_10_55} (⏰ soon, in 1 h 55 min)"
    late = root_message(open_one, now=DEADLINE + timedelta(minutes=5), zone=UTC_ZONE, dashboard=Dashboard())
    assert fields_of(late)["Deadline"] == f"{AT_10_55} · ❌ *missed* — client not unblocked by then"


def test_lists_show_a_settled_deadline_as_met_or_missed_without_a_countdown() -> None:
    mitigated = an_incident(
        status=IncidentStatus.MITIGATED, deadline_at=DEADLINE, mitigated_at=T0 + timedelta(minutes=40)
    )
    late = an_incident(id=8, status=IncidentStatus.INVESTIGATING, deadline_at=DEADLINE)
    now = DEADLINE + timedelta(minutes=5)
    lines = [
        b["text"]["text"]
        for b in blocks_of(
            home_view(mine=[mitigated], everyone=[late], oncalls=[], fallback_oncall=None, now=now, zone=UTC_ZONE)
        )
        if b["type"] == "section"
    ]
    assert "· deadline ✅ *met* · mitigated ·" in lines[0]
    assert "· deadline ❌ *missed* · investigating ·" in lines[1]
    listed = json.dumps([b.to_dict() for b in incident_list_blocks([mitigated, late], now=now, zone=UTC_ZONE)])
    assert "deadline ✅ *met*" in json.loads(listed)[1]["text"]["text"] and not COUNTDOWN.search(listed)


def test_root_message_notification_text_is_escaped() -> None:
    message = root_message(an_incident(title="A <!channel> B"), now=T0, zone=UTC_ZONE, dashboard=Dashboard())
    assert message.text == "INC-7 SEV2 · Hartley &amp; Moss LLP: A &lt;!channel&gt; B (new)"
    assert json.dumps(message.as_args()).count("<!channel>") == 0
