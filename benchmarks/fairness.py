"""Fairness under Slack's rate limits: one noisy workspace's backlog while 199 quiet workspaces open incidents.

    .venv/bin/python benchmarks/fairness.py [--workspaces 200] [--noisy-messages 2000] [--spread-messages 200]
        [--spread-channels 20] [--replicas 2] [--rate 5] [--think 1.0] [--seconds 120]
        [--database-url postgresql://...]

Creates a scratch PostgreSQL database and migrates it, serves a Slack federation (`bot/sandbox/federation.py`:
`--workspaces` emulated workspaces behind one Web API URL, routed by bot token) from a process of its own with
Slack's rate limits ON in every workspace (per method tier per workspace, about one post a second per channel), and
starts `--replicas` `triage-bot run` processes (gunicorn, the bot's default settings and pacing) in OAuth mode on
that database. Every workspace installs the app through Slack OAuth (`/slack/install`, *Allow*,
`/slack/oauth_redirect`), so the replicas serve them with their own tokens.

The noisy workspace opens one incident per channel (`--spread-channels` + 1 channels) through `/triage` and the
modal; once their messages are out, the measured run starts. It queues, in one transaction, `--noisy-messages`
routine check-ins in the first channel's incident thread (a check-in storm) and `--spread-messages` routine
update reminders across the other channels' incidents (outbox rows, as the scheduler's timers queue them). At the
same moment the quiet workspaces start opening one incident each through `/triage` and the new-incident modal
(signed HTTP, round-robin over the replicas), `--rate` workspaces a second, each submitting `--think` s after its
modal opened.

Prints, with an OK/MISSED line per target:
- quiet workspaces: the root message's and the on-call page's latency after the submission (when the emulator took
  the post minus when the submission was sent), p50/p99/max; target p99 under 2 s;
- noisy workspace: how fast each channel drained (posts a second after the burst; Slack's pace is one a second per
  channel) and whether each channel's posts came in the order they were queued; 429s as a share of all Web API
  calls (target under 1%, also over every workspace); nothing lost or doubled (each sent outbox row's post accepted
  once by the emulator, found by the outbox key the bot puts in every post's metadata; no failed row);
- every replica's RSS (gunicorn master + worker, from /proc, every second; the maximum); target under 250 MB.

At Slack's one post a second the storm channel takes about `--noisy-messages` seconds to drain (33 min for 2,000):
the run stops after `--seconds` (or once everything has drained), measures what drained by then and how, and says
how much was still queued. The database is dropped at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import Footprint, Sampler  # noqa: E402
from benchmarks.scratch import migrated_scratch_database, percentile, plain, run_benchmark, say  # noqa: E402
from benchmarks.workload import (  # noqa: E402
    Payloads,
    Replica,
    Workspace,
    free_port,
    incident_form,
    replicas,
)
from blocks.ids import CallbackId  # noqa: E402
from bot.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from bot.integrations.outbox import enqueue_slack_call, request_root_refresh  # noqa: E402
from bot.models import Incident  # noqa: E402
from bot.sandbox.emulator import SlackEmulator  # noqa: E402
from bot.sandbox.federation import SlackFederation  # noqa: E402
from bot.sandbox.platform import USER_AGENT, sign_request  # noqa: E402

JsonDict = dict[str, Any]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "fairness-secret"
CLIENT_ID, CLIENT_SECRET = "4242.1717", "fairness-client-secret"
AGENT, ONCALL, SUPPORT = "U0AGENT", "U0ONCALL", "C0SUPPORT"
NOISY = "T0NOISY"
STORM_KEY, SPREAD_KEY = "fairness:storm:", "fairness:spread:"
TARGET_P99_S = 2.0
TARGET_429_SHARE = 0.01
TARGET_RSS_MB = 250.0
SLACK_PACE = 1.0  # posts a second per channel (chat.postMessage's limit)
BOT_BURST = 10  # SLACK_POST_BURST's default: posts a channel gets at once before the pace applies
HTTP_TIMEOUT_S = 10.0
FORM_TIMEOUT_S = 5.0
FORK = get_context("fork")
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def quiet_team(n: int) -> str:
    return f"T0Q{n:04d}"


def noisy_channel(n: int) -> str:
    return f"C0NOISY{n:02d}"


def noisy_agent(n: int) -> str:
    return f"U0AGENT{n:02d}"


# --- the federation in its own process ------------------------------------------------------------------------


def build_federation(quiet: int, noisy_channels: int) -> SlackFederation:
    """The noisy workspace (one agent and one incident channel each) and `quiet` workspaces with one channel."""
    federation = SlackFederation(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    for team in (NOISY, *(quiet_team(n) for n in range(1, quiet + 1))):
        emulator = SlackEmulator(
            bot_token=f"xoxb-{team.lower()}", team_id=team, team_domain=team.lower(), team_name=team.title()
        )  # rate limits on: Slack's tiers per workspace, one post a second per channel
        emulator.add_user(ONCALL, "oncall", real_name="Olu Oncall")
        if team == NOISY:
            for n in range(noisy_channels):
                emulator.add_user(noisy_agent(n), f"agent{n}")
                members = [noisy_agent(n), ONCALL, emulator.bot_user_id]
                emulator.add_channel(f"noisy-{n}", id=noisy_channel(n), members=members)
        else:
            emulator.add_user(AGENT, "agent", real_name="Sam Support")
            emulator.add_channel("support", id=SUPPORT, members=[AGENT, ONCALL, emulator.bot_user_id])
        federation.add_workspace(emulator)
    return federation


@dataclass(frozen=True)
class Traffic:
    """One Web API call a workspace's emulator answered, as the report needs it."""

    method: str
    channel: str
    ok: bool
    error: str
    ts: str
    outbox_key: str


