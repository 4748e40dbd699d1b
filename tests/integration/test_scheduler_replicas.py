"""Three scheduler replicas as separate OS processes on one PostgreSQL database and one Slack.

Each replica (`tests/replica_worker.py`) builds its own Services and calls `tick` every 0.2 s on the real
clock. 150 incidents each run a retry cycle (every minute); their first check-ins are made due over the next
few seconds once the replicas are up. To get several check-ins per cycle without waiting minutes, the test
brings each cycle's next check-in (up to #3) forward to "now" as soon as it is scheduled, as if the minute
had passed. What Slack received is counted from the emulator's log of `chat.postMessage` calls.

Without failures every check-in is posted exactly once. When a replica is SIGKILLed midway, nothing is lost,
nothing stays claimed and nothing is posted twice: a post that reached Slack before the replica could commit
is found by the outbox key in its metadata and not repeated (tests/integration/test_outbox_crash.py makes
that exact crash happen; here the kill lands wherever it lands).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from bot.db import make_engine, make_session_factory, unit_of_work
from bot.domain.incidents import open_incident
from bot.domain.workarounds import RETRY_CHECKIN, start_workaround
from bot.migrate import upgrade
from bot.models import WorkaroundKind
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.ratelimits import RateLimits
from bot.sandbox.wsgi_server import RunningServer
from tests.factories import a_report

ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = 150
ROUNDS = 3  # check-ins per cycle brought forward into the run
REPLICAS = 3
TICK_SECONDS = 0.2
FIRST_DUE_SPREAD = 5.0  # seconds over which the first check-ins fall due
INTERVAL = timedelta(minutes=1)
SUPPORT, OWNER, REPORTER = "CSUPPORT", "UOWNER", "UREP"
CHECKIN = re.compile(r"Retry #(\d+) for INC-(\d+) is due")
START_TIMEOUT = 30.0  # generous: three interpreters importing the bot at once on a busy two-core machine
RUN_TIMEOUT = 40.0
SETTLE_SECONDS = 1.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Post:
    """One check-in Slack accepted: which incident, which retry, and when the emulator stored it."""

    incident_id: int
    number: int
    received_at: float


@dataclass
class Replicas:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def workers(self) -> list[str]:
        """Their `claimed_by` names, as `bot.services.timers.worker_id()` spells them."""
        host = socket.gethostname()
        return [f"{host}:{p.pid}" for p in self.processes]

    def stop(self, timeout: float = 15.0) -> list[int | None]:
        """SIGTERM the live ones (each finishes its tick), SIGKILL what does not exit; their return codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        return [p.returncode for p in self.processes]

    def tails(self, lines: int = 15) -> str:
        parts = []
        for process, log in zip(self.processes, self.logs, strict=True):
            tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
            parts.append(f"--- replica pid {process.pid} (rc {process.returncode}) ---\n" + "\n".join(tail))
        return "\n".join(parts)


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture
def replica_database(postgres_server_url: str) -> Iterator[str]:
    """A scratch database of its own (the replicas connect to it by URL), migrated, dropped at the end."""
    name = f"triage_replicas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(replica_database: str) -> Iterator[Engine]:
    engine = make_engine(replica_database)
    yield engine
    engine.dispose()


@pytest.fixture
def slack() -> Iterator[tuple[SlackEmulator, RunningServer]]:
    # Every check-in of every incident goes to one channel within seconds, far above Slack's one post a second per
    # channel: the limits are off, as this is about exactly once across replicas (the outbox meets 429s elsewhere).
    emulator = SlackEmulator(rate_limits=RateLimits(enabled=False))
    emulator.add_user(OWNER, "owner")
    emulator.add_user(REPORTER, "reporter")
    emulator.add_channel("support", id=SUPPORT, members=[emulator.bot_user_id, OWNER, REPORTER])
    server = emulator.serve()
    try:
        yield emulator, server
    finally:
        server.stop()


# --- seeding and driving -----------------------------------------------------------------------------------


def seed_cycles(engine: Engine, emulator: SlackEmulator, count: int) -> list[int]:
    """`count` open incidents with a root message in Slack and a retry cycle; check-in #1 a minute away."""
    now = datetime.now(UTC)
    ids = []
    with unit_of_work(make_session_factory(engine)) as session:
        for n in range(count):
            incident = open_incident(
                session=session,
                report=a_report(now, title=f"Exhibit upload fails ({n})"),
                reporter_id=REPORTER,
                channel_id=SUPPORT,
                oncall_id=None,
                idempotency_key=f"replicas:{n}",
                now=now,
            ).incident
            root = emulator.api("chat.postMessage", channel=SUPPORT, text=f"{incident.key}: {incident.title}")
            assert root["ok"], root
            incident.root_ts, incident.channel_id = root["ts"], root["channel"]
            start_workaround(
                session=session,
                incident=incident,
                kind=WorkaroundKind.RETRY_CYCLE,
                description="Retry the exhibit upload from Chrome",
                client_expectation="We retry every minute",
                owner_id=OWNER,
                time_box=timedelta(hours=1),
                interval=INTERVAL,
                now=now,
            )
            ids.append(incident.id)
    return ids


