"""Dispatch lag of retry check-ins with scheduler replicas: 10,000 active retry cycles checking in every 10 min.

    .venv/bin/python benchmarks/checkins.py [--cycles 10000] [--channels 1000] [--slack-limits on|off]
        [--window 600] [--replicas 2] [--tick 1.0] [--margin 30] [--profile] [--database-url postgresql://...]

Creates a scratch PostgreSQL database, migrates it and bulk-loads (COPY) `--cycles` open incidents, spread
round-robin over `--channels` channels, each with a root message in the Slack emulator and an active retry cycle
(check-ins every 10 min) whose first check-in falls due at a uniformly random moment of the next `--window`
seconds. The default window is one interval:
10,000 cycles started at random times, in steady state, i.e. 16.7 check-ins/s. A shorter window is a burst
(`--window 120`: all 10,000 in two minutes, 83/s) that measures capacity. Then it starts `--replicas`
replica processes, each running the production scheduler (`build_services` + `start_scheduler`, APScheduler
ticking every `--tick` s) against the emulator (served from this process) for the window plus `--margin` s.

The emulator enforces Slack's rate limits (`--slack-limits on`, the default): about one post a second per channel
and each method's tier per workspace (`chat.update`, which refreshes an incident's root message after each
check-in, is Tier 3: 50 a minute), and the replicas pace themselves by the bot's defaults. Seeding the root
messages stands for history and is not limited. `--slack-limits off` turns the emulator's limits off and raises
the replicas' pacing out of the way (SLACK_POSTS_PER_SECOND 50, SLACK_POST_BURST 100, SLACK_TIER_SCALE 20), as
`benchmarks/load.py` does: it measures the bot alone.

Each replica times the timer and delivery batches of every tick (and the Slack HTTP calls inside the
delivery), from the outside: bot/ is not changed. Prints the dispatch lag (when the emulator received the
check-in's chat.postMessage minus the timer's due_at) p50/p99/max against the p99 < 5 s target, posted versus
due check-ins, duplicates, the time per tick, and CPU use. `--profile` runs the replicas under cProfile and
prints where their time goes. The database is dropped at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bot.scheduler  # noqa: E402
from benchmarks.scratch import migrated_scratch_database, percentile, plain, run_benchmark, say  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.integrations.outbox import DeliveryReport  # noqa: E402
from bot.sandbox.emulator import SlackEmulator  # noqa: E402
from bot.sandbox.emulator.ratelimits import RateLimits  # noqa: E402
from bot.services.container import Services  # noqa: E402
from bot.services.wiring import build_services  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P99_S = 5.0
INTERVAL_MINUTES = 10
OWNER, REPORTER = "UOWNER", "UREP"
PARKED = datetime(2100, 1, 1, tzinfo=UTC)  # check-ins wait here (plus their offset) until the replicas are up
CHECKIN = re.compile(r"Retry #(\d+) for INC-(\d+) is due")
START_TIMEOUT = 60.0


# --- the replica (run as `checkins.py replica ...`) ---------------------------------------------------------


@dataclass
class Tick:
    """One scheduler tick as the replica saw it; seconds are wall-clock durations."""

    started: float
    timers_s: float = 0.0
    handled: int = 0
    deliver_s: float = 0.0
    slack_s: float = 0.0
    slack_calls: int = 0
    sent: int = 0
    deferred: int = 0
    timers_db_s: float = 0.0  # SQL statements and commits, as the driver ran them
    deliver_db_s: float = 0.0
    statements: int = 0


COLUMN_LIST = re.compile(r"\b(\w+)\.\w+(?:, \1\.\w+)+")
PARAMETER = re.compile(r"%\(\w+\)s(?:::(?:TIMESTAMP WITH(?:OUT)? TIME ZONE|[A-Z]+))?")


def shorten(statement: str) -> str:
    """A statement's shape for the tally: `table.*` for column lists, `?` for parameters, VALUES dropped."""
    text = COLUMN_LIST.sub(lambda m: f"{m[1]}.*", " ".join(statement.split()))
    text = PARAMETER.sub("?", text)
    return re.sub(r"\(([^()]*)\) VALUES \(.*?\)( RETURNING .*)?$", "(…) VALUES (…)", text)