class SlackSide:
    """What the driver asks of the federation, in the federation's process (through a multiprocessing proxy)."""

    def __init__(self, federation: SlackFederation) -> None:
        self.federation = federation
        self._marks: dict[str, int] = {}

    def new_trigger_id(self, team: str, user_id: str | None = None) -> str:
        return self.federation.workspace(team).new_trigger_id(user_id)

    def new_response_url(self, team: str, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        return self.federation.workspace(team).new_response_url(channel_id, user_id, message_ts=message_ts)

    def current_modal(self, team: str, user_id: str) -> JsonDict | None:
        return self.federation.workspace(team).current_modal(user_id)

    def close_view(self, team: str, view_id: str) -> None:
        self.federation.workspace(team).close_view(view_id)

    def message(self, team: str, channel_id: str, ts: str) -> JsonDict | None:
        return self.federation.workspace(team).message(channel_id, ts)

    def messages(self, team: str, channel_id: str) -> list[JsonDict]:
        return self.federation.workspace(team).messages(channel_id)

    def replies(self, team: str, channel_id: str, thread_ts: str) -> list[JsonDict]:
        return self.federation.workspace(team).replies(channel_id, thread_ts)

    def approve(self, authorize_url: str, team: str, user_id: str) -> str:
        return self.federation.approve(authorize_url, team_id=team, user_id=user_id)

    def set_redirect_url(self, url: str) -> None:
        self.federation.redirect_url = url

    def mark(self, teams: Sequence[str]) -> None:
        """From now on: the calls `traffic` reports."""
        self._marks = {team: len(self.federation.workspace(team).calls()) for team in teams}

    def traffic(self) -> dict[str, list[tuple[str, str, bool, str, str, str]]]:
        """Every workspace's calls since `mark`, as `Traffic` fields (plain tuples cross the process boundary)."""
        found = {}
        for team, mark in self._marks.items():
            found[team] = [_traffic(call) for call in self.federation.workspace(team).calls()[mark:]]
        return found


def _traffic(call: Any) -> tuple[str, str, bool, str, str, str]:
    metadata = call.args.get("metadata") if isinstance(call.args.get("metadata"), dict) else {}
    payload = metadata.get("event_payload") or {}
    return (
        call.method,
        str(call.args.get("channel") or ""),
        bool(call.response.get("ok")),
        str(call.response.get("error") or ""),
        str(call.response.get("ts") or ""),
        str(payload.get("outbox_key") or ""),
    )


_FEDERATION: SlackFederation | None = None  # set before the fork; the manager process serves it
_SIDE: SlackSide | None = None
_SERVER: Any = None


def _side() -> SlackSide:
    global _SIDE
    assert _FEDERATION is not None
    if _SIDE is None:
        _SIDE = SlackSide(_FEDERATION)
    return _SIDE


def _serve(port: int) -> None:
    global _SERVER
    assert _FEDERATION is not None
    _SERVER = _FEDERATION.serve(port=port)


class FederationManager(BaseManager):
    pass


FederationManager.register("slack", callable=_side)


@contextmanager
def federation_process(federation: SlackFederation, port: int) -> Iterator[tuple[Any, int]]:
    """The federation on `port`, served by its own process; a proxy to its `SlackSide`, and that process's pid."""
    global _FEDERATION
    _FEDERATION = federation
    manager = FederationManager(address=("127.0.0.1", 0), authkey=secrets.token_bytes(16), ctx=FORK)
    manager.start(initializer=_serve, initargs=(port,))
    try:
        proxy: Any = manager.slack()  # type: ignore[attr-defined]
        process = getattr(manager, "_process", None)
        yield proxy, int(process.pid) if process is not None else 0
    finally:
        manager.shutdown()


class TeamHandle:
    """One workspace of the federation, as `benchmarks.workload.Payloads` reaches an emulator."""

    def __init__(self, slack: Any, team: str) -> None:
        self.slack, self.team = slack, team

    def new_trigger_id(self, user_id: str | None = None) -> str:
        return str(self.slack.new_trigger_id(self.team, user_id))

    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str:
        return str(self.slack.new_response_url(self.team, channel_id, user_id, message_ts))

    def current_modal(self, user_id: str) -> JsonDict | None:
        modal: JsonDict | None = self.slack.current_modal(self.team, user_id)
        return modal

    def close_view(self, view_id: str) -> None:
        self.slack.close_view(self.team, view_id)

    def message(self, channel_id: str, ts: str) -> JsonDict | None:
        found: JsonDict | None = self.slack.message(self.team, channel_id, ts)
        return found

    def messages(self, channel_id: str) -> list[JsonDict]:
        return list(self.slack.messages(self.team, channel_id))

    def replies(self, channel_id: str, thread_ts: str) -> list[JsonDict]:
        return list(self.slack.replies(self.team, channel_id, thread_ts))


# --- the replicas, in OAuth mode ------------------------------------------------------------------------------


def oauth_env(database_url: str, slack_url: str) -> dict[str, str]:
    """A replica's environment: OAuth installs on the federation, the bot's default pacing (no SLACK_POST* set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "ONCALL_"))}
    env.update(SLACK_SIGNING_SECRET=SECRET, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    env.update(SLACK_API_URL=f"{slack_url}/api/", SLACK_AUTHORIZE_URL=f"{slack_url}/oauth/v2/authorize")
    env.update(DATABASE_URL=database_url, ONCALL_SLACK_ID=ONCALL)
    return env


def base_of(replica: Replica) -> str:
    return f"http://127.0.0.1:{replica.port}"


def http_get(url: str, cookie: str | None = None) -> tuple[int, str | None, str]:
    """GET `url`: (status, the cookie it sets, the page)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with OPENER.open(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.headers.get("Set-Cookie"), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, None, error.read().decode()


def install(slack: Any, base: str, team: str, user: str) -> str | None:
    """What a workspace admin does: /slack/install, Allow, back to the redirect URL; None when installed."""
    status, cookie, page = http_get(f"{base}/slack/install")
    link = re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', page)
    if status != 200 or link is None or cookie is None:
        return f"install page: HTTP {status}, {'a' if link else 'no'} link, {'a' if cookie else 'no'} cookie"
    redirect = str(slack.approve(html.unescape(link[1]), team, user))
    status, _, done = http_get(redirect, cookie=cookie.split(";", 1)[0])
    return None if status == 200 else f"redirect: HTTP {status}: {done[:200]}"


def install_everywhere(slack: Any, started: list[Replica], teams: Sequence[str]) -> None:
    """Install the app in every workspace through OAuth, spread over the replicas; stop if any install fails."""
    began = time.perf_counter()
    jobs = [
        (base_of(started[n % len(started)]), team, noisy_agent(0) if team == NOISY else AGENT)
        for n, team in enumerate(teams)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = list(pool.map(lambda job: install(slack, *job), jobs))
    failures = [(team, error) for (_, team, _), error in zip(jobs, errors, strict=True) if error]
    if failures:
        raise SystemExit(f"{len(failures)} installs failed, e.g. {failures[0]}")
    say(f"installed the app in {len(teams)} workspaces through OAuth in {time.perf_counter() - began:.1f} s")


# --- opening an incident through /triage and the modal ----------------------------------------------------------


@dataclass
class Opening:
    """One workspace opening one incident: the acknowledgements, and when the submission was sent (epoch s)."""

    team: str
    channel: str
    command_s: float | None = None
    submit_s: float | None = None
    submitted_at: float | None = None
    view_id: str | None = None
    error: str | None = None


def post_signed(url: str, body: str) -> tuple[int | None, str, float]:
    """POST a body signed as Slack signs it: (status, text, seconds); status None when no answer came."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign_request(SECRET, timestamp, body),
    }
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with OPENER.open(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read().decode(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        with error:
            return error.code, "", time.perf_counter() - started
    except OSError as error:
        return None, type(error).__name__, time.perf_counter() - started


def open_incident(
    slack: Any, team: str, channel: str, user: str, urls: tuple[str, str], serial: int, think: float, severity: str
) -> Opening:
    """`/triage` to the first URL, the new-incident form submitted `think` s after it opened to the second."""
    opening = Opening(team, channel)
    handle = TeamHandle(slack, team)
    payloads = Payloads(handle, Workspace(team, team.lower(), "A0SANDBOX", (user,), channel=channel))
    status, _, opening.command_s = post_signed(urls[0], payloads.slash_command(user))
    if status != 200:
        opening.error = f"/triage: HTTP {status}"
        return opening
    deadline = time.monotonic() + FORM_TIMEOUT_S
    while (view := handle.current_modal(user)) is None or view.get("callback_id") != CallbackId.NEW_INCIDENT.value:
        if time.monotonic() > deadline:
            opening.error = f"the form did not open within {FORM_TIMEOUT_S:g} s"
            return opening
        time.sleep(0.05)
    time.sleep(think)
    body = payloads.submission(user, view, {**incident_form(serial, time.time()), "severity": severity})
    opening.submitted_at = time.time()
    status, text, opening.submit_s = post_signed(urls[1], body)
    opening.view_id = str(view["id"])
    if status != 200:
        opening.error = f"submission: HTTP {status}"
    elif text.strip() and '"errors"' in text:
        opening.error = f"submission refused: {text[:200]}"
    else:
        handle.close_view(opening.view_id)  # Slack closes the modal on an empty acknowledgement
    return opening


def open_noisy_incidents(slack: Any, urls: Sequence[str], channels: int) -> list[Opening]:
    """The noisy workspace's incidents, one per channel, SEV4 (no re-page within the run)."""

    def one(n: int) -> Opening:
        pair = (urls[n % len(urls)], urls[(n + 1) % len(urls)])
        return open_incident(slack, NOISY, noisy_channel(n), noisy_agent(n), pair, 10_000 + n, 0.2, "SEV4")

    with ThreadPoolExecutor(max_workers=4) as pool:
        openings = list(pool.map(one, range(channels)))
    failed = [o for o in openings if o.error]
    if failed:
        raise SystemExit(f"the noisy workspace could not open its incidents: {failed[0].error}")
    return openings


class QuietWorkspaces:
    """Each quiet workspace opens one incident, `rate` workspaces a second (open loop), round-robin over `urls`."""

    def __init__(self, slack: Any, urls: Sequence[str], teams: Sequence[str], rate: float, think: float) -> None:
        self.slack, self.urls, self.teams, self.rate, self.think = slack, urls, teams, rate, think
        self.openings: list[Opening] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="quiet-workspaces", daemon=True)
        self.done = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=64, thread_name_prefix="quiet") as pool:
            started = time.perf_counter()
            for n, team in enumerate(self.teams):
                delay = started + n / self.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._one, n, team)
        self.done.set()

    def _one(self, n: int, team: str) -> None:
        pair = (self.urls[(2 * n) % len(self.urls)], self.urls[(2 * n + 1) % len(self.urls)])
        try:
            opening = open_incident(self.slack, team, SUPPORT, AGENT, pair, n, self.think, "SEV2")
        except Exception as exc:  # a driver bug must show in the report
            opening = Opening(team, SUPPORT, error=f"driver: {type(exc).__name__}: {exc}")
        with self._lock:
            self.openings.append(opening)

    def submitted(self) -> int:
        with self._lock:
            return sum(1 for o in self.openings if o.submitted_at is not None)