def make_first_checkins_due(engine: Engine) -> None:
    """Check-in #1 of each cycle falls due over the next few seconds (deterministically spread by incident)."""
    steps = 25
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE timers SET due_at = now() + (incident_id % :steps) * make_interval(secs => :step) "
                "WHERE kind = :kind AND sequence = 1 AND done_at IS NULL"
            ),
            {"steps": steps, "step": FIRST_DUE_SPREAD / steps, "kind": RETRY_CHECKIN},
        )


def bring_next_checkins_forward(engine: Engine) -> None:
    """As if the interval had passed: pending check-ins #2..#ROUNDS are due now (later ones stay a minute off)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE timers SET due_at = now() WHERE kind = :kind AND done_at IS NULL "
                "AND sequence BETWEEN 2 AND :rounds AND due_at > now()"
            ),
            {"kind": RETRY_CHECKIN, "rounds": ROUNDS},
        )


@contextmanager
def running_replicas(
    count: int, database_url: str, server: RunningServer, token: str, workdir: Path
) -> Iterator[Replicas]:
    """`count` replica processes, each ready (its database answered); all stopped, or killed, on the way out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_"))}
    processes, logs, ready = [], [], []
    try:
        for n in range(count):
            logs.append(workdir / f"replica-{n}.log")
            ready.append(workdir / f"replica-{n}.ready")
            with logs[-1].open("wb") as log:
                command = [
                    *(sys.executable, "-m", "tests.replica_worker"),
                    *("--database-url", database_url, "--slack-api-url", f"{server.url}/api/", "--token", token),
                    *("--ready-file", str(ready[-1]), "--interval", str(TICK_SECONDS), "--max-seconds", "90"),
                ]
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        replicas = Replicas(processes, logs)
        _wait_until_ready(replicas, ready)
        yield replicas
    finally:
        Replicas(processes, logs).stop()


