"""Every public builder in `blocks/`, fed the worst the domain can hold, makes a payload Slack would take.

Hypothesis draws domain objects at their limits: texts of 2,500 characters made of what mrkdwn must escape
(`& < >`, newlines, `*_~`, `<!channel>`, emoji, combining and multi-byte characters), 1,000 audit events,
100 on-call rotations, 150 product areas, 30 linked incidents, many follow-ups and long names. Each payload goes
through the emulator's strict Block Kit validator (`bot.sandbox.emulator.blockkit`), which refuses what Slack
refuses, and no typed text may be cut inside an entity (`&am…`) or a link or mention (`<https://…`).

`test_every_public_builder_is_covered` finds the builders by their return type, so a new one can't slip past.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    InputBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

import blocks
from blocks import (
    budget,
    client_channel,
    escalation,
    home,
    incident_modals,
    lists,
    new_incident,
    oncall,
    replies,
    report,
    resolution,
    summary,
    workarounds,
)
from blocks import incident as incident_blocks
from blocks import settings as settings_blocks
from blocks.incident import Dashboard, Message, NextCheckin
from blocks.oncall import SourceStatus
from blocks.text import escape_mrkdwn
from bot.domain.channels import ChannelReach
from bot.domain.client_updates import draft_client_update
from bot.domain.correlation import Correlation, CorrelationItem
from bot.domain.escalations import KIND_TITLES, TRACK_MEANINGS
from bot.domain.handoff import draft_handoff
from bot.domain.incidents import FREQUENCIES, DetailsReport, EnvironmentReport, split_browser
from bot.domain.isolation import Isolation, SimilarIncident
from bot.domain.message_intake import SourceMessage
from bot.domain.oncall import ActiveOverride, OnCall
from bot.domain.oncall_sources import ExternalOnCall, OnCallSource, SourceKind
from bot.domain.reports import (
    SEVERITIES,
    Deadlines,
    LearningItem,
    Period,
    PeriodReport,
    ResponseTimes,
    Tally,
    Theme,
    TimeStats,
)
from bot.domain.reports import FeedbackItem as ReportFeedback
from bot.domain.summary import (
    AuditEntry,
    AuditTrail,
    Deadline,
    DeadlineOutcome,
    Durations,
    EscalationItem,
    FeedbackItem,
    FollowUpItem,
    IncidentSummary,
    Milestones,
    StepItem,
    WhatHappened,
    WorkaroundItem,
)
from bot.domain.triage import STEP_TITLES, StepView
from bot.domain.workspace_settings import SETTABLE, SettingChange, SettingKind
from bot.listeners.commands import FORM_SUBCOMMANDS, SUBCOMMANDS
from bot.models import (
    Attempt,
    AttemptOutcome,
    Client,
    ClientTier,
    Environment,
    Escalation,
    EscalationKind,
    EscalationState,
    Event,
    FeedbackTrack,
    FollowUp,
    Incident,
    IncidentStatus,
    Scope,
    SettingsChange,
    Severity,
    TriageStep,
    Workaround,
    WorkaroundKind,
    WorkaroundState,
)
from bot.sandbox.emulator.blockkit import check_message, check_view
from tests.builders import UPDATE_CADENCE
from tests.conftest import T0

EXAMPLES = 30  # per case: every case runs its builders at the limits it draws, in well under a second each

# --- what makes text hard -------------------------------------------------------------------------------------

PIECES = (
    "&", "<", ">", "\n", "\r\n", "&amp;", "&lt;", "<!channel>", "<!here|here>", "<!subteam^S0123|@oncall>",
    "<@U0123ABCD>", "<#C0123ABCD|general>", "<https://evil.example/?a=1&b=2|click>", "*bold*", "_it_", "~gone~",
    "`code`", "```block```", "> quoted\n", ">>>", "🔥", "👩‍👩‍👧‍👦", "🇪🇺", "é", "e\u0301", "中文字", "\u200b", "\t", " ",
    "x", "a&b<c>d",
)  # fmt: skip
ALPHABET = st.sampled_from("&<>\n*_~`:|!@#^é中🔥 x\t\u0301\u200d")  # the pieces, one character each
UTC = ZoneInfo("UTC")
ZONES = st.sampled_from([UTC, ZoneInfo("Pacific/Chatham"), ZoneInfo("America/St_Johns")])
NOW = T0


def _fill(pattern: str, length: int) -> str:
    return (pattern * (length // len(pattern) + 1))[:length]


def hostile(limit: int) -> st.SearchStrategy[str]:
    """At most `limit` characters of what is hardest to escape, cut and count; often exactly `limit`."""
    patterns = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)
    lengths = st.one_of(st.just(limit), st.integers(0, limit))
    return st.one_of(st.builds(_fill, patterns, lengths), st.text(alphabet=ALPHABET, max_size=min(limit, 80)))


def stored(limit: int) -> st.SearchStrategy[str]:
    """A required text as the domain keeps it: stripped, never empty, at most `limit` characters."""
    return hostile(limit).map(lambda text: text.strip() or "x")


def maybe(limit: int) -> st.SearchStrategy[str | None]:
    """An optional text as the domain keeps it (None when nothing but spaces was typed)."""
    return st.one_of(st.none(), hostile(limit).map(lambda text: text.strip() or None))


def count(most: int) -> st.SearchStrategy[int]:
    """How many of something: often the most the case asks for, else anything from none."""
    return st.one_of(st.just(most), st.integers(0, most))


def cycled(pool: Sequence[str], n: int) -> list[str]:
    """`n` texts from a small drawn pool, each made distinct by a number in front (Hypothesis draws the pool only)."""
    return [f"{i} {pool[i % len(pool)]}" for i in range(n)]


def pool(limit: int) -> st.SearchStrategy[list[str]]:
    return st.lists(stored(limit), min_size=1, max_size=3)


USERS = st.from_regex(r"[UW][A-Z0-9]{8,12}", fullmatch=True)
USERS_OR_GROUPS = st.one_of(USERS, st.from_regex(r"S[A-Z0-9]{8,12}", fullmatch=True))
CHANNELS = st.from_regex(r"[CGD][A-Z0-9]{8,12}", fullmatch=True)
MOMENTS = st.integers(-400 * 24 * 60, 4000 * 24 * 60).map(lambda minutes: NOW + timedelta(minutes=minutes))
URLS = st.one_of(
    st.none(),
    st.integers(1, 10**9).map(lambda n: f"https://acme.atlassian.net/browse/ENG-{n}"),
    st.integers(0, 400).map(lambda n: "https://example.com/" + "a&b=c/" * (n // 6)),
    st.just("javascript:alert(1)|<!channel>"),
)
JIRA_KEYS = st.from_regex(r"[A-Z][A-Z0-9]{1,9}-[0-9]{1,9}", fullmatch=True)
INCIDENT_IDS = st.one_of(st.integers(1, 99), st.just(9_999_999))


# --- domain objects at their worst ------------------------------------------------------------------------------


@st.composite
def environments(draw: st.DrawFn) -> Environment | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    browser = draw(maybe(80))
    family, version = split_browser(browser) if browser else (None, None)
    size = draw(st.sampled_from([None, "250 MB", "1,5 GiB", "800k", "999999999999 B"]))
    return Environment(
        file_size_text=size,
        browser=family,
        browser_version=version,
        os=draw(maybe(80)),
        started_text=draw(maybe(200)),
        frequency=draw(st.sampled_from([None, *FREQUENCIES])),
        already_tried=draw(maybe(2000)),
    )


@st.composite
def incidents(draw: st.DrawFn, *, number: int | None = None, open_only: bool = False) -> Incident:
    """An incident as stored: every typed field up to the length the form or the database takes."""
    statuses = [s for s in IncidentStatus if not open_only or s not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)]
    tier = draw(st.sampled_from(ClientTier))
    name = draw(stored(150))
    return Incident(
        id=number if number is not None else draw(INCIDENT_IDS),
        title=draw(stored(120)),
        client=Client(name=name, name_key=name.casefold(), tier=tier, created_at=NOW),
        severity=draw(st.sampled_from(Severity)),
        status=draw(st.sampled_from(statuses)),
        scope=draw(st.sampled_from([None, *(s.value for s in Scope)])),
        workflow=draw(maybe(100)),
        region=draw(maybe(60)),
        blocker=draw(stored(2500)),
        deadline_at=draw(st.one_of(st.none(), MOMENTS)),
        deadline_context=draw(maybe(200)),
        channel_id=draw(CHANNELS),
        root_permalink=draw(
            st.one_of(st.none(), CHANNELS.map(lambda c: f"https://acme.slack.com/archives/{c}/p1764493200000100"))
        ),
        reporter_id=draw(USERS),
        owner_id=draw(st.one_of(st.none(), USERS)),
        oncall_id=draw(st.one_of(st.none(), USERS_OR_GROUPS)),
        lead_id=draw(st.one_of(st.none(), USERS)),
        is_major=draw(st.booleans()),
        major_channel_id=draw(st.one_of(st.none(), CHANNELS)),
        opened_at=NOW - timedelta(minutes=draw(st.integers(0, 90 * 24 * 60))),
        acknowledged_at=draw(st.one_of(st.none(), st.just(NOW))),
        root_cause=draw(maybe(3000)),
        resolution=draw(maybe(3000)),
        updated_at=NOW,
        environment=draw(environments()),
    )


@st.composite
def escalations(draw: st.DrawFn, incident_id: int = 7) -> Escalation:
    kind = draw(st.sampled_from(EscalationKind))
    return Escalation(
        incident_id=incident_id,
        kind=kind,
        state=draw(st.sampled_from(EscalationState)),
        requested_by=draw(USERS),
        requested_at=NOW,
        external_ref=draw(st.one_of(st.none(), JIRA_KEYS, CHANNELS)),
        external_url=draw(URLS),
        external_status=draw(maybe(100)),
        last_error=draw(maybe(3000)),
        details={},
        idempotency_key=f"INC-{incident_id}:{kind.value}",
    )


@st.composite
def workaround_objects(draw: st.DrawFn, number: int = 1) -> Workaround:
    return Workaround(
        id=number,
        incident_id=7,
        kind=draw(st.sampled_from(WorkaroundKind)),
        state=draw(st.sampled_from(WorkaroundState)),
        description=draw(stored(1000)),
        client_expectation=draw(stored(500)),
        owner_id=draw(USERS),
        started_at=NOW,
        ends_at=draw(MOMENTS),
        interval_minutes=draw(st.sampled_from([None, *workarounds.INTERVALS])),
        batches_done=draw(st.one_of(st.none(), st.integers(0, 999_999_999))),
        batches_total=draw(st.one_of(st.none(), st.integers(0, 999_999_999))),
        failing_element=draw(maybe(300)),
        progress_note=draw(maybe(1000)),
        last_error=draw(maybe(2000)),
    )


def events_of(texts: Sequence[str], actors: Sequence[str], n: int) -> list[Event]:
    return [
        Event(
            id=i + 1,
            incident_id=7,
            at=NOW + timedelta(seconds=i),
            actor_id="bot" if i % 5 == 0 else actors[i % len(actors)],
            kind=("step", "reproduction", "status", "escalation_requested")[i % 4],
            summary=texts[i % len(texts)],
            details={"description": texts[i % len(texts)], "outcome": "confirmed" if i % 3 else "ruled out"},
        )
        for i in range(n)
    ]


@st.composite
def many_events(draw: st.DrawFn) -> list[Event]:
    """Up to 1,000 audit events, their summaries as long as the domain writes them (a typed text and a prefix)."""
    return events_of(draw(pool(2500)), draw(st.lists(USERS, min_size=1, max_size=3)), draw(count(1000)))


@st.composite
def dashboards(draw: st.DrawFn, incident: Incident) -> Dashboard:
    steps = [
        StepView(step, STEP_TITLES[step], done, draw(USERS) if done else None, NOW if done else None, None)
        for step, done in ((s, draw(st.booleans())) for s in TriageStep)
    ]
    found = draw(st.lists(escalations(incident.id), max_size=6))
    running = draw(st.lists(workaround_objects(), max_size=4))
    return Dashboard(
        steps=steps,
        next_checkin=draw(st.one_of(st.none(), MOMENTS.map(lambda at: NextCheckin("client update due", at)))),
        linked_keys=[f"INC-{n}" for n in range(9_999_000, 9_999_000 + draw(count(30)))],
        escalation_lines=[escalation.escalation_line(e) for e in found] * draw(st.integers(1, 10)),
        major_line=escalation.lead_line(incident),
        workaround_lines=[
            workarounds.workaround_line(w, attempts=draw(st.integers(0, 10**6)), now=NOW, zone=draw(ZONES))
            for w in running
        ]
        * draw(st.integers(1, 10)),
    )


@st.composite
def rotations(draw: st.DrawFn) -> list[OnCall]:
    names, n = draw(pool(100)), draw(count(100))
    return [
        OnCall(
            team=f"{i:03d} {names[i % len(names)]}"[:100],
            user_id=draw(USERS) if i == 0 else f"U{i:010d}",
            via_override=i % 3 == 0,
            until=NOW + timedelta(hours=i) if i % 7 else None,
            next_user_id=f"W{i:011d}" if i % 2 else None,
            escalation_channel_id=None,
        )
        for i in range(n)
    ]


@st.composite
def overrides(draw: st.DrawFn) -> list[ActiveOverride]:
    names, n = draw(pool(100)), draw(count(100))
    return [
        ActiveOverride(
            id=i, team=names[i % len(names)], user_id=f"U{i:010d}", replaces="UBOB12345", ends_at=NOW, created_by="UL"
        )
        for i in range(n)
    ]


@st.composite
def isolations(draw: st.DrawFn) -> Isolation:
    clients, titles, places = draw(pool(150)), draw(pool(120)), draw(pool(100))
    n = draw(count(20))
    matches = [
        SimilarIncident(
            incident_id=1000 + i,
            key=f"INC-{9_999_000 + i}",
            client_name=clients[i % len(clients)],
            title=titles[i % len(titles)],
            status=IncidentStatus.INVESTIGATING.value,
            opened_at=NOW,
            shared=(
                f"workflow {places[i % len(places)]}",
                f"region {places[i % len(places)][:60]}",
                f"browser {places[0][:100]}",
                f"OS {places[-1][:100]}",
                "similar blocker",
            )[: 1 + i % 5],
            blocker_similarity=0.9,
        )
        for i in range(n)
    ]
    workflow, region = places[0][:100], places[-1][:60]
    summary = f"{n} other accounts report {workflow} failing in {region} in the last 2 h — likely systemic"
    return Isolation(matches, timedelta(hours=2), n, summary, likely_systemic=draw(st.booleans()))


# --- checking a payload ---------------------------------------------------------------------------------------

HALF_ENTITY = re.compile(r"&(?:amp|am|a|lt|l|gt|g)?(?:…|$)")  # `&am…`: an entity cut in half
CUT_LINK = re.compile(r"<[^<>]*(?=<|$)")  # a `<` never closed: a link or mention cut in half


def _mrkdwn_texts(value: object) -> Iterable[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from _mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _mrkdwn_texts(item)


def _whole_entities_and_links(payload: object) -> None:
    for text in _mrkdwn_texts(payload):
        assert not HALF_ENTITY.search(text), f"cut inside an entity: {text[-80:]!r}"
        assert not CUT_LINK.search(text), f"a link or mention cut in half: {CUT_LINK.search(text)!r} in {text!r}"


def accept_message(text: str, blocks: Sequence[Block]) -> None:
    as_dicts = [block.to_dict() for block in blocks]
    problems = check_message(text, as_dicts)
    assert not problems, "\n".join(map(str, problems))
    _whole_entities_and_links([*as_dicts, {"type": "mrkdwn", "text": text}])  # the notification is mrkdwn too


def accept_view(view: View | dict[str, Any]) -> None:
    as_dict = view.to_dict() if isinstance(view, View) else view
    problems = check_view(as_dict)
    assert not problems, "\n".join(map(str, problems))
    _whole_entities_and_links(as_dict)


def accept(payload: Message | View | dict[str, Any] | Sequence[Message] | Sequence[Block]) -> None:
    """Slack would take it: one message, several, an ephemeral answer's blocks, a modal or a Home tab."""
    if isinstance(payload, Message):
        accept_message(payload.text, payload.blocks)
    elif isinstance(payload, View | dict):
        accept_view(payload)
    elif payload and all(isinstance(item, Message) for item in payload):
        for message in payload:
            accept(message)
    else:
        accept_message("answer", payload)  # type: ignore[arg-type]