# --- the noisy workspace's backlog --------------------------------------------------------------------------


def wait_until_settled(url: str, timeout: float, quiet_for: float = 3.0) -> int:
    """Wait until the outbox has had nothing pending for `quiet_for` s (or `timeout`); what is still pending."""
    deadline, calm_since = time.monotonic() + timeout, None
    with psycopg.connect(plain(url), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
            pending = int(row[0]) if row else 0
            now = time.monotonic()
            calm_since = (calm_since or now) if pending == 0 else None
            if (calm_since is not None and now - calm_since >= quiet_for) or now > deadline:
                return pending
            time.sleep(0.25)


def queue_noisy_backlog(url: str, storm: int, spread: int) -> None:
    """In one transaction: `storm` check-ins in the first channel's incident thread, `spread` update reminders over
    the other channels' incidents, and a root refresh of each (as timers queue them)."""
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            found = session.scalars(select(Incident).where(Incident.team_id == NOISY).order_by(Incident.id)).unique()
            incidents = {incident.channel_id: incident for incident in found}
            stormy, others = incidents[noisy_channel(0)], [c for c in sorted(incidents) if c != noisy_channel(0)]
            now = datetime.now(UTC)
            for n in range(storm):
                text = f"Check-in {n + 1}/{storm}: retry the exhibit upload for {stormy.key} and say how it went."
                _queue(session, f"{STORM_KEY}{n:05d}", text, "checkin", stormy.id, now)
            for n in range(spread):
                incident = incidents[others[n % len(others)]]
                text = f"Reminder {n + 1}: the client update for {incident.key} is due."
                _queue(session, f"{SPREAD_KEY}{n:05d}", text, "update_due", incident.id, now)
            for incident in incidents.values():
                request_root_refresh(session=session, incident_id=incident.id, key=f"fairness:root:{incident.id}",
                                     now=now)  # fmt: skip
    finally:
        engine.dispose()


def _queue(session: Session, key: str, text: str, purpose: str, incident_id: int, now: datetime) -> None:
    enqueue_slack_call(
        session=session,
        key=key,
        operation="chat.postMessage",
        args={"text": text},
        purpose=purpose,
        now=now,
        incident_id=incident_id,
        in_thread=True,
        fresh_key=True,
    )


# --- watching the run ----------------------------------------------------------------------------------------


def noisy_progress(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    """(storm rows sent, spread rows sent, noisy rows pending)."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE idempotency_key LIKE %s AND state = 'sent'), "
        "count(*) FILTER (WHERE idempotency_key LIKE %s AND state = 'sent'), "
        "count(*) FILTER (WHERE idempotency_key LIKE 'fairness:%%' AND state = 'pending') FROM outbox",
        (STORM_KEY + "%", SPREAD_KEY + "%"),
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def quiet_progress(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    """(quiet incidents stored, their root messages posted, their on-call pages posted)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM incidents WHERE team_id <> %s), "
        "(SELECT count(*) FROM incidents WHERE team_id <> %s AND root_ts IS NOT NULL), "
        "(SELECT count(*) FROM outbox o JOIN incidents i ON i.id = o.incident_id "
        " WHERE i.team_id <> %s AND o.purpose = 'oncall_page' AND o.state = 'sent')",
        (NOISY, NOISY, NOISY),
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


def watch(url: str, quiet: QuietWorkspaces, backlog: int, seconds: float, began: float) -> float:
    """Report every 10 s until `seconds` after `began`, or earlier once the quiet workspaces' incidents are all
    announced and the noisy backlog has drained; the seconds it ran."""
    next_report = 10.0
    with psycopg.connect(plain(url), autocommit=True) as conn:
        while True:
            time.sleep(0.5)
            elapsed = time.monotonic() - began
            storm, spread, pending = noisy_progress(conn)
            stored, roots, pages = quiet_progress(conn)
            announced = quiet.done.is_set() and len(quiet.openings) == len(quiet.teams)
            announced = announced and pages >= quiet.submitted() - sum(1 for o in quiet.openings if o.error)
            if elapsed >= next_report:
                say(
                    f"  {elapsed:4.0f} s: quiet {quiet.submitted():>4} submitted, {stored:>4} stored, "
                    f"{roots:>4} roots, {pages:>4} pages posted | noisy {storm + spread:>5,}/{backlog:,} posted "
                    f"({storm:,} storm), {pending:,} queued"
                )
                next_report += 10.0
            if (announced and pending == 0) or elapsed >= seconds:
                return elapsed


# --- the report ---------------------------------------------------------------------------------------------


@dataclass
class OutboxRow:
    id: int
    key: str
    purpose: str
    state: str
    operation: str
    team: str | None
    ts: str | None
    incident_key: str | None
    opened_at: float | None  # when the incident was stored (epoch s)
    last_error: str | None


def outbox_rows(url: str, since_id: int) -> list[OutboxRow]:
    with psycopg.connect(plain(url)) as conn:
        rows = conn.execute(
            "SELECT o.id, o.idempotency_key, o.purpose, o.state, o.operation, coalesce(i.team_id, "
            "o.payload->>'workspace'), o.result->>'ts', i.idempotency_key, extract(epoch FROM i.opened_at)::float, "
            "o.last_error FROM outbox o LEFT JOIN incidents i ON i.id = o.incident_id "
            "WHERE o.id > %s AND o.target = 'slack' ORDER BY o.id",
            (since_id,),
        ).fetchall()
    return [OutboxRow(*row) for row in rows]


def quiet_latencies(openings: Sequence[Opening], rows: Sequence[OutboxRow]) -> dict[str, list[float | None]]:
    """Seconds from each accepted submission to its root message and to its on-call page (None: never posted), and
    from storing the incident to its root message (the delivery alone). An incident's idempotency key names the
    workspace and the view it was submitted from (`view:<team>:<view id>`; view ids repeat across workspaces)."""
    posted: dict[tuple[str, str], float] = {}
    stored: dict[str, float] = {}
    for row in rows:
        if row.purpose in ("root_message", "oncall_page") and row.state == "sent" and row.ts and row.incident_key:
            posted[(row.purpose, row.incident_key)] = float(row.ts)
            if row.opened_at is not None:
                stored[row.incident_key] = row.opened_at
    found: dict[str, list[float | None]] = {"root_message": [], "oncall_page": [], "stored_to_root": []}
    for opening in openings:
        if opening.error or opening.submitted_at is None or opening.view_id is None:
            continue
        key = f"view:{opening.team}:{opening.view_id}"
        for purpose in ("root_message", "oncall_page"):
            at = posted.get((purpose, key))
            found[purpose].append(None if at is None else at - opening.submitted_at)
        root, opened = posted.get(("root_message", key)), stored.get(key)
        found["stored_to_root"].append(None if root is None or opened is None else root - opened)
    return found


def latency_line(name: str, values: Sequence[float | None]) -> tuple[str, float]:
    done = [v for v in values if v is not None]
    missing = len(values) - len(done)
    p99 = percentile(done, 99) if not missing else float("inf")
    line = (
        f"{name}: p50 {percentile(done, 50):.2f} s   p99 {percentile(done, 99):.2f} s   "
        f"max {max(done, default=float('nan')):.2f} s   ({len(done)}/{len(values)} posted)"
    )
    return line, p99


@dataclass
class ChannelDrain:
    """How one of the noisy workspace's channels drained during the run."""

    channel: str
    queued: int
    posted: list[tuple[float, int]] = field(default_factory=list)  # (emulator ts, queue position), in ts order

    @property
    def in_order(self) -> bool:
        positions = [position for _, position in self.posted]
        return positions == sorted(positions)

    @property
    def span(self) -> float:
        return self.posted[-1][0] - self.posted[0][0] if len(self.posted) > 1 else 0.0

    def pace(self, burst: int = BOT_BURST) -> float | None:
        """Posts a second after the first `burst` (None when it all went within the burst)."""
        if len(self.posted) <= burst + 1:
            return None
        after = self.posted[burst - 1 :]
        return (len(after) - 1) / (after[-1][0] - after[0][0]) if after[-1][0] > after[0][0] else float("inf")

    def burst_span(self, burst: int = BOT_BURST) -> float:
        head = self.posted[:burst]
        return head[-1][0] - head[0][0] if head else 0.0


def channel_drains(traffic: Sequence[Traffic], storm: int, spread: int, spread_channels: int) -> list[ChannelDrain]:
    """Each noisy channel's posts of the queued backlog, by the outbox key each post carries in its metadata."""
    drains = {noisy_channel(0): ChannelDrain(noisy_channel(0), storm)}
    for n in range(spread_channels):
        queued = spread // spread_channels + (1 if n < spread % spread_channels else 0)
        drains[noisy_channel(n + 1)] = ChannelDrain(noisy_channel(n + 1), queued)
    for call in traffic:
        if call.method == "chat.postMessage" and call.ok and call.outbox_key.startswith((STORM_KEY, SPREAD_KEY)):
            drains[call.channel].posted.append((float(call.ts), int(call.outbox_key.rsplit(":", 1)[1])))
    for drain in drains.values():
        drain.posted.sort()
    return list(drains.values())


@dataclass
class Ledger:
    """Outbox rows of the measured run against the posts the emulator accepted (by outbox key)."""

    sent: int = 0
    posts: int = 0
    lost: list[str] = field(default_factory=list)  # sent without an accepted post, or failed for good
    doubled: list[str] = field(default_factory=list)  # more than one accepted post for one key
    unrecorded: list[str] = field(default_factory=list)  # a post accepted for a row still pending
    pending: Counter[str] = field(default_factory=Counter)  # still queued at the end, by workspace class

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled)


