"""On-call sources: reading `ONCALL_SOURCE`, whom an answer pages, and what `/triage oncall` says of it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from blocks.oncall import SourceStatus, oncall_blocks, source_text
from bot.config import SettingsError, load_settings
from bot.domain.oncall_sources import ExternalOnCall, InvalidSource, OnCallSource, SourceKind, parse_source
from bot.services.oncall_sources import paging_for
from tests.blockkit_limits import check_message_blocks

AT = datetime(2026, 12, 7, 9, 58, tzinfo=UTC)
PD = OnCallSource(SourceKind.PAGERDUTY, "PPLATFORM")


def hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


@pytest.mark.parametrize(
    ("text", "kind", "reference"),
    [
        ("pagerduty:PABC123", SourceKind.PAGERDUTY, "PABC123"),
        ("opsgenie:Platform Schedule", SourceKind.OPSGENIE, "Platform Schedule"),
        (" usergroup:S0ONCALL ", SourceKind.USERGROUP, "S0ONCALL"),
        ("Rotation:platform", SourceKind.ROTATION, "platform"),
    ],
)
def test_sources_are_read_from_kind_and_reference(text: str, kind: SourceKind, reference: str) -> None:
    source = parse_source(text)
    assert (source.kind, source.reference) == (kind, reference)
    assert parse_source(str(source)) == source


@pytest.mark.parametrize("text", ["pagerduty", "pagerduty:", "victorops:X1", "usergroup:U0PERSON", "pagerduty:a b"])
def test_a_source_that_cant_be_read_says_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidSource, match="pagerduty:<escalation policy id>"):
        parse_source(text)


def test_settings_refuse_a_service_source_without_its_key() -> None:
    with pytest.raises(SettingsError, match="ONCALL_SOURCE names PagerDuty: set PAGERDUTY_API_TOKEN"):
        load_settings(oncall_source="pagerduty:PABC123", _env_file=None)
    with pytest.raises(SettingsError, match="Invalid setting ONCALL_SOURCE"):
        load_settings(oncall_source="phone:555", _env_file=None)
    settings = load_settings(oncall_source="opsgenie:Ops", opsgenie_api_key="k", _env_file=None)
    assert settings.oncall_source == "opsgenie:Ops" and settings.opsgenie_api_url == "https://api.opsgenie.com"


def test_a_fresh_answer_pages_its_first_level_without_a_note() -> None:
    paging = paging_for(ExternalOnCall(PD, ("UPRI", "USEC"), AT), PD, "UFALLBACK", hhmm)
    assert (paging.oncall_id, paging.note) == ("UPRI", None)


def test_a_stale_answer_pages_the_last_known_and_says_when_it_was_read() -> None:
    stale = ExternalOnCall(PD, ("UPRI",), AT, stale=True, problem="PagerDuty did not answer within 2 s")
    paging = paging_for(stale, PD, "UFALLBACK", hhmm)
    assert paging.oncall_id == "UPRI"
    assert paging.note == (
        "PagerDuty did not answer (PagerDuty did not answer within 2 s); this is who it named at 09:58."
    )


def test_no_answer_pages_the_fallback_and_says_why() -> None:
    assert paging_for(None, PD, "UFALLBACK", hhmm).note == (
        "PagerDuty has not been read yet; paging the fallback on-call (`ONCALL_SLACK_ID`)."
    )
    nobody = ExternalOnCall(PD, (), AT, unmatched=("x@example.com",))
    paging = paging_for(nobody, PD, None, hhmm)
    assert paging.oncall_id is None
    assert paging.note == "PagerDuty names nobody on call that Slack knows; paging nobody: set `ONCALL_SLACK_ID`."


def test_triage_oncall_names_the_source_and_who_it_has_on_call() -> None:
    zone = ZoneInfo("UTC")
    fresh = SourceStatus(PD, ExternalOnCall(PD, ("UPRI", "USEC"), AT, unmatched=("ghost@example.com",)))
    text = source_text(fresh, "UFALLBACK", zone)
    assert text.startswith("*On-call source:* PagerDuty escalation policy PPLATFORM: on call now <@UPRI>")
    assert "(next: <@USEC>)" in text and "not in Slack: ghost@example.com" in text
    group = SourceStatus(OnCallSource(SourceKind.USERGROUP, "S0ONCALL"), group_members=("UA", "UB"))
    assert "new incidents page <!subteam^S0ONCALL> (members: <@UA>, <@UB>)" in source_text(group, None, zone)
    unread = source_text(SourceStatus(PD), "UFALLBACK", zone)
    assert unread.endswith("not read yet; until it is, new incidents page <@UFALLBACK>")
    blocks = oncall_blocks([], [], "UFALLBACK", zone, source=fresh)
    check_message_blocks(blocks)
    assert "No on-call rotation" not in str([b.to_dict() for b in blocks]), "a service source is not a missing rotation"
