"""Pacing Slack calls on real PostgreSQL, against the emulator with Slack's rate limits on (real HTTP):
budgets shared by dispatchers with engines of their own (as replicas are), a Retry-After pausing every one of
them, urgent calls first, and a quiet workspace never waiting behind a noisy one. Time is the tests' clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import ManualClock
from bot.db import make_engine, make_session_factory, unit_of_work
from bot.integrations.outbox import (
    OutboxDispatcher,
    enqueue_slack_call,
    request_root_refresh,
    undelivered_summary,
)
from bot.integrations.rate_budgets import Budget, Pacing, RateBudgets
from bot.integrations.slack import SlackGateway, build_web_client
from bot.integrations.workspaces import SlackWorkspaces
from bot.models import Incident, OutboxMessage, OutboxState
from bot.observability.metrics import DatabaseCollector, metrics
from bot.observability.workspace_load import BUSY_WORKSPACE_QUEUE, RECOUNT_SECONDS, WorkspaceLoad
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.ratelimits import RateLimits
from bot.sandbox.wsgi_server import RunningServer
from tests.integration.test_open_incident import _open

NOISY, QUIET = "CNOISY", "CQUIET"


@pytest.fixture
def slack(clock: ManualClock) -> Iterator[tuple[SlackEmulator, RunningServer]]:
    """Slack with its limits on, on the tests' clock: 1 post a second per channel after a burst of 20."""
    emulator = SlackEmulator(rate_limits=RateLimits(clock=lambda: clock.now().timestamp()))
    for channel in (NOISY, QUIET, "CSUPPORT"):
        emulator.add_channel(channel.lower(), id=channel, members=[emulator.bot_user_id])
    server = emulator.serve()
    yield emulator, server
    server.stop()


def gateway(emulator: SlackEmulator) -> SlackGateway:
    return SlackGateway(build_web_client(token=emulator.bot_token, base_url=f"{emulator.api_url}"))


def dispatcher(
    factory: sessionmaker[Session], emulator: SlackEmulator, clock: ManualClock, pacing: Pacing | None = None
) -> OutboxDispatcher:
    return OutboxDispatcher(
        session_factory=factory, workspaces=SlackWorkspaces(gateway(emulator)), clock=clock, pacing=pacing
    )


def queue_posts(factory: sessionmaker[Session], clock: ManualClock, channel: str, count: int, purpose: str) -> None:
    with unit_of_work(factory) as session:
        for n in range(count):
            enqueue_slack_call(
                session=session,
                key=f"{channel}:{purpose}:{n}",
                operation="chat.postMessage",
                args={"channel": channel, "text": f"{purpose} {n}"},
                purpose=purpose,
                now=clock.now(),
            )


def posts(emulator: SlackEmulator, channel: str) -> list[str]:
    return [str(c.args.get("text")) for c in emulator.calls("chat.postMessage") if c.args.get("channel") == channel]


def refusals(emulator: SlackEmulator) -> int:
    return sum(1 for c in emulator.calls() if c.response.get("error") == "ratelimited")