def in_a_modal(*blocks_: Block) -> View:
    return View(type="modal", callback_id="probe", title="Probe", submit="Save", blocks=list(blocks_))


# --- the cases: each draws its inputs, calls its builders and checks every payload -----------------------------


@dataclass(frozen=True)
class Case:
    builders: tuple[Callable[..., Any], ...]
    run: Callable[[st.DataObject], None]

    @property
    def name(self) -> str:
        return self.run.__name__


CASES: list[Case] = []


def case(*builders: Callable[..., Any]) -> Callable[[Callable[[st.DataObject], None]], Callable[[st.DataObject], None]]:
    def register(run: Callable[[st.DataObject], None]) -> Callable[[st.DataObject], None]:
        CASES.append(Case(builders, run))
        return run

    return register


@case(incident_blocks.root_message, escalation.escalation_line, escalation.lead_line, workarounds.workaround_line)
def root_message(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    dashboard = data.draw(dashboards(incident))
    accept(incident_blocks.root_message(incident, now=NOW, zone=data.draw(ZONES), dashboard=dashboard))


@case(incident_blocks.incident_card, incident_blocks.retry_button)
def show_card(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    pending = cycled(data.draw(pool(400)), data.draw(count(60)))
    events = data.draw(many_events())
    failed = [data.draw(escalations(incident.id)) for _ in range(data.draw(count(30)))]  # feedback: one per form
    for number, failure in enumerate(failed, start=1):
        failure.id = number
    card = incident_blocks.incident_card(
        incident, events=events, pending_deliveries=pending, now=NOW, zone=UTC, failed=failed
    )
    accept(card)


@case(
    incident_blocks.environment_reply,
    incident_blocks.oncall_reply,
    incident_blocks.incident_buttons,
    incident_blocks.source_reply,
)
def incident_replies(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    zone = data.draw(ZONES)
    accept(incident_blocks.environment_reply(incident))
    source = SourceMessage(
        channel_id=data.draw(CHANNELS),
        ts="1764493200.000100",
        author_id=data.draw(st.one_of(st.none(), USERS)),
        link=data.draw(URLS),
    )
    accept(incident_blocks.source_reply(incident, source))
    accept(incident_blocks.oncall_reply(incident, now=NOW, zone=zone, note=data.draw(maybe(2500))))
    buttons = incident_blocks.incident_buttons(incident, has_workaround=data.draw(st.booleans()))
    if buttons:
        accept([ActionsBlock(block_id="probe", elements=buttons)])


@case(escalation.escalate_modal, escalation.declare_modal, escalation.engineering_modal)
def escalation_modals(data: st.DataObject) -> None:
    incident = data.draw(incidents(open_only=True))
    existing = data.draw(st.lists(escalations(incident.id), max_size=8))
    accept(escalation.escalate_modal(incident, existing, jira_configured=data.draw(st.booleans())))
    accept(escalation.declare_modal(incident, data.draw(st.one_of(st.none(), USERS))))
    draft = draft_handoff(incident=incident, events=data.draw(many_events()), now=NOW, zone=data.draw(ZONES))
    priority = data.draw(st.sampled_from(["Highest", "High", "Medium", "Low", "P1 - Critical (page someone now)"]))
    project = data.draw(st.from_regex(r"[A-Z][A-Z0-9_]{1,9}", fullmatch=True))
    accept(escalation.engineering_modal(incident, draft, priority, project, jira_configured=data.draw(st.booleans())))


@case(escalation.feedback_modal, escalation.area_select)
def feedback_form(data: st.DataObject) -> None:
    """Up to 150 product areas (PRODUCT_AREAS takes names of up to 150 characters), and the client's use case."""
    incident = data.draw(incidents())
    names = data.draw(pool(150))
    areas = [f"{i:03d} {names[i % len(names)]}"[:150].strip() for i in range(data.draw(count(150)))]
    accept(escalation.feedback_modal(incident, areas, incident.blocker[:2000]))
    accept(in_a_modal(InputBlock(block_id="area", label="Area", element=escalation.area_select(areas))))


@case(escalation.internal_notice, escalation.major_brief, escalation.failure_notice)
def escalation_messages(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    zone = data.draw(ZONES)
    failure = data.draw(escalations(incident.id))
    failure.id = data.draw(st.integers(1, 2**31 - 1))
    accept(escalation.failure_notice(incident, failure, data.draw(stored(5000))))  # what Jira or Slack answered
    accept(escalation.internal_notice(incident, now=NOW, zone=zone))
    related = [f"INC-{n}" for n in range(9_999_000, 9_999_000 + data.draw(count(30)))]
    accept(escalation.major_brief(incident, lead_id=data.draw(USERS), related=related, now=NOW, zone=zone))


@case(home.home_view, home.members_only_home)
def home_tab(data: st.DataObject) -> None:
    template = data.draw(incidents(open_only=True))
    everyone = [_copy(template, number=n) for n in range(1, data.draw(count(300)) + 1)]
    view = home.home_view(
        mine=everyone[: data.draw(count(300))],
        everyone=everyone,
        oncalls=data.draw(rotations()),
        fallback_oncall=data.draw(st.one_of(st.none(), USERS)),
        now=NOW,
        zone=data.draw(ZONES),
    )
    accept(view)
    admins = ", ".join(f"<@U{n:010d}>" for n in range(data.draw(count(100))))
    accept(home.members_only_home(f"Only members of this workspace ({admins}) may view incidents. Ask one of them."))


def _copy(incident: Incident, *, number: int) -> Incident:
    """Another incident with the same (worst-case) texts and a different number."""
    fields = {
        column: getattr(incident, column)
        for column in ("title", "severity", "status", "blocker", "deadline_at", "deadline_context", "channel_id")
    }
    return Incident(
        id=number,
        client=incident.client,
        reporter_id=incident.reporter_id,
        owner_id=incident.owner_id,
        opened_at=NOW,
        updated_at=NOW,
        **fields,
    )


@case(
    incident_modals.log_step_modal,
    incident_modals.change_status_modal,
    incident_modals.add_details_modal,
    incident_modals.client_update_modal,
)
def incident_modal_forms(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    accept(incident_modals.log_step_modal(incident))
    accept(incident_modals.change_status_modal(incident))
    missing = data.draw(st.lists(st.sampled_from(["file size", "browser", "OS", "when it started"]), unique=True))
    accept(incident_modals.add_details_modal(incident, missing))
    draft = draft_client_update(
        incident=incident, events=data.draw(many_events()), now=NOW, zone=data.draw(ZONES), cadence=UPDATE_CADENCE
    )
    accept(incident_modals.client_update_modal(incident, draft, "Mon 30 Nov 11:00 UTC"))


@case(incident_modals.isolate_modal, replies.isolation_reply)
def isolation(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    found = data.draw(isolations())
    accept(incident_modals.isolate_modal(incident, found))
    accept(replies.isolation_reply(incident, found, data.draw(ZONES)))


@case(lists.help_blocks, lists.incident_list_blocks)
def command_lists(data: st.DataObject) -> None:
    usages = [FORM_SUBCOMMANDS[""]] + [(s.usage, s.description) for s in SUBCOMMANDS.values()]
    accept(lists.help_blocks([*usages, FORM_SUBCOMMANDS["declare"]]))
    template = data.draw(incidents(open_only=True))
    everyone = [_copy(template, number=n) for n in range(9_999_000, 9_999_000 + data.draw(count(300)))]
    page = data.draw(st.integers(1, 20))
    accept(lists.incident_list_blocks(everyone, now=NOW, zone=data.draw(ZONES), page=page))


@case(new_incident.new_incident_modal, new_incident.details_inputs, new_incident.severity_option)
def new_incident_form(data: st.DataObject) -> None:
    channel = data.draw(CHANNELS)
    accept(new_incident.new_incident_modal(channel_id=channel, unreachable=data.draw(st.sampled_from(ChannelReach))))
    accept(new_incident.new_incident_modal(channel_id=channel))
    environment = data.draw(environments())
    details = DetailsReport(
        workflow=data.draw(maybe(100)),
        region=data.draw(maybe(60)),
        environment=EnvironmentReport(
            file_size=environment.file_size_text if environment else None,
            browser=data.draw(maybe(80)),
            os=environment.os if environment else None,
            started=environment.started_text if environment else None,
            frequency=data.draw(st.sampled_from([None, "", "something else", *FREQUENCIES])),
            already_tried=environment.already_tried if environment else None,
        ),
    )
    accept(in_a_modal(*new_incident.details_inputs(details)))
    options = [new_incident.severity_option(s) for s in Severity]
    accept(in_a_modal(InputBlock(block_id="s", label="Severity", element=StaticSelectElement(options=options))))


@case(oncall.oncall_blocks, oncall.team_sections, oncall.override_set_notice, oncall.override_cancelled_notice)
def on_call(data: st.DataObject) -> None:
    teams, covers, zone = data.draw(rotations()), data.draw(overrides()), data.draw(ZONES)
    source = data.draw(st.one_of(st.none(), sources()))
    page = data.draw(st.integers(1, 5))
    accept(oncall.oncall_blocks(teams, covers, data.draw(st.one_of(st.none(), USERS)), zone, page=page, source=source))
    if teams:  # with no rotation, the callers say so instead
        accept(oncall.team_sections(oncall.oncall_page(teams, zone, page)))
    team = data.draw(stored(100))
    accept(
        oncall.override_set_notice(
            team=team, cover_id="UCOVER1234", replaces="UBOB12345", ends_at=NOW, set_by="ULENA1234", zone=zone
        )
    )
    accept(oncall.override_cancelled_notice(team=team, cover_id="UC", back_to="UB", cancelled_by="UL"))


@st.composite
def sources(draw: st.DrawFn) -> SourceStatus:
    kind = draw(st.sampled_from(SourceKind))
    reference = {
        SourceKind.ROTATION: "a" * 80,
        SourceKind.USERGROUP: "S0123ABCD",
        SourceKind.PAGERDUTY: "P" * 32,
        SourceKind.OPSGENIE: "(" * 100,
    }[kind]
    source = OnCallSource(kind, reference)
    answer = None
    if source.external and draw(st.booleans()):
        people = tuple(draw(st.lists(USERS, max_size=3)))
        emails = [f"{n}-" + "a&b<c>" * 40 + "@example.com" for n in range(draw(count(50)))]
        answer = ExternalOnCall(
            source, people, NOW, tuple(emails), stale=draw(st.booleans()), problem=draw(maybe(2500))
        )
    members = tuple(f"U{n:010d}" for n in range(draw(count(200))))
    return SourceStatus(source, answer=answer, group_members=members)


@case(
    replies.note,
    replies.correlation_reply,
    replies.escalation_page,
    replies.channel_escalation,
    replies.update_due_reminder,
    replies.deadline_reminder,
)
def thread_replies(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    zone = data.draw(ZONES)
    error = data.draw(stored(5000))  # e.g. the failure a Jira or Slack call answered, escaped by the caller
    accept(replies.note(f"⚠️ <@U0123ABCD> {escape_mrkdwn(error)} <https://acme.atlassian.net/browse/ENG-1|ENG-1>"))
    titles = data.draw(pool(450))
    items = [
        CorrelationItem(
            kind=("deployment", "status_page", "incident")[i % 3],
            title=titles[i % len(titles)],
            link=data.draw(URLS),
            at=NOW,
            before_start=timedelta(minutes=i),
        )
        for i in range(data.draw(count(60)))
    ]
    correlation = Correlation(items, data.draw(st.booleans()), timedelta(hours=2), data.draw(st.booleans()))
    accept(replies.correlation_reply(incident, correlation))
    mentions = [f"U{n:010d}" for n in range(data.draw(count(2)))]
    waited = data.draw(st.integers(0, 10**6))
    accept(
        replies.escalation_page(
            incident, mentions=mentions, waited_minutes=waited, level=data.draw(st.sampled_from([1, 2]))
        )
    )
    accept(replies.channel_escalation(incident, f"Thread: <#{incident.channel_id}>.", waited))
    accept(replies.update_due_reminder(incident, data.draw(MOMENTS), zone))
    if incident.deadline_at is not None:
        accept(replies.deadline_reminder(incident, now=NOW, zone=zone, raised=data.draw(st.booleans())))


@case(report.report_messages, report.report_sharing)
def period_report(data: st.DataObject) -> None:
    accept(report.report_messages(data.draw(period_reports()), zone=data.draw(ZONES)))
    days = data.draw(st.integers(1, 365))
    accept(report.report_sharing(days, may_post=data.draw(st.booleans()), left_out=data.draw(st.integers(0, 100))))


def tallies(labels: Sequence[str], n: int) -> tuple[Tally, ...]:
    return tuple(Tally(label, 10**6 - i, i) for i, label in enumerate(cycled(labels, n)))


@st.composite
def period_reports(draw: st.DrawFn) -> PeriodReport:
    """A month of everything: 150 clients, areas and themes, hundreds of feedback items and learnings."""
    texts, names = draw(pool(2500)), draw(pool(150))
    stats = TimeStats(10**5, timedelta(days=400, seconds=7), timedelta(days=900, seconds=59))
    feedback = [
        ReportFeedback(
            incident_key=f"INC-{9_999_000 + i}",
            track=list(FeedbackTrack)[i % 3],
            area=names[i % len(names)],
            use_case=texts[i % len(texts)],
            pm_user_id="UPM1234567",
            ticket_key=f"PROD-{i}" if i % 3 else None,
            ticket_url=draw(URLS) if i % 3 else None,
            ticket_state=("filed", "failed", "not_configured", None)[i % 4],
            created_at=NOW,
        )
        for i in range(draw(count(300)))
    ]
    return PeriodReport(
        period=Period(NOW - timedelta(days=365), NOW),
        previous_period=Period(NOW - timedelta(days=730), NOW - timedelta(days=365)),
        incidents=draw(st.integers(0, 10**6)),
        previous_incidents=draw(st.integers(0, 10**6)),
        by_severity=tuple(Tally(s.value, 10**6, 0) for s in SEVERITIES),
        by_client=tallies(names, draw(count(150))),
        by_workflow=tallies(names, draw(count(150))),
        by_region=tallies(names, draw(count(150))),
        times=ResponseTimes(stats, stats, stats, stats, tuple((s, stats) for s in SEVERITIES)),
        deadlines=Deadlines(10**6, 10**6, 10**6, 10**6),
        previous_deadlines=Deadlines(1, 2, 3, 4),
        themes=tuple(
            Theme(
                names[i % len(names)] if i % 2 else None,
                texts[i % len(texts)],
                10**6,
                tuple(f"INC-{k}" for k in range(50)),
            )
            for i in range(draw(count(100)))
        ),
        more_themes=draw(st.integers(0, 10**6)),
        feedback=len(feedback),
        previous_feedback=draw(st.integers(0, 10**6)),
        feedback_by_track=tuple(Tally(t.value.capitalize(), 100, 1) for t in FeedbackTrack),
        feedback_by_area=tallies(names, draw(count(150))),
        feedback_items=tuple(feedback),
        learnings=tuple(
            LearningItem(f"INC-{9_999_000 + i}", texts[i % len(texts)], NOW) for i in range(draw(count(300)))
        ),
    )


@case(resolution.resolve_modal, resolution.resolved_reply, resolution.feedback_offer, resolution.follow_up_ticket_note)
def resolving(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    stopping = cycled(data.draw(pool(1000)), data.draw(count(20)))
    accept(resolution.resolve_modal(incident, stopping=stopping))
    descriptions = data.draw(pool(500))
    follow_ups = [
        FollowUp(
            id=i,
            incident_id=incident.id,
            description=descriptions[i % len(descriptions)],
            owner_id=f"U{i:010d}",
            due_on=date(2027, 1, 1) if i % 2 else None,
            created_by="UREP",
            created_at=NOW,
            wants_ticket=bool(i % 3),
            ticket_key=f"ENG-{i}" if i % 3 else None,
            ticket_url=f"https://acme.atlassian.net/browse/ENG-{i}" if i % 3 else None,
        )
        for i in range(data.draw(count(30)))
    ]
    learnings, stopped = data.draw(st.integers(0, 10)), data.draw(st.integers(0, 100))
    jira = data.draw(st.booleans())
    accept(resolution.resolved_reply(incident, data.draw(USERS), follow_ups, learnings, stopped, jira_configured=jira))
    accept(resolution.feedback_offer(incident))
    for follow_up in follow_ups[:3]:
        accept(resolution.follow_up_ticket_note(follow_up, data.draw(JIRA_KEYS), data.draw(URLS)))


@case(summary.summary_messages, summary.summary_command_messages, summary.audit_messages)
def summaries(data: st.DataObject) -> None:
    incident_summary = data.draw(incident_summaries())
    zone = data.draw(ZONES)
    accept(summary.summary_messages(incident_summary, zone=zone))
    page = data.draw(st.one_of(st.none(), st.integers(1, 200)))
    sent = summary.summary_command_messages(incident_summary, zone=zone, page=page, follow_ups=5)
    assert 1 <= len(sent) <= 6, "a response_url takes five responses besides the command's answer"
    accept(sent)
    trail = AuditTrail(
        incident_summary.incident_id, incident_summary.key, incident_summary.title, "client", incident_summary.timeline
    )
    accept(summary.audit_messages(trail, zone=zone))


@st.composite
def incident_summaries(draw: st.DrawFn) -> IncidentSummary:
    incident = draw(incidents())
    texts, names = draw(pool(2500)), draw(pool(150))
    events = draw(many_events())
    timeline = tuple(
        AuditEntry(
            number=i + 1,
            event_id=event.id,
            at=event.at,
            actor_id=event.actor_id,
            kind=event.kind,
            summary=event.summary,
            details=event.details,
            corrects=i // 2 if i % 10 == 9 else None,
            corrected_by=tuple(range(i + 2, i + 40, 2)) if i % 10 == 4 else (),
        )
        for i, event in enumerate(events)
    )
    milestones = Milestones(opened_at=NOW, acknowledged_at=NOW + timedelta(days=3000))
    return IncidentSummary(
        incident_id=incident.id,
        key=incident.key,
        title=incident.title,
        client_name=incident.client.name,
        client_tier=incident.client.tier,
        severity=incident.severity,
        status=incident.status,
        workflow=incident.workflow,
        region=incident.region,
        scope=incident.scope,
        reporter_id=incident.reporter_id,
        owner_id=incident.owner_id,
        lead_id=incident.lead_id,
        is_major=incident.is_major,
        what_happened=WhatHappened(
            blocker=incident.blocker,
            file_size=draw(maybe(40)),
            browser=draw(maybe(151)),
            os=draw(maybe(100)),
            started=draw(maybe(300)),
            frequency=draw(st.sampled_from([None, *FREQUENCIES])),
            already_tried=draw(maybe(2000)),
        ),
        milestones=milestones,
        durations=Durations(timedelta(days=3000), None, timedelta(seconds=1)),
        deadline=Deadline(incident.deadline_at, incident.deadline_context, draw(st.sampled_from(DeadlineOutcome))),
        root_cause=incident.root_cause,
        resolution=incident.resolution,
        follow_ups=tuple(
            FollowUpItem(texts[i % len(texts)][:500], f"U{i:010d}", date(2027, 1, 1), f"ENG-{i}", draw(URLS))
            for i in range(draw(count(40)))
        ),
        learnings=tuple(cycled(texts, draw(count(40)))),
        escalations=tuple(
            EscalationItem(
                kind=kind,
                label=KIND_TITLES[kind],
                state=draw(st.sampled_from(EscalationState)),
                requested_by="UREP",
                requested_at=NOW,
                ticket_key=draw(st.one_of(st.none(), JIRA_KEYS)),
                ticket_url=draw(URLS),
                external_status=draw(maybe(100)),
            )
            for kind in EscalationKind
        )
        * draw(st.integers(1, 5)),
        feedback=tuple(
            FeedbackItem(
                track=list(FeedbackTrack)[i % 3],
                track_label=TRACK_MEANINGS[list(FeedbackTrack)[i % 3]],
                area=names[i % len(names)],
                pm_user_id=None,
                use_case=texts[i % len(texts)],
                ticket_key=f"PROD-{i}",
                ticket_url=None,
            )
            for i in range(draw(count(30)))
        ),
        workarounds=tuple(
            WorkaroundItem(
                kind=list(WorkaroundKind)[i % 4],
                label="Retry cycle",
                description=texts[i % len(texts)][:1000],
                state=WorkaroundState.STOPPED,
                owner_id="UOWNER1234",
                started_at=NOW,
                ended_at=None,
                end_reason=None,
                attempts=10**6,
            )
            for i in range(draw(count(30)))
        ),
        steps=tuple(StepItem(s, STEP_TITLES[s], True, "UREP", NOW) for s in TriageStep),
        timeline=timeline,
        generated_at=NOW,
    )


@case(
    workarounds.start_workaround_modal,
    workarounds.checkin_message,
    workarounds.error_changed_modal,
    workarounds.attempt_reply,
    workarounds.unanswered_ping,
    workarounds.timebox_message,
    workarounds.progress_modal,
    workarounds.workaround_list_blocks,
    workarounds.answered_checkin,
    workarounds.answered_timebox,
    workarounds.unanswerable_checkin,
    workarounds.unanswerable_timebox,
)
def workaround_messages(data: st.DataObject) -> None:
    incident = data.draw(incidents())
    workaround = data.draw(workaround_objects(number=data.draw(st.integers(1, 2**31 - 1))))
    number = data.draw(st.integers(1, 10**6))
    accept(workarounds.start_workaround_modal(incident))
    accept(workarounds.checkin_message(incident, workaround, number, late=data.draw(st.booleans())))
    accept(workarounds.error_changed_modal(incident, workaround.id, number))
    outcome = data.draw(st.sampled_from(AttemptOutcome))
    error = data.draw(maybe(2000))
    accept(workarounds.attempt_reply(incident, workaround, number, outcome, "UREP", error, data.draw(st.booleans())))
    accept(workarounds.unanswered_ping(incident, workaround, number))
    attempt = Attempt(number=number, at=NOW, actor_id="UREP", outcome=outcome, error_text=error, error_changed=True)
    accept(workarounds.answered_checkin(incident, workaround, attempt, data.draw(ZONES)))
    extended = data.draw(st.booleans())
    accept(workarounds.answered_timebox(incident, workaround, actor_id="UREP", at=NOW, zone=UTC, extended=extended))
    why = data.draw(stored(300))  # e.g. "the workaround was stopped: <reason typed>"
    accept(workarounds.unanswerable_checkin(incident, workaround, number, why))
    accept(workarounds.unanswerable_timebox(incident, workaround, why))
    accept(workarounds.timebox_message(incident, workaround))
    accept(workarounds.progress_modal(incident, workaround))
    line = workarounds.workaround_line(workaround, attempts=number, now=NOW, zone=data.draw(ZONES))
    lines = [f"*INC-{9_999_000 + i}* {line}" for i in range(data.draw(count(60)))]
    accept(workarounds.workaround_list_blocks(lines, data.draw(st.integers(1, 10))))


@case(client_channel.update_recorded, client_channel.client_message, client_channel.update_sent)
def client_updates(data: st.DataObject) -> None:
    """A client update as recorded (at most 2,500 characters) and sent to the client's own channel."""
    words = data.draw(stored(2500))
    zone = data.draw(ZONES)
    recorded = client_channel.update_recorded(
        actor_id=data.draw(USERS),
        text=words,
        due=data.draw(MOMENTS),
        zone=zone,
        update_id=data.draw(st.one_of(st.none(), st.integers(1, 2**31 - 1))),
        client_channel=data.draw(st.one_of(st.none(), CHANNELS)),
    )
    accept(recorded)
    accept(client_channel.client_message(words))
    accept(
        client_channel.update_sent(actor_id="UREP", channel_id=data.draw(CHANNELS), due=data.draw(MOMENTS), zone=zone)
    )


@st.composite
def setting_values(draw: st.DrawFn) -> dict[str, str]:
    """Saved values as the settings modal takes them: channels, up to 100 people, texts of up to 1,000 characters."""
    values = {}
    for settable in SETTABLE:
        if not draw(st.booleans()):
            continue
        if settable.kind == SettingKind.CHANNEL:
            values[settable.field] = draw(CHANNELS)
        elif settable.kind == SettingKind.USERS:
            values[settable.field] = ",".join(f"U{n:010d}" for n in range(draw(count(100))))
        else:
            values[settable.field] = draw(stored(1000))
    return values


@case(settings_blocks.settings_modal, settings_blocks.settings_saved_view, settings_blocks.notice_modal)
def workspace_settings(data: st.DataObject) -> None:
    saved, defaults = data.draw(setting_values()), data.draw(setting_values())
    names = data.draw(pool(200))
    changes = [
        SettingsChange(
            setting=SETTABLE[i % len(SETTABLE)].field,
            old_value=data.draw(maybe(1000)),
            new_value=data.draw(maybe(1000)),
            changed_by=f"U{i:010d}",
            changed_at=NOW,
        )
        for i in range(data.draw(count(5)))
    ]
    clients = [(names[i % len(names)], ClientTier.PREMIUM, f"C{i:010d}") for i in range(data.draw(count(200)))]
    form = settings_blocks.SettingsForm(saved, defaults, changes, clients)
    accept(settings_blocks.settings_modal(form, data.draw(ZONES)))
    wanted = data.draw(setting_values())
    changed = [SettingChange(s.field, saved.get(s.field), wanted.get(s.field)) for s in SETTABLE]
    client = settings_blocks.ClientMapping(names[0], ClientTier.STANDARD, data.draw(st.one_of(st.none(), CHANNELS)))
    accept(settings_blocks.settings_saved_view(changed, defaults, data.draw(st.one_of(st.none(), st.just(client)))))
    accept(settings_blocks.notice_modal(data.draw(stored(100)), data.draw(stored(5000))))


@case(budget.more_note)
def more_notes(data: st.DataObject) -> None:
    lines = cycled(data.draw(pool(3000)), data.draw(count(500)))
    page = budget.page_of(lines, data.draw(st.integers(1, 10**6)), max_lines=data.draw(st.integers(1, 50)))
    note = budget.more_note(page, data.draw(st.sampled_from(["/triage list", "/triage oncall", "/triage workarounds"])))
    if note is not None:
        accept([note])


@pytest.mark.parametrize("built", CASES, ids=lambda c: c.name)
@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.data())
def test_the_builders_make_payloads_slack_takes(built: Case, data: st.DataObject) -> None:
    built.run(data)


# --- no builder slips past --------------------------------------------------------------------------------------

PAYLOAD_TYPES = re.compile(r"\b(Message|View|Block|\w+Element|Option)\b")


def public_builders() -> set[Callable[..., Any]]:
    """Every public function of `blocks/` that returns Block Kit (a message, a view, blocks or elements)."""
    found = set()
    for module_info in pkgutil.iter_modules(blocks.__path__):
        module = importlib.import_module(f"blocks.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            returns = str(inspect.signature(function).return_annotation)
            if PAYLOAD_TYPES.search(returns) or name.endswith(("_modal", "_view", "_blocks", "_messages")):
                found.add(function)
    return found


def test_every_public_builder_is_covered() -> None:
    builders = public_builders()
    covered = {builder for c in CASES for builder in c.builders}
    assert len(builders) > 50, "the search finds the builders"
    missing = sorted(f"{b.__module__}.{b.__name__}" for b in builders - covered)
    assert not missing, f"builders with no property case here: {missing}"