def ledger(rows: Sequence[OutboxRow], traffic: dict[str, list[Traffic]]) -> Ledger:
    accepted = Counter(
        call.outbox_key
        for calls in traffic.values()
        for call in calls
        if call.method == "chat.postMessage" and call.ok and call.outbox_key
    )
    book = Ledger(posts=sum(accepted.values()))
    by_key = {row.key: row for row in rows if row.operation == "chat.postMessage"}
    for row in by_key.values():
        if row.state == "sent":
            book.sent += 1
            if accepted[row.key] == 0:
                book.lost.append(row.key)
        elif row.state == "failed":
            book.lost.append(f"{row.key} (failed: {row.last_error})")
        elif row.state == "pending":
            book.pending["noisy" if row.team == NOISY else "quiet"] += 1
            if accepted[row.key]:
                book.unrecorded.append(row.key)
    book.doubled = sorted(key for key, count in accepted.items() if count > 1)
    book.lost += sorted(key for key in accepted if key not in by_key)  # a post no row of this run explains
    return book


def rate_limited(traffic: dict[str, list[Traffic]], teams: Sequence[str] | None = None) -> tuple[int, int]:
    """(429s, all calls) over `teams` (every workspace when None)."""
    calls = [c for team, found in traffic.items() if teams is None or team in teams for c in found]
    return sum(1 for c in calls if c.error == "ratelimited"), len(calls)


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# --- the run ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=200, help="installed workspaces: one noisy, the rest quiet")
    parser.add_argument("--noisy-messages", type=int, default=2000, help="check-ins queued in the storm channel")
    parser.add_argument("--spread-messages", type=int, default=200, help="messages queued over the other channels")
    parser.add_argument("--spread-channels", type=int, default=20, help="the noisy workspace's other channels")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--rate", type=float, default=5.0, help="quiet workspaces opening an incident per second")
    parser.add_argument("--think", type=float, default=1.0, help="seconds from the modal opening to its submission")
    parser.add_argument(
        "--seconds", type=float, default=120.0, help="the measured run's length at most (it ends once all drained)"
    )
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER))
    args = parser.parse_args(argv)
    if args.workspaces < 2 or args.spread_channels < 1 or args.rate <= 0:
        parser.error("at least 2 workspaces and 1 spread channel, and a positive rate")
    return args


