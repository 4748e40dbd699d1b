"""Unit tests of blocks/replies.py: thread replies about an incident."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from blocks.replies import (
    MAX_TEXT,
    channel_escalation,
    correlation_reply,
    escalation_page,
    isolation_reply,
    note,
    update_due_reminder,
)
from bot.domain.correlation import Correlation, CorrelationItem
from bot.domain.isolation import Isolation, SimilarIncident
from bot.models import IncidentStatus, Severity
from tests.builders import an_incident
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")
AT_T0 = "<!date^1796029200^{date_short_pretty} {time}|Mon 30 Nov 09:00 UTC>"
AT_08_30 = "<!date^1796027400^{date_short_pretty} {time}|Mon 30 Nov 08:30 UTC>"


def a_match(number: int, **changes: Any) -> SimilarIncident:
    fields: dict[str, Any] = {
        "incident_id": number,
        "key": f"INC-{number}",
        "client_name": f"Client {number}",
        "title": "Upload fails",
        "status": "new",
        "opened_at": T0 - timedelta(minutes=30),
        "shared": ("workflow document upload", "similar blocker"),
        "blocker_similarity": 0.5,
    }
    fields.update(changes)
    return SimilarIncident(**fields)


def an_isolation(matches: list[SimilarIncident], *, likely_systemic: bool = False, summary: str = "") -> Isolation:
    summary = summary or f"{len(matches)} other accounts report document upload failing — possibly related"
    return Isolation(matches, timedelta(hours=2), len(matches), summary, likely_systemic=likely_systemic)


def dicts(message: Any) -> list[dict[str, Any]]:
    return [b.to_dict() for b in message.blocks]


def section_text(message: Any) -> str:
    return dicts(message)[0]["text"]["text"]


# --- note -------------------------------------------------------------------------------------------


def test_note_is_one_section_with_the_same_text() -> None:
    message = note("Hello *there*")
    assert message.text == "Hello *there*"
    assert dicts(message) == [{"type": "section", "text": {"type": "mrkdwn", "text": "Hello *there*"}}]


def test_note_truncates_to_the_section_limit() -> None:
    message = note("z" * 5000)
    assert MAX_TEXT == 2900
    assert message.text == "z" * 2899 + "…"
    assert section_text(message) == message.text
    assert note("z" * 2900).text == "z" * 2900


# --- isolation_reply --------------------------------------------------------------------------------


def test_isolation_reply_lists_a_match_and_offers_to_mark_systemic() -> None:
    isolation = an_isolation([a_match(12, client_name="Acme & Co")], summary="1 other account reports <x>")
    message = isolation_reply(an_incident(), isolation, UTC_ZONE)
    assert message.text == "Isolation for INC-7: 1 other account reports &lt;x&gt;"
    blocks = dicts(message)
    assert blocks[0]["text"]["text"].splitlines() == [
        "🔎 *Isolation for INC-7:* 1 other account reports &lt;x&gt;",
        f"• *INC-12* Acme &amp; Co: Upload fails (new, opened {AT_08_30}) — workflow document upload, similar blocker",
    ]
    assert blocks[1] == {
        "type": "actions",
        "block_id": "isolation_7",
        "elements": [
            {
                "type": "button",
                "action_id": "isolation_mark_systemic",
                "text": {"type": "plain_text", "text": "Mark systemic & link 1", "emoji": True},
                "value": "7",
            }
        ],
    }


def test_isolation_reply_button_is_dangerous_when_likely_systemic() -> None:
    isolation = an_isolation([a_match(12), a_match(13)], likely_systemic=True)
    button = dicts(isolation_reply(an_incident(), isolation, UTC_ZONE))[1]["elements"][0]
    assert button["style"] == "danger"
    assert button["text"]["text"] == "Mark systemic & link 2"


def test_isolation_reply_lists_eight_matches_then_how_many_more() -> None:
    isolation = an_isolation([a_match(n) for n in range(100, 112)], likely_systemic=True)
    lines = section_text(isolation_reply(an_incident(), isolation, UTC_ZONE)).splitlines()
    assert len(lines) == 1 + 8 + 1
    assert [line.split("*")[1] for line in lines[1:9]] == [f"INC-{n}" for n in range(100, 108)]
    assert lines[-1] == "…and 4 more (Isolate shows them all)."
    button = dicts(isolation_reply(an_incident(), isolation, UTC_ZONE))[1]["elements"][0]
    assert button["text"]["text"] == "Mark systemic & link 10", "at most 10 incidents are linked"


def test_isolation_reply_with_exactly_eight_matches_has_no_more_line() -> None:
    lines = section_text(isolation_reply(an_incident(), an_isolation([a_match(n) for n in range(8)]), UTC_ZONE))
    assert "more" not in lines and len(lines.splitlines()) == 9


def test_isolation_reply_escapes_and_shortens_typed_text_of_matches() -> None:
    match = a_match(12, client_name="<!channel>" + "c" * 80, title="<@U1> " + "t" * 100, shared=("region <eu>",))
    line = section_text(isolation_reply(an_incident(), an_isolation([match]), UTC_ZONE)).splitlines()[1]
    assert "<!channel>" not in line and "<@U1>" not in line
    assert line == (
        f"• *INC-12* &lt;!channel&gt;{'c' * 49}…: &lt;@U1&gt; {'t' * 73}… (new, opened {AT_08_30}) — region &lt;eu&gt;"
    )


def test_isolation_reply_without_matches_has_no_button() -> None:
    isolation = an_isolation([], summary="No other account reports anything similar in the last 2 h.")
    message = isolation_reply(an_incident(), isolation, UTC_ZONE)
    assert [b["type"] for b in dicts(message)] == ["section"]
    assert (
        section_text(message) == "🔎 *Isolation for INC-7:* No other account reports anything similar in the last 2 h."
    )


def test_isolation_reply_has_no_button_when_closed_or_already_systemic() -> None:
    isolation = an_isolation([a_match(12)], likely_systemic=True)
    for incident in (
        an_incident(status=IncidentStatus.RESOLVED),
        an_incident(status=IncidentStatus.CLOSED),
        an_incident(scope="systemic"),
    ):
        assert [b["type"] for b in dicts(isolation_reply(incident, isolation, UTC_ZONE))] == ["section"]
    for incident in (an_incident(status=IncidentStatus.MITIGATED), an_incident(scope="region")):
        assert [b["type"] for b in dicts(isolation_reply(incident, isolation, UTC_ZONE))] == ["section", "actions"]


# --- correlation_reply ------------------------------------------------------------------------------


def an_item(kind: Any, title: str, minutes_before: int, link: str | None = None) -> CorrelationItem:
    before = timedelta(minutes=minutes_before)
    return CorrelationItem(kind=kind, title=title, link=link, at=T0 - before, before_start=before)


def test_correlation_reply_lists_each_kind_with_its_icon_and_links_only_web_urls() -> None:
    correlation = Correlation(
        items=[
            an_item("deployment", "uploader 2.4.1 deployed to prod", 12, "https://ci.example/run/1"),
            an_item("status_page", "Statuspage: S3 degraded (investigating, minor)", 45, "http://status.example/i/9"),
            an_item("incident", "INC-3 Acme & Co: Search <slow> (SEV3, new)", 90),
            an_item("deployment", "search 1.0 deployed to prod", 200, "javascript:alert(1)"),
            an_item("other", "Something", 0),
        ],
        status_page_available=True,
        window=timedelta(hours=6),
    )
    message = correlation_reply(an_incident(), correlation)
    assert message.text.splitlines() == [
        "🧭 *What else happened in the 6 h before INC-7 opened*",
        "🚀 Deployment: <https://ci.example/run/1|uploader 2.4.1 deployed to prod> — 12 min before",
        "📣 Status page: <http://status.example/i/9|Statuspage: S3 degraded (investigating, minor)> — 45 min before",
        "🧯 Incident: INC-3 Acme &amp; Co: Search &lt;slow&gt; (SEV3, new) — 1 h 30 min before",
        "🚀 Deployment: search 1.0 deployed to prod — 3 h 20 min before",
        "• Something — less than a minute before",
    ]
    assert section_text(message) == message.text


def test_correlation_reply_with_nothing_found() -> None:
    correlation = Correlation(items=[], status_page_available=True, window=timedelta(hours=6))
    assert correlation_reply(an_incident(), correlation).text.splitlines() == [
        "🧭 *What else happened in the 6 h before INC-7 opened*",
        "Nothing: no deployments, status-page incidents or other incidents of ours in that window.",
    ]


def test_correlation_reply_says_when_the_status_page_was_unavailable() -> None:
    correlation = Correlation(
        items=[an_item("incident", "INC-3 Acme: Slow (SEV3, new)", 5)],
        status_page_available=False,
        window=timedelta(hours=2),
    )
    assert correlation_reply(an_incident(), correlation).text.splitlines() == [
        "🧭 *What else happened in the 2 h before INC-7 opened*",
        "🧯 Incident: INC-3 Acme: Slow (SEV3, new) — 5 min before",
        "_Status page unavailable — checked deployments and our own incidents only._",
    ]
    empty = Correlation(items=[], status_page_available=False, window=timedelta(hours=2))
    assert correlation_reply(an_incident(), empty).text.splitlines()[1:] == [
        "Nothing: no deployments, status-page incidents or other incidents of ours in that window.",
        "_Status page unavailable — checked deployments and our own incidents only._",
    ]
    unset = Correlation(items=[], status_page_available=False, window=timedelta(hours=2), status_page_configured=False)
    assert correlation_reply(an_incident(), unset).text.splitlines()[-1] == (
        "_No status page is configured (`STATUSPAGE_URL`): checked deployments and our own incidents._"
    )


def test_correlation_reply_shows_at_most_fifteen_items_with_shortened_titles_and_counts_the_rest() -> None:
    items = [an_item("deployment", f"svc{n} " + "v" * 200, n) for n in range(20)]
    lines = correlation_reply(an_incident(), Correlation(items, True, timedelta(hours=6))).text.splitlines()
    assert len(lines) == 1 + 15 + 1
    assert lines[-1] == "…and 5 more"
    assert lines[1] == "🚀 Deployment: svc0 " + "v" * 144 + "… — less than a minute before"


def test_correlation_reply_link_cannot_smuggle_a_mention() -> None:
    """A deployment link passes the hook's check (http(s), a host, no spaces) even with `>` or `|` in it;
    put inside `<link|title>` unescaped it closes the link early and the rest is parsed as mrkdwn."""
    link = "https://ci.example/x>|<!channel"
    correlation = Correlation([an_item("deployment", "uploader 2.4.1", 5, link)], True, timedelta(hours=6))
    text = correlation_reply(an_incident(), correlation).text
    assert "<!channel" not in text


# --- escalation_page --------------------------------------------------------------------------------


def test_escalation_page_level_one_asks_for_acknowledgement() -> None:
    message = escalation_page(an_incident(), mentions=["UONCALL", "SENG"], waited_minutes=15, level=1)
    assert message.text == (
        "⏰ *INC-7* (SEV2) has not been acknowledged after 15 min — <@UONCALL> <!subteam^SENG>, please acknowledge."
    )
    assert section_text(message) == message.text


def test_escalation_page_level_two_asks_the_next_person_to_take_it() -> None:
    message = escalation_page(an_incident(severity=Severity.SEV1), mentions=["UNEXT"], waited_minutes=10, level=2)
    assert message.text == (
        "⏰ *INC-7* (SEV1) has not been acknowledged after 10 min — <@UNEXT>, "
        "the on-call engineer has not answered; please take it."
    )


def test_escalation_page_with_nobody_to_page() -> None:
    message = escalation_page(an_incident(), mentions=[], waited_minutes=5, level=1)
    assert message.text == (
        "⏰ *INC-7* (SEV2) has not been acknowledged after 5 min — "
        "nobody to page: configure an on-call rotation, please acknowledge."
    )


# --- channel_escalation -----------------------------------------------------------------------------


def test_channel_escalation_names_the_client_and_the_incident() -> None:
    incident = an_incident(title="Uploads fail <!channel>")
    message = channel_escalation(incident, "Thread: <https://acme.slack.com/p1|INC-7>", 20)
    expected = (
        "🚨 *INC-7* SEV2 for Hartley &amp; Moss LLP is unacknowledged after 20 min: "
        "Uploads fail &lt;!channel&gt;. Thread: <https://acme.slack.com/p1|INC-7>"
    )
    assert message.text == expected
    assert dicts(message) == [
        {"type": "section", "text": {"type": "mrkdwn", "text": expected}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Triage bot escalation"}]},
    ]


# --- update_due_reminder ----------------------------------------------------------------------------


def test_update_due_reminder_tags_the_owner() -> None:
    message = update_due_reminder(an_incident(owner_id="UOWNER"), T0, UTC_ZONE)
    assert message.text == (
        f"🗣️ <@UOWNER> the next client update for *INC-7* is due now ({AT_T0}). "
        "Use *Client update* to draft and record it."
    )
    assert section_text(message) == message.text


def test_update_due_reminder_tags_the_reporter_when_nobody_owns_it() -> None:
    text = update_due_reminder(an_incident(owner_id=None), T0, UTC_ZONE).text
    assert text.startswith("🗣️ <@UREP> the next client update for *INC-7* is due now")