def test_two_replicas_together_never_post_faster_than_the_channel_allows(
    database_url: str, clean_db: object, clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    engines = [make_engine(database_url) for _ in range(2)]  # each replica its own engine and pool
    try:
        replicas = [dispatcher(make_session_factory(e), emulator, clock) for e in engines]
        queue_posts(make_session_factory(engines[0]), clock, NOISY, 40, "checkin")
        per_second: list[int] = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            for _ in range(45):
                reports = list(pool.map(lambda d: d.deliver_due(limit=50), replicas))
                per_second.append(sum(r.sent for r in reports))
                clock.advance(timedelta(seconds=1))
    finally:
        for engine in engines:
            engine.dispose()
    assert per_second[0] == 10, "the burst"
    assert max(per_second[1:]) == 1, "then one a second between both replicas"
    assert sorted(posts(emulator, NOISY)) == sorted(f"checkin {n}" for n in range(40)), "each once"
    assert refusals(emulator) == 0, "paced before Slack had to refuse"


def test_a_retry_after_seen_by_one_replica_pauses_the_other(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    first, second = dispatcher(session_factory, emulator, clock), dispatcher(session_factory, emulator, clock)
    emulator.fail_next("chat.postMessage", retry_after=30)
    queue_posts(session_factory, clock, QUIET, 1, "step_logged")
    assert first.deliver_due().retrying == 1
    queue_posts(session_factory, clock, QUIET, 1, "details_added")
    clock.advance(timedelta(seconds=29))
    assert second.deliver_due().sent == 0, "the other replica waits out Slack's Retry-After too"
    clock.advance(timedelta(seconds=1))
    assert second.deliver_due().sent == 1
    clock.advance(timedelta(seconds=1))
    assert second.deliver_due().sent == 1


def test_a_short_retry_after_goes_back_to_the_outbox_instead_of_being_retried_inside_the_client(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    """slack_sdk retries a 429 of up to 2 s itself for the bot's direct calls; the outbox's calls must not be sent
    again where no rate budget sees them."""
    emulator, _ = slack
    first, second = dispatcher(session_factory, emulator, clock), dispatcher(session_factory, emulator, clock)
    emulator.fail_next("chat.postMessage", status=429, retry_after=1)
    queue_posts(session_factory, clock, QUIET, 1, "step_logged")
    assert first.deliver_due().retrying == 1
    assert len(emulator.calls("chat.postMessage")) == 1, "one request, no retry inside the client"
    queue_posts(session_factory, clock, QUIET, 1, "details_added")
    assert second.deliver_due().sent == 0, "the pause is shared"
    clock.advance(timedelta(seconds=5))
    assert first.deliver_due().sent == 2
    accepted = [c.args.get("text") for c in emulator.calls("chat.postMessage") if c.response.get("ok")]
    assert accepted == ["step_logged 0", "details_added 0"]


def test_the_bots_direct_calls_still_retry_a_short_retry_after_inside_the_client(
    slack: tuple[SlackEmulator, RunningServer],
) -> None:
    emulator, _ = slack
    emulator.fail_next("conversations.info", status=429, retry_after=0)
    assert gateway(emulator).client.conversations_info(channel=QUIET)["channel"]["id"] == QUIET
    assert len(emulator.calls("conversations.info")) == 2


def test_a_new_incidents_root_and_page_go_before_routine_check_ins(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    queue_posts(session_factory, clock, NOISY, 30, "checkin")
    queue_posts(session_factory, clock, NOISY, 1, "oncall_page")
    queue_posts(session_factory, clock, NOISY, 1, "root_message")
    dispatcher(session_factory, emulator, clock).deliver_due()
    assert posts(emulator, NOISY)[:2] == ["oncall_page 0", "root_message 0"], "urgent first, then in order"


def test_a_quiet_workspace_is_not_delayed_by_a_noisy_one_and_show_names_the_wait(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    noisy_incident = _open(session_factory, "view:noisy")
    with unit_of_work(session_factory) as session:
        for n in range(200):
            enqueue_slack_call(
                session=session,
                key=f"storm:{n}",
                operation="chat.postMessage",
                args={"channel": "CSUPPORT", "text": f"checkin {n}"},
                purpose="checkin",
                now=clock.now(),
                incident_id=noisy_incident,
            )
    outbox = dispatcher(session_factory, emulator, clock)
    waits_before = delivery_waits()
    assert outbox.deliver_due(limit=25).sent == 10, "the noisy channel's burst, then its calls wait together"
    with unit_of_work(session_factory) as session:
        enqueue_slack_call(
            session=session,
            key="quiet:root",
            operation="chat.postMessage",
            args={"channel": QUIET, "text": "root_message 0"},
            purpose="root_message",
            now=clock.now(),
            workspace="TQUIET",
        )
    report = outbox.deliver_due(limit=5)
    assert (report.sent, posts(emulator, QUIET)) == (1, ["root_message 0"]), "not behind 190 waiting check-ins"
    with unit_of_work(session_factory) as session:
        shown = undelivered_summary(session=session, incident_id=noisy_incident, now=clock.now())
        waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.limited_until.is_not(None))).all()
    assert len(waiting) == 190 and all(m.state == OutboxState.PENDING for m in waiting)
    assert shown[0].startswith("Slack checkin: waiting for Slack's rate limit until ")
    gauges = {m.name: m for m in DatabaseCollector(session_factory).collect()}
    queued = {tuple(s.labels.values()): s.value for s in gauges["triage_outbox_queued"].samples}
    assert queued[("busy", "8", "true")] == 190
    waits = delivery_waits() - waits_before
    assert (waits[("busy", "8")], waits[("quiet", "1")]) == (10, 1), "the wait is measured per class and priority"
    assert refusals(emulator) == 0


def delivery_waits() -> Counter[tuple[str, str]]:
    """How many deliveries the wait histogram has seen, by (workspace class, priority)."""
    counts: Counter[tuple[str, str]] = Counter()
    for family in metrics().outbox_wait_seconds.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                counts[(sample.labels["workspace_class"], sample.labels["priority"])] += int(sample.value)
    return counts


def test_the_pace_is_configurable_for_a_workspace_slack_grants_more(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    emulator, _ = slack
    queue_posts(session_factory, clock, NOISY, 15, "checkin")
    report = dispatcher(session_factory, emulator, clock, Pacing(post_burst=20)).deliver_due()
    assert report.sent == 15 and Counter(posts(emulator, NOISY)).most_common(1)[0][1] == 1, "each once, at once"


def test_a_spent_edit_allowance_never_holds_back_the_channels_posts(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    """`chat.update` is paced by its workspace tier too: when that runs out, only edits wait, never check-ins."""
    emulator, _ = slack
    posted = emulator.api("chat.postMessage", channel=NOISY, text="root")
    with unit_of_work(session_factory) as session:
        for n in range(10):
            enqueue_slack_call(
                session=session,
                key=f"edit:{n}",
                operation="chat.update",
                args={"channel": NOISY, "ts": posted["ts"], "text": f"root v{n}"},
                purpose="root_update",
                now=clock.now(),
            )
    queue_posts(session_factory, clock, NOISY, 3, "checkin")
    report = dispatcher(session_factory, emulator, clock, Pacing(tier_scale=0.1)).deliver_due()
    assert (report.sent, report.limited) == (8, 1), "5 edits (a tenth of Tier 3's 50); the rest wait together"
    assert posts(emulator, NOISY) == ["root", "checkin 0", "checkin 1", "checkin 2"]
    assert refusals(emulator) == 0


def test_a_root_refresh_its_budget_refuses_is_not_rendered(
    session_factory: sessionmaker[Session], clock: ManualClock, slack: tuple[SlackEmulator, RunningServer]
) -> None:
    """Rendering a root message reads the whole incident; one the spent edit allowance holds back costs nothing."""
    emulator, _ = slack
    incidents = [_open(session_factory, f"view:{n}") for n in range(8)]
    with unit_of_work(session_factory) as session:
        session.execute(update(OutboxMessage).values(state=OutboxState.SENT))  # their roots and pages went out
        for incident_id in incidents:
            root = emulator.api("chat.postMessage", channel="CSUPPORT", text=f"root of {incident_id}")
            session.execute(update(Incident).where(Incident.id == incident_id).values(root_ts=root["ts"]))
            request_root_refresh(
                session=session, incident_id=incident_id, key=f"refresh:{incident_id}", now=clock.now()
            )
    rendered: list[int] = []

    def render(session: Session, incident: Incident) -> dict[str, object]:
        rendered.append(incident.id)
        return {"text": f"{incident.key} now"}

    outbox = dispatcher(session_factory, emulator, clock, Pacing(tier_scale=0.1))  # 5 edits a minute
    outbox.render_root = render
    report = outbox.deliver_due()
    assert (report.sent, report.limited) == (5, 1), "the sixth edit is refused and the rest wait with it"
    assert rendered == incidents[:5], "only the edits that went out were rendered"
    assert [c.args["text"] for c in emulator.calls("chat.update")] == [f"INC-{i} now" for i in incidents[:5]]
    clock.advance(timedelta(minutes=1))
    assert outbox.deliver_due().sent == 3 and rendered == incidents


def test_a_workspace_turns_busy_past_a_hundred_waiting_calls_counted_every_few_seconds(
    session_factory: sessionmaker[Session], clock: ManualClock
) -> None:
    ticks = [0.0]
    load = WorkspaceLoad(session_factory, monotonic=lambda: ticks[0])
    assert load.class_of("TNOISY") == "quiet"
    with unit_of_work(session_factory) as session:
        for n in range(BUSY_WORKSPACE_QUEUE + 1):
            enqueue_slack_call(
                session=session,
                key=f"noisy:{n}",
                operation="chat.postMessage",
                args={"channel": NOISY, "text": f"checkin {n}"},
                purpose="checkin",
                now=clock.now(),
                workspace="TNOISY",
            )
    ticks[0] = RECOUNT_SECONDS - 0.1
    assert load.class_of("TNOISY") == "quiet", "the last count still serves"
    ticks[0] = RECOUNT_SECONDS
    assert (load.class_of("TNOISY"), load.class_of("TQUIET")) == ("busy", "quiet")


def test_a_replica_reading_an_earlier_time_never_gets_the_same_seconds_refilled_twice(
    database_url: str, clean_db: object
) -> None:
    """Each replica reads Slack's time before it locks the budget, so one can come in with an earlier time than the
    last taker's; the budget must not move back to it, or the next taker is refilled for seconds already paid."""
    engine = make_engine(database_url)
    try:
        budgets = RateBudgets(engine)
        budget = [Budget("T1:C1", per_second=1.0, burst=2)]
        t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        t2 = t0 + timedelta(seconds=2)
        assert budgets.take(budget, t0) is None
        assert budgets.take(budget, t2) is None, "refilled to the burst of 2, one taken"
        assert budgets.take(budget, t0) is None, "a replica that read its time before t2: the last token"
        assert budgets.take(budget, t2) is not None, "a third call at t2 would be over the burst: Slack refuses it"
    finally:
        engine.dispose()