@dataclass
class Run:
    """What the measured run left to report."""

    openings: list[Opening]
    footprints: list[Footprint]
    seconds: float
    federation_cpu_s: float
    since_id: int  # the outbox rows of the run come after this one
    rows: list[OutboxRow] = field(default_factory=list)
    traffic: dict[str, list[Traffic]] = field(default_factory=dict)
    replica_tracebacks: int = 0


def bench(args: argparse.Namespace, url: str, workdir: Path) -> Run:
    """The whole run on a migrated database at `url`: Slack, the replicas, the installs, the noisy workspace's
    incidents, then the measured run; what it left, read once the replicas have stopped."""
    quiet_teams = [quiet_team(n) for n in range(1, args.workspaces)]
    teams = [NOISY, *quiet_teams]
    federation = build_federation(len(quiet_teams), args.spread_channels + 1)
    port = free_port()
    slack_url = f"http://127.0.0.1:{port}"
    with federation_process(federation, port) as (slack, federation_pid):
        with replicas(args.replicas, oauth_env(url, slack_url), workdir) as started:
            slack.set_redirect_url(f"{base_of(started[0])}/slack/oauth_redirect")
            say(f"{len(started)} replicas up on :{', :'.join(str(r.port) for r in started)}; Slack on :{port}")
            install_everywhere(slack, started, teams)
            urls = [r.url for r in started]
            open_noisy_incidents(slack, urls, args.spread_channels + 1)
            left = wait_until_settled(url, timeout=60)
            say(f"the noisy workspace's {args.spread_channels + 1} incidents are announced ({left} calls still queued)")
            run = measure(args, url, slack, started, quiet_teams, teams, federation_pid)
        # The replicas are stopped: what the outbox says and what Slack took no longer move.
        run.replica_tracebacks = sum(r.log.read_text(errors="replace").count("Traceback") for r in started)
        run.rows = outbox_rows(url, run.since_id)
        run.traffic = {team: [Traffic(*call) for call in calls] for team, calls in slack.traffic().items()}
    return run