def _wait_until_ready(replicas: Replicas, ready: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not all(path.exists() for path in ready):
        exited = [p for p in replicas.processes if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            pytest.fail(f"replicas did not start within {START_TIMEOUT:.0f} s\n{replicas.tails()}")
        time.sleep(0.1)


# --- observing --------------------------------------------------------------------------------------------


def checkin_posts(emulator: SlackEmulator) -> list[Post]:
    """Every check-in Slack accepted, in the order it received them."""
    posts = []
    for call in emulator.calls("chat.postMessage"):
        found = CHECKIN.fullmatch(str(call.args.get("text", "")))
        if found and call.response.get("ok"):
            posts.append(Post(int(found[2]), int(found[1]), float(call.response["ts"])))
    return posts


def failed_posts(emulator: SlackEmulator) -> list[str]:
    return [str(c.response.get("error")) for c in emulator.calls("chat.postMessage") if not c.response.get("ok")]


def expected_checkins(incident_ids: list[int]) -> set[tuple[int, int]]:
    return {(incident_id, number) for incident_id in incident_ids for number in range(1, ROUNDS + 1)}


def seen(posts: list[Post]) -> set[tuple[int, int]]:
    return {(p.incident_id, p.number) for p in posts}


def _count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


def nothing_pending(engine: Engine) -> bool:
    """No check-in of the run is waiting: neither its timer nor its Slack message."""
    timers = _count(
        engine,
        "SELECT count(*) FROM timers WHERE kind = :kind AND done_at IS NULL AND sequence <= :rounds",
        kind=RETRY_CHECKIN,
        rounds=ROUNDS,
    )
    outbox = _count(engine, "SELECT count(*) FROM outbox WHERE purpose = 'checkin' AND state = 'pending'")
    return timers == 0 and outbox == 0


def drive_until(
    engine: Engine, emulator: SlackEmulator, done: Callable[[list[Post]], bool], timeout: float = RUN_TIMEOUT
) -> list[Post]:
    """Keep bringing check-ins forward and polling Slack until `done(posts)`, or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        bring_next_checkins_forward(engine)
        posts = checkin_posts(emulator)
        if done(posts) or time.monotonic() > deadline:
            return posts
        time.sleep(POLL_SECONDS)


def settle(engine: Engine, emulator: SlackEmulator, expected: set[tuple[int, int]]) -> list[Post]:
    """Wait until every expected check-in was posted, nothing is pending, and the count held still a second."""
    last: list[int] = [-1]
    since: list[float] = [time.monotonic()]

    def settled(posts: list[Post]) -> bool:
        if len(posts) != last[0] or not expected <= seen(posts) or not nothing_pending(engine):
            last[0], since[0] = len(posts), time.monotonic()
            return False
        return time.monotonic() - since[0] >= SETTLE_SECONDS

    return drive_until(engine, emulator, settled)


def drain_due_timers(engine: Engine) -> list[tuple[int, str, int, str | None]]:
    """Let the replicas finish every timer that is due by now; what is still due and undone when time is up."""
    with engine.connect() as connection:
        cutoff = connection.execute(text("SELECT now()")).scalar_one()
    sql = text(
        "SELECT id, kind, sequence, claimed_by FROM timers WHERE done_at IS NULL AND due_at <= :cutoff ORDER BY id"
    )
    deadline = time.monotonic() + RUN_TIMEOUT / 2
    while True:
        with engine.connect() as connection:
            rows = connection.execute(sql, {"cutoff": cutoff})
            undone = [(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]
        if not undone or time.monotonic() > deadline:
            return undone
        time.sleep(POLL_SECONDS)


def claimed_not_done(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, kind, claimed_by FROM timers WHERE claimed_by IS NOT NULL AND done_at IS NULL")
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def work_by_replica(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT claimed_by, count(*) FROM timers WHERE kind = :kind AND done_at IS NOT NULL GROUP BY 1"),
            {"kind": RETRY_CHECKIN},
        )
        return {str(r[0]): int(r[1]) for r in rows}


def numbering_problems(posts: list[Post], incident_ids: list[int]) -> dict[int, list[int]]:
    """Incidents whose posted check-in numbers are not 1, 2, … n (n >= ROUNDS) without gaps."""
    numbers: dict[int, set[int]] = {incident_id: set() for incident_id in incident_ids}
    for post in posts:
        numbers.setdefault(post.incident_id, set()).add(post.number)
    return {
        incident_id: sorted(got)
        for incident_id, got in numbers.items()
        if sorted(got) != list(range(1, len(got) + 1)) or len(got) < ROUNDS
    }


def duplicates(posts: list[Post]) -> dict[tuple[int, int], list[float]]:
    counts = Counter((p.incident_id, p.number) for p in posts)
    return {
        key: [p.received_at for p in posts if (p.incident_id, p.number) == key] for key, n in counts.items() if n > 1
    }


# --- the scenarios ------------------------------------------------------------------------------------------


def test_three_replicas_post_every_due_checkin_exactly_once(
    db: Engine, replica_database: str, slack: tuple[SlackEmulator, RunningServer], tmp_path: Path
) -> None:
    emulator, server = slack
    incident_ids = seed_cycles(db, emulator, INCIDENTS)
    expected = expected_checkins(incident_ids)
    started = time.monotonic()
    with running_replicas(REPLICAS, replica_database, server, emulator.bot_token, tmp_path) as replicas:
        make_first_checkins_due(db)
        posts = settle(db, emulator, expected)
        undone = drain_due_timers(db)
        codes = replicas.stop()
        by_replica = work_by_replica(db)
        tails = replicas.tails()
    print(f"\n{len(posts)} check-ins posted in {time.monotonic() - started:.1f} s; timers per replica: {by_replica}")

    assert codes == [0] * REPLICAS, tails
    assert failed_posts(emulator) == []
    assert expected - seen(posts) == set(), f"never posted: {sorted(expected - seen(posts))[:20]}\n{tails}"
    assert duplicates(posts) == {}
    assert numbering_problems(posts, incident_ids) == {}
    assert undone == [], f"due timers left undone: {undone[:20]}\n{tails}"
    assert claimed_not_done(db) == []
    assert nothing_pending(db), "check-ins still waiting in the timers or the outbox"
    assert len(by_replica) >= 2, f"the replicas did not share the work: {by_replica}"


def test_a_replica_killed_midway_loses_nothing_and_doubles_nothing(
    db: Engine, replica_database: str, slack: tuple[SlackEmulator, RunningServer], tmp_path: Path
) -> None:
    emulator, server = slack
    incident_ids = seed_cycles(db, emulator, INCIDENTS)
    expected = expected_checkins(incident_ids)
    with running_replicas(REPLICAS, replica_database, server, emulator.bot_token, tmp_path) as replicas:
        make_first_checkins_due(db)
        before = drive_until(db, emulator, lambda posts: len(seen(posts) & expected) >= len(expected) // 3)
        victim = replicas.processes[0]
        victim.kill()  # SIGKILL: no cleanup, its connection and transaction simply vanish
        victim.wait(timeout=10)
        posts = settle(db, emulator, expected)
        undone = drain_due_timers(db)
        codes = replicas.stop()
        by_replica = work_by_replica(db)
        tails = replicas.tails()
    doubled = duplicates(posts)
    print(
        f"\nkilled replica pid {victim.pid} after {len(seen(before) & expected)}/{len(expected)} check-ins; "
        f"{len(posts)} posted; timers per replica: {by_replica} (killed: {replicas.workers[0]}); "
        f"duplicates: {doubled or 'none'}"
    )

    assert len(seen(before) & expected) < len(expected), "the kill came after all the work: not midway"
    assert codes == [-signal.SIGKILL] + [0] * (REPLICAS - 1), tails
    assert failed_posts(emulator) == []
    assert expected - seen(posts) == set(), f"lost check-ins: {sorted(expected - seen(posts))[:20]}\n{tails}"
    assert numbering_problems(posts, incident_ids) == {}
    assert doubled == {}, f"posted twice: {doubled}"
    assert undone == [], f"due timers left undone: {undone[:20]}\n{tails}"
    assert claimed_not_done(db) == []
    assert nothing_pending(db), "check-ins still waiting in the timers or the outbox"