@dataclass
class TickRecorder:
    """Times the two halves of `bot.scheduler.tick` and the Slack calls inside, by wrapping them from outside."""

    services: Services
    profiler: cProfile.Profile | None
    ticks: list[Tick] = field(default_factory=list)
    sql: dict[str, list[float]] = field(default_factory=dict)  # statement -> [count, seconds]
    delivering: bool = False

    def install(self) -> None:
        self._install_tick_timers()
        self._install_sql_timers()

    def _install_tick_timers(self) -> None:
        scheduler_tick = bot.scheduler.tick
        run_due_timers = bot.scheduler.run_due_timers
        deliver_due = self.services.outbox.deliver_due
        call = self.services.slack.call

        def timed_tick(services: Services) -> object:
            self.ticks.append(Tick(started=time.time()))
            return self._run(lambda: scheduler_tick(services))

        def timed_timers(services: Services, **options: int) -> int:
            started = time.perf_counter()
            handled: int = run_due_timers(services, **options)
            tick = self.ticks[-1]
            tick.timers_s += time.perf_counter() - started
            tick.handled += handled
            return handled

        def timed_deliver(**options: int) -> DeliveryReport:
            started = time.perf_counter()
            self.delivering = True
            try:
                report: DeliveryReport = deliver_due(**options)
            finally:
                self.delivering = False
            tick = self.ticks[-1]
            tick.deliver_s += time.perf_counter() - started
            tick.sent += report.sent
            tick.deferred += report.deferred
            return report

        def timed_call(operation: str, args: dict[str, Any]) -> dict[str, Any]:
            started = time.perf_counter()
            try:
                return call(operation, args)
            finally:
                if self.ticks:
                    self.ticks[-1].slack_s += time.perf_counter() - started
                    self.ticks[-1].slack_calls += 1

        bot.scheduler.tick = timed_tick  # type: ignore[assignment]  # start_scheduler looks the name up
        bot.scheduler.run_due_timers = timed_timers  # `tick` looks the name up on every call
        self.services.outbox.deliver_due = timed_deliver  # type: ignore[method-assign, assignment]
        self.services.slack.call = timed_call  # type: ignore[method-assign]

    def _install_sql_timers(self) -> None:
        """Every statement's and commit's driver time, added to the tick it ran in and to a per-statement tally."""
        engine = self.services.engine
        do_commit = engine.dialect.do_commit

        def before(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
            conn.info.setdefault("started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
            self._count(statement, time.perf_counter() - conn.info["started"].pop())

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.perf_counter()
            do_commit(dbapi_connection)
            self._count("COMMIT", time.perf_counter() - started)

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]

    def _count(self, statement: str, seconds: float) -> None:
        key = shorten(statement)
        tally = self.sql.setdefault(key, [0, 0.0])
        tally[0] += 1
        tally[1] += seconds
        if self.ticks:
            tick = self.ticks[-1]
            tick.statements += 1
            if self.delivering:
                tick.deliver_db_s += seconds
            else:
                tick.timers_db_s += seconds

    def _run(self, function: Callable[[], Any]) -> Any:
        return self.profiler.runcall(function) if self.profiler else function()


class SkippedTicks(logging.Handler):
    """Counts APScheduler's 'skipped: maximum number of running instances reached' (a tick longer than --tick)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "maximum number of running instances" in record.getMessage():
            self.count += 1


def replica_main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us with SIGTERM
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    skipped = SkippedTicks()
    logging.getLogger("apscheduler").addHandler(skipped)
    # Without the emulator's limits the bot's pacing is raised out of the way, as benchmarks/workload.py does.
    unpaced = {"slack_posts_per_second": 50, "slack_post_burst": 100, "slack_tier_scale": 20} if args.unpaced else {}
    settings = load_settings(
        database_url=args.database_url,
        slack_api_url=args.slack_api_url,
        slack_bot_token=args.token,
        scheduler_interval_seconds=args.tick,
        **unpaced,
    )
    services = build_services(settings, clock=SystemClock())
    recorder = TickRecorder(services, cProfile.Profile() if args.profile else None)
    recorder.install()
    Path(args.ready_file).write_text(str(os.getpid()))
    cpu_started = time.process_time()
    scheduler = bot.scheduler.start_scheduler(services)
    parent = os.getppid()
    while not stop.wait(0.5) and os.getppid() == parent:
        pass
    scheduler.shutdown(wait=True)
    stats: dict[str, Any] = {"pid": os.getpid(), "cpu_s": time.process_time() - cpu_started}
    stats.update(skipped=skipped.count, ticks=[asdict(t) for t in recorder.ticks], sql=recorder.sql)
    Path(args.stats_file).write_text(json.dumps(stats))
    if recorder.profiler is not None:
        recorder.profiler.dump_stats(args.stats_file + ".pstats")
    services.engine.dispose()
    return 0


# --- seeding ------------------------------------------------------------------------------------------------


def channel_of(n: int, channels: int) -> str:
    """The channel incident `n` lives in (round-robin)."""
    return f"CSUPPORT{n % channels:05d}"


def new_emulator(channels: int, limits: bool) -> SlackEmulator:
    emulator = SlackEmulator(rate_limits=RateLimits(enabled=limits))
    emulator.add_user(OWNER, "owner")
    emulator.add_user(REPORTER, "reporter")
    for n in range(channels):
        channel = channel_of(n, channels)
        emulator.add_channel(channel.lower(), id=channel, members=[emulator.bot_user_id, OWNER, REPORTER])
    return emulator


def _incident_row(n: int, channel: str, root_ts: str, now: datetime) -> tuple[object, ...]:
    return (
        n,
        f"Exhibit upload fails for matter {n}",
        1,
        "SEV2",
        "investigating",
        f"Uploading exhibit bundle {n} stops at 99% with 'Network error'.",
        channel,
        root_ts,
        REPORTER,
        OWNER,
        False,
        now,
        now,
        1,
    )


INCIDENT_COLUMNS = (
    "id, title, client_id, severity, status, blocker, channel_id, root_ts, reporter_id, owner_id, is_major, "
    "opened_at, updated_at, version"
)
WORKAROUND_COLUMNS = (
    "id, incident_id, kind, state, description, client_expectation, owner_id, started_at, ends_at, interval_minutes"
)
TIMER_COLUMNS = "kind, due_at, incident_id, workaround_id, sequence, payload, dedupe_key, created_at, done_at"


OUTBOX_COLUMNS = (
    "idempotency_key, target, operation, purpose, payload, incident_id, state, attempts, next_attempt_at, "
    "result, created_at, sent_at"
)
HISTORY = (
    ("root", "root_message", False),
    ("environment", "environment", True),
    ("root_update:0", "root_update", True),
)


def _timer_rows(n: int, offset: float, now: datetime, ends_at: datetime) -> list[tuple[object, ...]]:
    """Check-in #1 parked (due `offset` s after PARKED), the time box end, and a finished acknowledgement timer."""
    return [
        ("retry_checkin", PARKED + timedelta(seconds=offset), n, n, 1, "{}", f"workaround:{n}:checkin:1", now, None),
        ("timebox_end", ends_at, n, n, 1, "{}", f"workaround:{n}:timebox:{ends_at.isoformat()}", now, None),
        ("ack_escalation", now, n, None, 1, "{}", f"INC-{n}:ack:1", now, now),
    ]


def _history_rows(n: int, channel: str, root_ts: str, now: datetime) -> list[tuple[object, ...]]:
    """What opening the incident left in the outbox, all sent: root message, environment reply, a root edit.

    Without it the outbox starts empty and the planner's statistics would not look like production's.
    """
    rows = []
    for suffix, purpose, in_thread in HISTORY:
        payload = {"args": {"channel": channel, "text": "…"}, "in_thread": in_thread, "records_root": not in_thread}
        result = {"channel": channel, "ts": root_ts}
        operation = "chat.update" if purpose == "root_update" else "chat.postMessage"
        key = f"INC-{n}:{suffix}"
        rows.append((key, "slack", operation, purpose, json.dumps(payload), n, "sent", 1, now, json.dumps(result)))
    return [(*row, now, now) for row in rows]


def _copy(cur: psycopg.Cursor[Any], table: str, columns: str, rows: Iterator[tuple[object, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, emulator: SlackEmulator, cycles: int, channels: int, window: float, rng: random.Random) -> None:
    """Root messages in the emulator (history: not rate limited); client, incidents, workarounds, timers and outbox
    history through COPY."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    ends_at = now + timedelta(hours=3)
    numbers = range(1, cycles + 1)
    channel = {n: channel_of(n, channels) for n in numbers}
    limits, emulator.rate_limits.enabled = emulator.rate_limits.enabled, False
    roots = {n: emulator.api("chat.postMessage", channel=channel[n], text=f"INC-{n} root")["ts"] for n in numbers}
    emulator.rate_limits.enabled = limits
    emulator.rate_limits.reset()
    say(
        f"  {cycles:,} root messages posted in the emulator over {channels:,} channels "
        f"({time.perf_counter() - started:.1f} s)"
    )
    description, expectation = "Retry the exhibit upload from Chrome", "We retry every 10 minutes"
    with psycopg.connect(plain(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO clients (id, name, name_key, tier, created_at) VALUES (1, %s, %s, 'premium', %s)",
            ("Hartley & Moss LLP", "hartley & moss llp", now),
        )
        _copy(cur, "incidents", INCIDENT_COLUMNS, (_incident_row(n, channel[n], roots[n], now) for n in numbers))
        workaround = ("retry_cycle", "active", description, expectation, OWNER, now, ends_at, INTERVAL_MINUTES)
        _copy(cur, "workarounds", WORKAROUND_COLUMNS, ((n, n, *workaround) for n in numbers))
        offsets = {n: rng.uniform(0, window) for n in numbers}
        timers = (row for n in numbers for row in _timer_rows(n, offsets[n], now, ends_at))
        _copy(cur, "timers", TIMER_COLUMNS, timers)
        history = (row for n in numbers for row in _history_rows(n, channel[n], roots[n], now))
        _copy(cur, "outbox", OUTBOX_COLUMNS, history)
        for table in ("clients", "incidents", "workarounds", "timers", "outbox"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    say(f"seeded {cycles:,} retry cycles and their incidents' outbox history in {time.perf_counter() - started:.1f} s")


def release_checkins(url: str) -> dict[int, float]:
    """Un-park the check-ins: due over the window from a second from now; each incident's due time (epoch s)."""
    start = datetime.now(UTC) + timedelta(seconds=1)
    with psycopg.connect(plain(url)) as conn:
        conn.execute(
            "UPDATE timers SET due_at = %s + (due_at - %s) WHERE kind = 'retry_checkin' AND done_at IS NULL",
            (start, PARKED),
        )
        rows = conn.execute(
            "SELECT incident_id, extract(epoch FROM due_at) FROM timers WHERE kind = 'retry_checkin'"
        ).fetchall()
    return {int(incident_id): float(due) for incident_id, due in rows}


# --- the run ------------------------------------------------------------------------------------------------


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    ready: Path
    stats: Path
    log: Path


@contextmanager
def replicas(
    count: int, url: str, api_url: str, token: str, tick: float, profile: bool, workdir: Path, *, unpaced: bool = False
) -> Iterator[list[Replica]]:
    """`count` replica processes, ready; stopped with SIGTERM at the end (killed if they do not stop). `unpaced`
    raises their pacing out of the way (for an emulator without rate limits)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_"))}
    started: list[Replica] = []
    try:
        for n in range(count):
            ready, stats, log = (workdir / f"replica-{n}.{ext}" for ext in ("ready", "json", "log"))
            command = [sys.executable, str(Path(__file__).resolve()), "replica", "--database-url", url]
            command += ["--slack-api-url", api_url, "--token", token, "--tick", str(tick)]
            command += ["--ready-file", str(ready), "--stats-file", str(stats)] + (["--profile"] if profile else [])
            command += ["--unpaced"] if unpaced else []
            with log.open("wb") as out:
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            started.append(Replica(process, ready, stats, log))
        _wait_until_ready(started)
        yield started
    finally:
        stop_replicas(started)


def _wait_until_ready(started: list[Replica]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not all(r.ready.exists() for r in started):
        failed = [r for r in started if r.process.poll() is not None]
        if failed or time.monotonic() > deadline:
            raise SystemExit(f"a replica did not start:\n{failed[0].log.read_text() if failed else 'timeout'}")
        time.sleep(0.1)


def stop_replicas(started: list[Replica]) -> None:
    for replica in started:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGTERM)
    for replica in started:
        try:
            replica.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()


def progress(url: str, due: dict[int, float], duration: float) -> None:
    """Wait `duration` s, saying every 10 s how many first check-ins fell due, were handled and were posted.

    Second check-ins (of cycles whose first fell due more than an interval ago) are counted in the report only.
    """
    ends = time.monotonic() + duration
    with psycopg.connect(plain(url), autocommit=True) as conn:
        while (left := ends - time.monotonic()) > 0:
            time.sleep(min(10.0, left))
            handled, posted = conn.execute(
                "SELECT (SELECT count(*) FROM timers WHERE kind = 'retry_checkin' AND sequence = 1 "
                "AND done_at IS NOT NULL), (SELECT count(DISTINCT incident_id) FROM outbox "
                "WHERE purpose = 'checkin' AND state = 'sent')"
            ).fetchone() or (0, 0)
            fell_due = sum(1 for t in due.values() if t <= time.time())
            say(f"  {fell_due:>6,} due   {handled:>6,} handled   {posted:>6,} posted   backlog {fell_due - posted:,}")


def leftovers(url: str) -> tuple[int, int]:
    """Check-ins still due but not handled, and check-in messages still waiting in the outbox."""
    with psycopg.connect(plain(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM timers WHERE kind = 'retry_checkin' AND done_at IS NULL "
            "AND due_at <= now()), (SELECT count(*) FROM outbox WHERE purpose = 'checkin' AND state = 'pending')"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def root_edits_waiting(url: str) -> int:
    """Root-message refreshes (chat.update) still queued."""
    with psycopg.connect(plain(url)) as conn:
        row = conn.execute("SELECT count(*) FROM outbox WHERE purpose = 'root_update' AND state = 'pending'").fetchone()
    return int(row[0]) if row else 0


def report_calls(emulator: SlackEmulator, seeded: int, edits_waiting: int) -> None:
    """The Web API calls of the run (after the `seeded` ones) by method, the 429s among them, and the root refreshes
    still queued."""
    calls = emulator.calls()[seeded:]
    by_method = Counter(call.method for call in calls)
    limited = Counter(call.method for call in calls if call.response.get("error") == "ratelimited")
    say(
        f"Slack calls: {len(calls):,} ("
        + ", ".join(f"{method} {n:,}" for method, n in by_method.most_common())
        + f"); 429s: {sum(limited.values()):,} ({sum(limited.values()) / max(len(calls), 1):.2%})"
        + "".join(f", {method} {n:,}" for method, n in limited.most_common())
        + f"; root refreshes (chat.update) still queued: {edits_waiting:,}"
    )


def cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


# --- the report ---------------------------------------------------------------------------------------------


def checkin_posts(emulator: SlackEmulator) -> list[tuple[int, int, float]]:
    """(incident id, retry number, received at) of every check-in the emulator accepted."""
    posts = []
    for call in emulator.calls("chat.postMessage"):
        found = CHECKIN.fullmatch(str(call.args.get("text", "")))
        if found and call.response.get("ok"):
            posts.append((int(found[2]), int(found[1]), float(call.response["ts"])))
    return posts


def report_lag(posts: list[tuple[int, int, float]], due: dict[int, float], deadline: float) -> bool:
    counts = Counter((incident_id, number) for incident_id, number, _ in posts)
    first: dict[int, float] = {}
    for incident_id, number, received in posts:
        if number == 1:
            first[incident_id] = min(received, first.get(incident_id, received))
    lags = [first[i] - due[i] for i in first]
    fell_due = sum(1 for t in due.values() if t <= deadline)
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    waited = lags + [deadline - t for i, t in due.items() if i not in first and t <= deadline]
    ok = p99 < TARGET_P99_S and len(first) == fell_due
    say(f"check-ins due: {fell_due:,}   posted: {len(first):,}   missing: {fell_due - len(first):,}")
    later = sum(1 for _, number in counts if number > 1)
    say(f"duplicates: {sum(n - 1 for n in counts.values())}   later check-ins (#2+): {later}")
    say(
        f"dispatch lag (Slack received - due_at): p50 {p50:.2f} s   p99 {p99:.2f} s   max {max(lags, default=0):.2f} s"
        f"   (target p99 < {TARGET_P99_S:.0f} s) -> {'OK' if ok else 'MISSED'}"
    )
    if len(first) < fell_due:
        say(
            f"  counting the never posted as their wait at the end: p50 >= {percentile(waited, 50):.2f} s, "
            f"p99 >= {percentile(waited, 99):.2f} s"
        )
    return ok


def _ms(values: list[float]) -> str:
    mean, p99, worst = (sum(values) / len(values) if values else 0.0), percentile(values, 99), max(values, default=0)
    return f"mean {mean * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  max {worst * 1000:7.1f} ms"


def report_ticks(started: list[Replica], tick: float) -> None:
    for n, replica in enumerate(started):
        if not replica.stats.exists():
            log = replica.log.read_text()[-2000:]
            say(f"replica {n}: no stats (exit code {replica.process.returncode}); log:\n{log}")
            continue
        stats = json.loads(replica.stats.read_text())
        ticks = [Tick(**t) for t in stats["ticks"]]
        busy = [t for t in ticks if t.handled or t.sent]
        handled, sent = sum(t.handled for t in ticks), sum(t.sent for t in ticks)
        overran = sum(1 for t in ticks if t.timers_s + t.deliver_s > tick)
        say(
            f"replica {n} (pid {stats['pid']}): {len(ticks)} ticks, {len(busy)} with work, {overran} longer than "
            f"{tick:g} s, {stats['skipped']} skipped by APScheduler; {handled:,} timers, {sent:,} messages; "
            f"CPU {stats['cpu_s']:.1f} s"
        )
        say(f"  run_due_timers per busy tick:      {_ms([t.timers_s for t in busy])}")
        say(f"    of which DB (SQL + commits):     {_ms([t.timers_db_s for t in busy])}")
        say(f"  outbox.deliver_due per busy tick:  {_ms([t.deliver_s for t in busy])}")
        say(f"    of which DB (SQL + commits):     {_ms([t.deliver_db_s for t in busy])}")
        say(f"    of which Slack HTTP:             {_ms([t.slack_s for t in busy])}")
        if handled and sent:
            say(
                f"  per timer {sum(t.timers_s for t in ticks) / handled * 1000:.1f} ms "
                f"(DB {sum(t.timers_db_s for t in ticks) / handled * 1000:.1f} ms); "
                f"per message {sum(t.deliver_s for t in ticks) / sent * 1000:.1f} ms "
                f"(DB {sum(t.deliver_db_s for t in ticks) / sent * 1000:.1f} ms, "
                f"Slack {sum(t.slack_s for t in ticks) / sent * 1000:.1f} ms); "
                f"{sum(t.statements for t in ticks) / (handled + sent):.1f} statements per item"
            )


def report_sql(started: list[Replica], top: int = 15) -> None:
    """The statements the replicas spent the most driver time on, summed over replicas."""
    totals: dict[str, list[float]] = {}
    for replica in started:
        if replica.stats.exists():
            for statement, (count, seconds) in json.loads(replica.stats.read_text())["sql"].items():
                tally = totals.setdefault(statement, [0, 0.0])
                tally[0] += count
                tally[1] += seconds
    say(f"top statements by total time (both replicas; {sum(t[1] for t in totals.values()):.1f} s in all):")
    for statement, (count, seconds) in sorted(totals.items(), key=lambda kv: -kv[1][1])[:top]:
        say(f"  {seconds:7.1f} s  {count:>7,.0f}x  {seconds / count * 1000:6.2f} ms  {statement[:400]}")


def report_profile(started: list[Replica], top: int = 30) -> None:
    files = [str(r.stats) + ".pstats" for r in started if Path(str(r.stats) + ".pstats").exists()]
    if not files:
        return
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(*files, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        say(f"--- replicas' profile by {order} ---\n" + out.getvalue().split("\n\n", 2)[-1])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    replica = sub.add_parser("replica", help="internal: one scheduler replica")
    replica.add_argument("--database-url", required=True)
    replica.add_argument("--slack-api-url", required=True)
    replica.add_argument("--token", required=True)
    replica.add_argument("--tick", type=float, default=1.0)
    replica.add_argument("--ready-file", required=True)
    replica.add_argument("--stats-file", required=True)
    replica.add_argument("--profile", action="store_true")
    replica.add_argument("--unpaced", action="store_true")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=1_000, help="channels the incidents are spread over")
    parser.add_argument(
        "--slack-limits",
        choices=("on", "off"),
        default="on",
        help="the emulator enforces Slack's rate limits (on), or none while the bot's pacing is raised (off)",
    )
    parser.add_argument(
        "--window", type=float, default=INTERVAL_MINUTES * 60.0, help="seconds over which the check-ins fall due"
    )
    parser.add_argument("--margin", type=float, default=30.0, help="seconds the replicas keep running after it")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--tick", type=float, default=1.0, help="scheduler interval of each replica, seconds")
    parser.add_argument("--profile", action="store_true", help="run the replicas under cProfile")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def bench(args: argparse.Namespace, url: str, workdir: Path) -> bool:
    limits = args.slack_limits == "on"
    emulator = new_emulator(args.channels, limits)
    seed(url, emulator, args.cycles, args.channels, args.window, random.Random(args.seed))
    seeded = len(emulator.calls())
    with emulator.serve() as server:
        say(
            f"starting {args.replicas} replicas (tick {args.tick:g} s); Slack's rate limits "
            + ("on, the bot's default pacing" if limits else "off, the bot's pacing raised out of the way")
            + " ..."
        )
        with replicas(
            args.replicas, url, f"{server.url}/api/", emulator.bot_token, args.tick, args.profile, workdir,
            unpaced=not limits,
        ) as started:  # fmt: skip
            cpu_before, wall_before = cpu_seconds(), time.time()
            due = release_checkins(url)
            say(f"check-ins fall due over {args.window:g} s; running for {args.window + args.margin:g} s ...")
            progress(url, due, args.window + args.margin + 1)
            deadline = time.time()
            unhandled, unsent = leftovers(url)
            edits = root_edits_waiting(url)
        busy = cpu_seconds()[0] - cpu_before[0]
        say(f"machine CPU: {busy / (time.time() - wall_before):.2f} of {os.cpu_count()} cores busy on average")
        say(f"at the end: {unhandled:,} due check-ins not handled, {unsent:,} check-in messages not sent")
        report_calls(emulator, seeded, edits)
        ok = report_lag(checkin_posts(emulator), due, deadline)
    report_ticks(started, args.tick)
    report_sql(started)
    if args.profile:
        report_profile(started)
    return ok


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.mode == "replica":
        return replica_main(args)
    say("$ " + " ".join([Path(sys.executable).name, *sys.argv]))

    def run() -> bool:
        with (
            TemporaryDirectory(prefix="checkins-bench-") as workdir,
            migrated_scratch_database(args.database_url, "checkins_bench") as url,
        ):
            return bench(args, url, Path(workdir))

    return run_benchmark(run)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