def measure(
    args: argparse.Namespace,
    url: str,
    slack: Any,
    started: list[Replica],
    quiet_teams: list[str],
    teams: list[str],
    federation_pid: int,
) -> Run:
    """Queue the noisy backlog, let the quiet workspaces open their incidents, and watch until done or out of time."""
    footprints, federation_footprint = [Footprint(r.process.pid) for r in started], Footprint(federation_pid)
    sampler = Sampler([*footprints, federation_footprint])
    sampler.start()
    with psycopg.connect(plain(url)) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        since_id = int(row[0]) if row else 0
    slack.mark(teams)
    federation_footprint.sample()
    federation_cpu = federation_footprint.cpu_s
    backlog = args.noisy_messages + args.spread_messages
    began = time.monotonic()
    queue_noisy_backlog(url, args.noisy_messages, args.spread_messages)
    quiet = QuietWorkspaces(slack, [r.url for r in started], quiet_teams, args.rate, args.think)
    quiet.start()
    say(
        f"queued {backlog:,} noisy messages ({args.noisy_messages:,} in one channel, {args.spread_messages:,} over "
        f"{args.spread_channels}) in {time.monotonic() - began:.1f} s; {len(quiet_teams)} quiet workspaces open an "
        f"incident each, {args.rate:g} a second ..."
    )
    seconds = max(args.seconds, len(quiet_teams) / args.rate + args.think + 15)
    elapsed = watch(url, quiet, backlog, seconds, began)
    sampler.stop()
    return Run(quiet.openings, footprints, elapsed, federation_footprint.cpu_s - federation_cpu, since_id)


def report(args: argparse.Namespace, run: Run) -> bool:
    say("")
    quiet_errors = Counter(o.error for o in run.openings if o.error)
    accepted = [o for o in run.openings if not o.error]
    commands = [o.command_s * 1000 for o in run.openings if o.command_s is not None]
    submits = [o.submit_s * 1000 for o in run.openings if o.submit_s is not None]
    say(
        f"quiet workspaces: {len(accepted)}/{len(run.openings)} incidents opened through /triage and the modal "
        f"({args.rate:g} a second); errors: {sum(quiet_errors.values())}"
        + "".join(f"\n  {n}x {error}" for error, n in quiet_errors.most_common())
    )
    say(
        f"  acknowledged: /triage p50 {percentile(commands, 50):.0f} ms p99 {percentile(commands, 99):.0f} ms; "
        f"submission p50 {percentile(submits, 50):.0f} ms p99 {percentile(submits, 99):.0f} ms"
    )
    latencies = quiet_latencies(run.openings, run.rows)
    root_line, root_p99 = latency_line("  root message after submit", latencies["root_message"])
    page_line, page_p99 = latency_line("  on-call page after submit", latencies["oncall_page"])
    say(root_line)
    say(page_line)
    say(latency_line("  root message after the incident was stored", latencies["stored_to_root"])[0])

    noisy_traffic = run.traffic.get(NOISY, [])
    drains = channel_drains(noisy_traffic, args.noisy_messages, args.spread_messages, args.spread_channels)
    storm, spread = drains[0], drains[1:]
    say(f"noisy workspace ({NOISY}), {run.seconds:.0f} s measured:")
    storm_pace = storm.pace()
    say(
        f"  storm channel {storm.channel}: {len(storm.posted):,}/{storm.queued:,} posted; the first "
        f"{min(BOT_BURST, len(storm.posted))} within {storm.burst_span():.1f} s (the burst), then "
        + (f"{storm_pace:.2f} posts/s" if storm_pace is not None else "nothing more")
        + f"; in order: {'yes' if storm.in_order else 'NO'}"
    )
    still = storm.queued - len(storm.posted)
    if still:
        say(
            f"  {still:,} check-ins still queued at the end: at Slack's {SLACK_PACE:g} post/s per channel the storm "
            f"needs about {storm.queued / SLACK_PACE / 60:.0f} min to drain; this run measured its first "
            f"{run.seconds:.0f} s (pace and order), not the whole drain"
        )
    spread_posted = sum(len(d.posted) for d in spread)
    spread_paces = [p for d in spread if (p := d.pace()) is not None]
    spans = [d.span for d in spread]
    say(
        f"  {len(spread)} other channels: {spread_posted}/{sum(d.queued for d in spread)} posted; each channel's "
        f"posts within {min(spans, default=0):.1f} to {max(spans, default=0):.1f} s"
        + (f", after the burst {min(spread_paces):.2f} to {max(spread_paces):.2f} posts/s" if spread_paces else "")
        + f"; in order: {sum(1 for d in spread if d.in_order)}/{len(spread)} channels"
    )
    noisy_429, noisy_calls = rate_limited(run.traffic, [NOISY])
    all_429, all_calls = rate_limited(run.traffic)
    say(
        f"  429s: noisy workspace {noisy_429} of {noisy_calls:,} calls ({share(noisy_429, noisy_calls):.2%}); all "
        f"{len(run.traffic)} workspaces {all_429} of {all_calls:,} ({share(all_429, all_calls):.2%})"
    )
    book = ledger(run.rows, run.traffic)
    say(
        f"outbox against Slack: {book.sent:,} posts sent, {book.posts:,} accepted by the emulator; lost "
        f"{len(book.lost)}, doubled {len(book.doubled)}, posted while still pending {len(book.unrecorded)}; still "
        f"queued: {book.pending['noisy']:,} noisy, {book.pending['quiet']:,} quiet"
    )
    for label, keys in (("lost", book.lost), ("doubled", book.doubled), ("posted, pending", book.unrecorded)):
        if keys:
            say(f"  {label}: {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''}")
    for n, footprint in enumerate(run.footprints, 1):
        say(
            f"replica {n}: max RSS {footprint.max_rss_kib / 1024:.0f} MB (PSS {footprint.max_pss_kib / 1024:.0f} MB) "
            f"over {footprint.processes} processes; CPU {footprint.cpu_s:.1f} s"
        )
    say(
        f"Slack federation process: CPU {run.federation_cpu_s:.1f} s; tracebacks in the replicas' logs: "
        f"{run.replica_tracebacks}"
    )
    max_rss = max(f.max_rss_kib for f in run.footprints) / 1024
    paced = storm_pace is None or 0.9 * SLACK_PACE <= storm_pace <= 1.05 * SLACK_PACE
    in_order = storm.in_order and all(d.in_order for d in spread)
    verdicts = [
        (root_p99 < TARGET_P99_S and not quiet_errors,
         f"quiet root message p99 {root_p99:.2f} s after submit, {sum(quiet_errors.values())} quiet workspaces "
         f"failed to open theirs (target: under {TARGET_P99_S:g} s, none failed)"),
        (page_p99 < TARGET_P99_S and not quiet_errors,
         f"quiet on-call page p99 {page_p99:.2f} s after submit (target: under {TARGET_P99_S:g} s)"),
        (paced and in_order,
         "noisy drains at Slack's pace: storm channel "
         + (f"{storm_pace:.2f} posts/s after the burst" if storm_pace is not None else "within the burst")
         + f", each channel in order: {'yes' if in_order else 'NO'} (target: {SLACK_PACE:g}/s per channel, in order)"),
        (share(noisy_429, noisy_calls) < TARGET_429_SHARE and share(all_429, all_calls) < TARGET_429_SHARE,
         f"429s: {share(noisy_429, noisy_calls):.2%} of the noisy workspace's calls, {share(all_429, all_calls):.2%} "
         f"of all (target: under {TARGET_429_SHARE:.0%})"),
        (book.ok, f"lost {len(book.lost)}, doubled {len(book.doubled)} (target: none)"),
        (max_rss < TARGET_RSS_MB, f"memory per replica: max {max_rss:.0f} MB RSS (target: under {TARGET_RSS_MB:g} MB)"),
    ]  # fmt: skip
    say("")
    for ok, line in verdicts:
        say(f"{'OK    ' if ok else 'MISSED'} {line}")
    return all(ok for ok, _ in verdicts)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    say("$ " + " ".join([Path(sys.executable).name, *sys.argv]))

    def run() -> bool:
        with (
            TemporaryDirectory(prefix="fairness-bench-") as workdir,
            migrated_scratch_database(args.database_url, "fairness_bench") as url,
        ):
            return report(args, bench(args, url, Path(workdir)))

    return run_benchmark(run)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
