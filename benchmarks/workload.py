"""A mixed Slack workload for the bot, shared by `benchmarks/load.py` and the smoke test in `tests/e2e/`.

Signed requests as Slack sends them, on a fixed open-loop schedule (request `n` leaves at `n / rate` s whatever
the earlier ones are doing), round-robin over the bot's URLs as a load balancer would spread them:

- `/triage` (the bot opens the new-incident form with `views.open`), then, at least `think` s later, the form
  submitted with the modal the bot opened — each submission opens an incident;
- `/triage list` and `/triage show INC-n`;
- buttons on root messages: Acknowledge; Log a step (opens a form) and the form submitted; Status / severity
  (opens a form) and the form submitted with a legal transition and another severity.

Buttons and `show` pick incidents whose root message is posted (the driver polls the database for them), and no
incident gets two clicks or forms at once. A slot whose request has nothing to act on yet (a submission before
any form is open, a button before any incident exists) sends `/triage list` instead, so the rate holds.

The emulator is reached through `EmulatorHandle`: the `SlackEmulator` itself when it runs in this process, or a
`multiprocessing` proxy to it when it runs in its own process (`benchmarks/load.py`).
"""

from __future__ import annotations

import enum
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import psycopg

from benchmarks.scratch import percentile, plain
from blocks.ids import CallbackId, IncidentAction, IncidentModal, ModalField
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.ratelimits import RateLimits
from bot.sandbox.platform import USER_AGENT, build_state_values, sign_request

JsonDict = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ACK_LIMIT_S = 3.0  # Slack gives up on an acknowledgement after 3 s
HTTP_TIMEOUT_S = 6.0  # wait longer than that, to see how late a late answer is
CHANNEL = "CLOAD"
ONCALL = "ULOADONCALL"
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
WORKFLOWS = ("document upload", "e-filing", "exhibit review", "billing export", "sign-in")
REGIONS = ("eu-west", "us-east", "us-west", "ap-south")
BROWSERS = ("Chrome 126", "Firefox 127", "Safari 17.5", "Edge 126")
SYSTEMS = ("Windows 11", "macOS 14", "Ubuntu 24.04")
ROOT_KEY = re.compile(r"INC-(\d+) ")


class Kind(enum.StrEnum):
    """The request types, as reported."""

    OPEN_FORM = "/triage (opens form)"
    LIST = "/triage list"
    SHOW = "/triage show INC-n"
    SUBMIT_INCIDENT = "submit new incident"
    ACKNOWLEDGE = "button Acknowledge"
    LOG_STEP = "button Log a step"
    SUBMIT_STEP = "submit step"
    STATUS = "button Status"
    SUBMIT_STATUS = "submit status"


K = Kind
# One period of the schedule: 20 requests, 3 of which open incidents (7.5 incidents/s at 50 requests/s), 2 of which
# acknowledge one (fewer than open, so an unacknowledged incident is nearly always there to click).
PATTERN: tuple[Kind, ...] = (
    K.OPEN_FORM, K.LIST, K.ACKNOWLEDGE, K.SHOW, K.LOG_STEP,
    K.SUBMIT_INCIDENT, K.STATUS, K.ACKNOWLEDGE, K.SHOW, K.OPEN_FORM,
    K.SUBMIT_STEP, K.SUBMIT_INCIDENT, K.LIST, K.SHOW, K.SUBMIT_STATUS,
    K.SHOW, K.OPEN_FORM, K.LOG_STEP, K.SUBMIT_INCIDENT, K.SUBMIT_STEP,
)  # fmt: skip
FORMS = {  # a submission, the request that opened its form, and the modal's callback_id
    K.SUBMIT_INCIDENT: (K.OPEN_FORM, CallbackId.NEW_INCIDENT.value),
    K.SUBMIT_STEP: (K.LOG_STEP, IncidentModal.LOG_STEP.value),
    K.SUBMIT_STATUS: (K.STATUS, IncidentModal.CHANGE_STATUS.value),
}
BUTTONS = {
    K.ACKNOWLEDGE: IncidentAction.ACKNOWLEDGE.value,
    K.LOG_STEP: IncidentAction.LOG_STEP.value,
    K.STATUS: IncidentAction.CHANGE_STATUS.value,
}


class EmulatorHandle(Protocol):
    """What the driver asks of the emulator: methods only, so a multiprocessing proxy serves as well."""

    def new_trigger_id(self, user_id: str | None = None) -> str: ...
    def new_response_url(self, channel_id: str, user_id: str, message_ts: str | None = None) -> str: ...
    def current_modal(self, user_id: str) -> JsonDict | None: ...
    def close_view(self, view_id: str) -> None: ...
    def message(self, channel_id: str, ts: str) -> JsonDict | None: ...
    def messages(self, channel_id: str) -> list[JsonDict]: ...
    def replies(self, channel_id: str, thread_ts: str) -> list[JsonDict]: ...


@dataclass(frozen=True)
class Workspace:
    """The emulator's fixed facts the payloads carry."""

    team_id: str
    team_domain: str
    app_id: str
    users: tuple[str, ...]
    channel: str = CHANNEL


def new_workspace(users: int = 256) -> tuple[SlackEmulator, Workspace]:
    """An emulator with `users` people and the bot in one support channel, and its facts for the driver.

    They are workspace admins: the status forms change the severity of incidents they did not report, which the
    roles allow admins (docs/security.md); looking them up (users.info, once a minute each) is part of the load.
    Slack's rate limits are off: every incident of the workload goes to one channel, far above Slack's one post a
    second per channel, and the workload measures the bot (acknowledged in time, each incident once), not Slack.
    How the bot meets a 429 is tested on its own (tests/integration/test_history_limits.py, test_outbox.py).
    """
    emulator = SlackEmulator(rate_limits=RateLimits(enabled=False))
    people = [emulator.add_user(f"UL{n:04d}", f"agent{n}", is_admin=True)["id"] for n in range(users)]
    emulator.add_user(ONCALL, "oncall", real_name="Olu Oncall")
    emulator.add_channel("support-load", id=CHANNEL, members=[emulator.bot_user_id, ONCALL, *people])
    return emulator, Workspace(emulator.team_id, emulator.team_domain, emulator.app_id, tuple(people))


# --- the bot as a process -----------------------------------------------------------------------------------


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def replica_env(database_url: str, api_url: str, token: str, secret: str, **extra: str) -> dict[str, str]:
    """The environment of one `triage-bot run`: this one's, without any Slack, database or Jira settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "ONCALL_"))}
    env.update(SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=secret, SLACK_API_URL=api_url)
    env.update(DATABASE_URL=database_url, ONCALL_SLACK_ID=ONCALL)
    # This workload's emulator enforces no rate limits (it measures the bot, not Slack's pace): the bot may go as
    # fast as its pacing allows. benchmarks/fairness.py measures under Slack's limits.
    env.update(SLACK_POSTS_PER_SECOND="50", SLACK_POST_BURST="100", SLACK_TIER_SCALE="20")
    env.update(extra)
    return env


@contextmanager
def replicas(
    count: int, env: dict[str, str], log_dir: Path, *, run: Sequence[str] = (), start_timeout: float = 60.0
) -> Iterator[list[Replica]]:
    """`count` `triage-bot run` processes (gunicorn) on their own ports, healthy; stopped with SIGTERM at the end.

    The database must be migrated already: they start with `--no-migrate`. `run` replaces `triage-bot run` (the
    options follow it).
    """
    started: list[Replica] = []
    try:
        for n in range(count):
            port, log = free_port(), log_dir / f"replica-{n + 1}.log"
            command = [*(run or (str(BIN / "triage-bot"), "run")), "--host", "127.0.0.1", "--port", str(port)]
            command.append("--no-migrate")
            with log.open("wb") as out:
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            started.append(Replica(process, port, log))
        for replica in started:
            _wait_until_healthy(replica, start_timeout)
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in started:
            try:
                replica.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()


def _wait_until_healthy(replica: Replica, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica on :{replica.port} exited:\n{replica.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"replica on :{replica.port} not healthy after {timeout:g} s:\n{replica.log.read_text()[-3000:]}"
    )


# --- payloads -----------------------------------------------------------------------------------------------


class Payloads:
    """Request bodies as Slack builds them; triggers and response URLs are minted by the emulator."""

    def __init__(self, emulator: EmulatorHandle, workspace: Workspace) -> None:
        self.emulator = emulator
        self.workspace = workspace

    def _user(self, user_id: str) -> JsonDict:
        name = f"agent-{user_id.lower()}"
        return {"id": user_id, "username": name, "name": name, "team_id": self.workspace.team_id}

    def _interaction(self, kind: str, user_id: str) -> JsonDict:
        return {
            "type": kind,
            "team": {"id": self.workspace.team_id, "domain": self.workspace.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.workspace.app_id,
            "token": "sandbox-verification-token",
            "trigger_id": self.emulator.new_trigger_id(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def slash_command(self, user_id: str, text: str = "") -> str:
        channel = self.workspace.channel
        return urlencode(
            {
                "token": "sandbox-verification-token",
                "team_id": self.workspace.team_id,
                "team_domain": self.workspace.team_domain,
                "channel_id": channel,
                "channel_name": "support-load",
                "user_id": user_id,
                "user_name": f"agent-{user_id.lower()}",
                "command": "/triage",
                "text": text,
                "api_app_id": self.workspace.app_id,
                "is_enterprise_install": "false",
                "response_url": self.emulator.new_response_url(channel, user_id),
                "trigger_id": self.emulator.new_trigger_id(user_id),
            }
        )

    def button(self, user_id: str, message: JsonDict, action_id: str, incident_id: int) -> str:
        """A click on a root message's button; `message` is the root as Slack shows it (Slack sends it along)."""
        channel, ts = self.workspace.channel, str(message["ts"])
        payload = self._interaction("block_actions", user_id)
        block, element = _button_of(message, action_id)
        payload.update(
            container={"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            channel={"id": channel, "name": "support-load"},
            message=message,
            state={"values": {}},
            response_url=self.emulator.new_response_url(channel, user_id, message_ts=ts),
            actions=[
                {
                    "action_id": action_id,
                    "block_id": block.get("block_id", f"incident_actions_{incident_id}"),
                    "type": "button",
                    "text": element.get("text", {"type": "plain_text", "text": action_id}),
                    "value": str(element.get("value", incident_id)),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        )
        return urlencode({"payload": json.dumps(payload)})

    def submission(self, user_id: str, view: JsonDict, values: JsonDict) -> str:
        """The modal `view` (as the emulator holds it) submitted with `values` keyed by action/block id."""
        payload = self._interaction("view_submission", user_id)
        state = build_state_values(view["blocks"], values)
        payload.update(view={**{k: v for k, v in view.items() if k != "errors"}, "state": {"values": state}})
        payload["response_urls"] = []
        return urlencode({"payload": json.dumps(payload)})


def _button_of(message: JsonDict, action_id: str) -> tuple[JsonDict, JsonDict]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return block, element
    return {}, {}


def incident_form(n: int, now: float) -> JsonDict:
    """The n-th new-incident form: a few clients, every severity, a deadline six hours out (no reminder falls due)."""
    return {
        "client": f"Client {n % 40:02d} LLP",
        "premium": ["premium"] if n % 3 else [],
        "title": f"Load incident {n}: exhibit upload fails at 99%",
        "severity": SEVERITIES[n % len(SEVERITIES)],
        "deadline": int(now + 6 * 3600),
        "deadline_context": "court filing",
        "blocker": f"Bundle {n} stops at 99% with 'Network error' <@U123> & retries don't help.",
        "workflow": WORKFLOWS[n % len(WORKFLOWS)],
        "region": REGIONS[n % len(REGIONS)],
        "file_size": f"{50 + n % 400} MB",
        "browser": BROWSERS[n % len(BROWSERS)],
        "os": SYSTEMS[n % len(SYSTEMS)],
        "started": "today 09:40, right after the second upload",
        "frequency": "every time",
        "already_tried": "Retried twice, another browser",
    }


def _options(view: JsonDict, block_id: str) -> list[str]:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            return [str(o["value"]) for o in block.get("element", {}).get("options", [])]
    return []


def _initial(view: JsonDict, block_id: str) -> str | None:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            option = block.get("element", {}).get("initial_option") or {}
            return str(option["value"]) if "value" in option else None
    return None


def step_form(view: JsonDict, n: int) -> JsonDict:
    kinds, outcomes = _options(view, ModalField.STEP_KIND), _options(view, ModalField.STEP_OUTCOME)
    return {
        ModalField.STEP_KIND.value: kinds[n % len(kinds)],
        ModalField.STEP_DESCRIPTION.value: f"Re-uploaded the bundle from a clean profile (attempt {n})",
        ModalField.STEP_OUTCOME.value: outcomes[n % len(outcomes)],
    }


def status_form(view: JsonDict, n: int) -> JsonDict:
    """A legal move the form offers, staying open (an acknowledgement may still turn new into investigating)."""
    current, offered = _initial(view, ModalField.STATUS), _options(view, ModalField.STATUS)
    status = next(s for s in ("mitigated", "escalated", "investigating", *offered) if s in offered and s != current)
    severities = [s for s in _options(view, ModalField.SEVERITY) if s != _initial(view, ModalField.SEVERITY)]
    return {
        ModalField.STATUS.value: status,
        ModalField.SEVERITY.value: severities[n % len(severities)],
        ModalField.REASON.value: f"Load run step {n}",
    }


# --- the driver ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One scheduled request as it went; `latency` is None when no answer came (or nothing was sent)."""

    kind: Kind
    scheduled: float  # seconds from the start of the schedule
    send_lag: float  # sent this long after its scheduled moment
    latency: float | None
    status: int | None
    error: str | None = None
    refused: str | None = None  # a 200 that says no: field errors on a form, a refusal of a command
    warmup: bool = False


@dataclass
class _Flow:
    """A form opened by a request, waiting for its submission."""

    kind: Kind
    user: str
    opened_at: float
    incident_id: int | None = None


@dataclass
class _Incident:
    id: int
    root_ts: str
    acknowledged: bool = False
    busy: bool = False


@dataclass
class Driver:
    """Runs the schedule against `urls`, recording `outcomes` and the new-incident forms submitted and accepted."""

    emulator: EmulatorHandle
    workspace: Workspace
    urls: Sequence[str]
    secret: str
    database_url: str
    rate: float
    seconds: float
    warmup: float = 0.0
    think: float = 1.0
    seed: int = 7
    pattern: Sequence[Kind] = PATTERN
    outcomes: list[Outcome] = field(default_factory=list)
    submitted_views: list[str] = field(default_factory=list)  # every new-incident form sent
    accepted_views: list[str] = field(default_factory=list)  # ... and acknowledged in time with the modal closed
    stand_ins: Counter[Kind] = field(default_factory=Counter)  # slots sent as `/triage list`, by their own kind

    def __post_init__(self) -> None:
        self.payloads = Payloads(self.emulator, self.workspace)
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._users = itertools.cycle(self.workspace.users)
        # Whoever opens a form gets their own turn in a second cycle: a person's modal is theirs until submitted
        # (256 people and 15 forms/s at 50 requests/s: 17 s before anyone opens another).
        self._form_users = itertools.cycle(self.workspace.users)
        self._forms: dict[Kind, deque[_Flow]] = {kind: deque() for kind in FORMS}
        self._incidents: dict[int, _Incident] = {}
        self._serial = itertools.count(1)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._stop = threading.Event()

    @property
    def total(self) -> int:
        return round((self.warmup + self.seconds) * self.rate)

    def incidents_known(self) -> int:
        with self._lock:
            return len(self._incidents)

    def run(self, progress: Any = None, every: float = 10.0) -> list[Outcome]:
        """Send the whole schedule, wait for the answers; `progress(driver, elapsed)` is called every `every` s."""
        poller = threading.Thread(target=self._poll_incidents, name="load-incident-poller", daemon=True)
        poller.start()
        in_flight = int(self.rate * HTTP_TIMEOUT_S) + 32  # a thread per request in flight: never queue behind a hang
        try:
            with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="load") as pool:
                started = time.perf_counter()
                next_report = every
                for n in range(self.total):
                    at = n / self.rate
                    delay = started + at - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(self._slot, n, at, started)
                    if progress is not None and at - self.warmup >= next_report:
                        progress(self, at - self.warmup)
                        next_report += every
        finally:
            self._stop.set()
            poller.join()
        return self.outcomes

    # -- the schedule's slots

    def _slot(self, n: int, at: float, started: float) -> None:
        kind = self.pattern[n % len(self.pattern)]
        # Round-robin, shifted by one every period of the pattern: every request type reaches every replica alike.
        url = self.urls[(n + n // len(self.pattern)) % len(self.urls)]
        try:
            outcome = self._perform(kind, url, at, started)
        except Exception as exc:  # a driver bug must show in the report, not vanish in a pool thread
            outcome = Outcome(kind, at, 0.0, None, None, error=f"driver: {type(exc).__name__}: {exc}")
        outcome.warmup = at < self.warmup
        with self._lock:
            self.outcomes.append(outcome)

    def _perform(self, kind: Kind, url: str, at: float, started: float) -> Outcome:
        if kind in FORMS:
            flow = self._take_form(kind)
            if flow is None:
                return self._instead(kind, url, at, started)
            return self._submit(flow, url, at, started)
        if kind in BUTTONS:
            target = self._take_incident(kind)
            if target is None:
                return self._instead(kind, url, at, started)
            return self._click(kind, target, url, at, started)
        if kind == K.SHOW:
            with self._lock:
                known = list(self._incidents)
            if not known:
                return self._instead(kind, url, at, started)
            return self._command(K.SHOW, f"show INC-{self._rng.choice(known)}", url, at, started)
        return self._command(kind, "" if kind == K.OPEN_FORM else "list", url, at, started)

    def _instead(self, kind: Kind, url: str, at: float, started: float) -> Outcome:
        """`/triage list` in a slot whose request has nothing to act on yet."""
        with self._lock:
            self.stand_ins[kind] += 1
        return self._command(K.LIST, "list", url, at, started)

    def _command(self, kind: Kind, text: str, url: str, at: float, started: float) -> Outcome:
        user = next(self._form_users if kind == K.OPEN_FORM else self._users)
        outcome = self._send(kind, url, self.payloads.slash_command(user, text), at, started)
        if outcome.error is None and kind == K.OPEN_FORM:
            with self._lock:
                self._forms[K.SUBMIT_INCIDENT].append(_Flow(K.OPEN_FORM, user, time.perf_counter()))
        return outcome

    def _click(self, kind: Kind, incident: _Incident, url: str, at: float, started: float) -> Outcome:
        submission = next((s for s, (opener, _) in FORMS.items() if opener == kind), None)
        user = next(self._users if submission is None else self._form_users)
        message = self.emulator.message(self.workspace.channel, incident.root_ts)
        if message is None:
            self._release(incident)
            return Outcome(kind, at, 0.0, None, None, error="root message missing in the emulator")
        body = self.payloads.button(user, message, BUTTONS[kind], incident.id)
        outcome = self._send(kind, url, body, at, started)
        if outcome.error is None and submission is not None:
            with self._lock:
                self._forms[submission].append(_Flow(kind, user, time.perf_counter(), incident.id))
        else:
            self._release(incident)
        return outcome

    def _submit(self, flow: _Flow, url: str, at: float, started: float) -> Outcome:
        kind = next(s for s, (opener, _) in FORMS.items() if opener == flow.kind)
        try:
            view = self.emulator.current_modal(flow.user)
            if view is None or view.get("callback_id") != FORMS[kind][1]:
                return Outcome(kind, at, 0.0, None, None, error=f"the form of {flow.kind.value} never opened")
            serial = next(self._serial)
            if kind == K.SUBMIT_INCIDENT:
                values = incident_form(serial, time.time())
            elif kind == K.SUBMIT_STEP:
                values = step_form(view, serial)
            else:
                values = status_form(view, serial)
            body = self.payloads.submission(flow.user, view, values)
            if kind == K.SUBMIT_INCIDENT:
                with self._lock:
                    self.submitted_views.append(str(view["id"]))
            outcome = self._send(kind, url, body, at, started)
            if outcome.error is None and outcome.refused is None:
                self.emulator.close_view(str(view["id"]))  # Slack closes the modal on an empty acknowledgement
                if kind == K.SUBMIT_INCIDENT:
                    with self._lock:
                        self.accepted_views.append(str(view["id"]))
            return outcome
        finally:
            if flow.incident_id is not None:
                with self._lock:
                    self._incidents[flow.incident_id].busy = False

    def _take_form(self, kind: Kind) -> _Flow | None:
        """The oldest form of this kind opened at least `think` s ago."""
        with self._lock:
            waiting = self._forms[kind]
            if waiting and time.perf_counter() - waiting[0].opened_at >= self.think:
                return waiting.popleft()
        return None

    def _take_incident(self, kind: Kind) -> _Incident | None:
        """Acknowledge the oldest unacknowledged incident; other buttons go to a random one; none that is busy."""
        with self._lock:
            idle = [i for i in self._incidents.values() if not i.busy]
            if kind == K.ACKNOWLEDGE:
                idle = [i for i in idle if not i.acknowledged]
                chosen = min(idle, key=lambda i: i.id, default=None)
            else:
                chosen = self._rng.choice(idle) if idle else None
            if chosen is not None:
                chosen.busy = True
                chosen.acknowledged = chosen.acknowledged or kind == K.ACKNOWLEDGE
            return chosen

    def _release(self, incident: _Incident) -> None:
        with self._lock:
            incident.busy = False

    def _send(self, kind: Kind, url: str, body: str, at: float, started: float) -> Outcome:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign_request(self.secret, timestamp, body),
        }
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        sent = time.perf_counter()
        lag = sent - started - at
        try:
            with self._opener.open(request, timeout=HTTP_TIMEOUT_S) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as exc:
            with exc:
                return Outcome(kind, at, lag, time.perf_counter() - sent, exc.code, error=f"HTTP {exc.code}")
        except TimeoutError:
            return Outcome(kind, at, lag, None, None, error=f"no answer in {HTTP_TIMEOUT_S:g} s")
        except OSError as exc:
            return Outcome(kind, at, lag, None, None, error=f"connection: {type(exc).__name__}")
        latency = time.perf_counter() - sent
        outcome = Outcome(kind, at, lag, latency, status)
        if status != 200:
            outcome.error = f"HTTP {status}"
        elif latency > ACK_LIMIT_S:
            outcome.error = f"acknowledged after {ACK_LIMIT_S:g} s"
        outcome.refused = _refusal(kind, text)
        return outcome

    # -- which incidents can be clicked

    def _poll_incidents(self) -> None:
        """Incidents whose root message is posted, every 0.25 s (a person can only click what Slack shows)."""
        with psycopg.connect(plain(self.database_url), autocommit=True) as conn:
            while not self._stop.wait(0.25):
                rows = conn.execute("SELECT id, root_ts FROM incidents WHERE root_ts IS NOT NULL").fetchall()
                with self._lock:
                    for incident_id, root_ts in rows:
                        if incident_id not in self._incidents:
                            self._incidents[incident_id] = _Incident(incident_id, root_ts)


def _refusal(kind: Kind, text: str) -> str | None:
    """What a 200 says when it is a "no": field errors on a form, or a command answered without its blocks."""
    try:
        data = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return f"not JSON: {text[:80]}"
    if kind in FORMS:
        if isinstance(data, dict) and data.get("response_action") == "errors":
            return json.dumps(data.get("errors"))[:200]
        return None
    if kind in (K.LIST, K.SHOW) and not (isinstance(data, dict) and data.get("blocks")):
        return str(data)[:200]
    return None


# --- checking what the workload left behind -------------------------------------------------------------------


@dataclass
class Verification:
    """Whether every accepted submission opened exactly one incident, announced in the channel with its thread.

    A submission answered with an error (late, none, 5xx) may still have stored its incident: Slack shows the person
    an error, yet the incident exists (and a resubmission finds it by the view id). Those are `unanswered`; they are
    errors of the run, counted where the requests are.
    """

    accepted: int
    incidents: int
    missing: list[str]  # accepted submissions (view ids) without an incident
    unexpected: list[int]  # incidents no submission explains
    unanswered: list[int]  # incidents of submissions that were not accepted
    without_root: list[int]  # no root message posted (no root_ts, or not in the emulator)
    duplicate_roots: list[int]  # more than one top-level message for one incident
    short_threads: list[int]  # fewer than the environment and on-call replies in the thread
    pending_outbox: int
    root_lags: list[float] = field(default_factory=list)  # seconds from storing an incident to its root message

    @property
    def ok(self) -> bool:
        problems = (self.missing, self.unexpected, self.without_root, self.duplicate_roots, self.short_threads)
        return self.accepted + len(self.unanswered) == self.incidents and not any(problems) and not self.pending_outbox

    def lines(self) -> list[str]:
        lines = [
            f"submissions accepted: {self.accepted:,}   incidents stored: {self.incidents:,}   accepted without an "
            f"incident: {len(self.missing)}   stored though not accepted: {len(self.unanswered)}   unexplained: "
            f"{len(self.unexpected)}",
            f"root messages posted: {self.incidents - len(self.without_root):,}/{self.incidents:,}   "
            f"duplicated: {len(self.duplicate_roots)}   threads missing the environment or on-call reply: "
            f"{len(self.short_threads)}   outbox still pending: {self.pending_outbox}",
            f"root message in the channel after storing the incident: p50 {percentile(self.root_lags, 50):.2f} s   "
            f"p99 {percentile(self.root_lags, 99):.2f} s   max {max(self.root_lags, default=float('nan')):.2f} s",
        ]
        for label, items in (
            ("without an incident", self.missing),
            ("unexplained", self.unexpected),
            ("no root message", self.without_root),
            ("duplicated root", self.duplicate_roots),
            ("short thread", self.short_threads),
        ):
            if items:
                lines.append(f"  {label}: {', '.join(map(str, items[:10]))}{' …' if len(items) > 10 else ''}")
        return lines


def wait_for_outbox(database_url: str, timeout: float) -> int:
    """Wait until nothing is pending in the outbox (the replicas' ticks retry what failed); what is still pending."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(plain(database_url), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'), "
                "(SELECT count(*) FROM incidents WHERE root_ts IS NULL)"
            ).fetchone()
            pending = int(row[0]) + int(row[1]) if row else 0
            if pending == 0 or time.monotonic() > deadline:
                return int(row[0]) if row else 0
            time.sleep(0.2)


def verify(
    database_url: str, emulator: EmulatorHandle, channel: str, submitted: Sequence[str], accepted: Sequence[str]
) -> Verification:
    with psycopg.connect(plain(database_url)) as conn:
        rows = conn.execute(
            "SELECT id, idempotency_key, root_ts, extract(epoch FROM opened_at) FROM incidents ORDER BY id"
        ).fetchall()
        pending = conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()
    # An incident's idempotency key ends in the id of the view it was submitted from (`view:<team>:<view id>`).
    by_key = {key.rsplit(":", 1)[-1]: (incident_id, root_ts) for incident_id, key, root_ts, _ in rows}
    expected, sent = set(accepted), set(submitted)
    top_level: dict[int, list[str]] = {}
    for message in emulator.messages(channel):
        found = ROOT_KEY.match(str(message.get("text", "")))
        if found:
            top_level.setdefault(int(found[1]), []).append(str(message["ts"]))
    without_root, short_threads, lags = [], [], []
    for incident_id, _key, root_ts, opened_at in rows:
        if root_ts is None or root_ts not in top_level.get(incident_id, []):
            without_root.append(incident_id)
            continue
        lags.append(float(root_ts) - float(opened_at))  # the emulator's ts is when it took the post
        if len(emulator.replies(channel, root_ts)) < 2:
            short_threads.append(incident_id)
    return Verification(
        accepted=len(accepted),
        incidents=len(rows),
        missing=sorted(expected - set(by_key)),
        unexpected=sorted(incident_id for key, (incident_id, _) in by_key.items() if key not in sent),
        unanswered=sorted(i for key, (i, _) in by_key.items() if key in sent and key not in expected),
        without_root=without_root,
        duplicate_roots=sorted(i for i, posted in top_level.items() if len(posted) > 1),
        short_threads=short_threads,
        pending_outbox=int(pending[0]) if pending else 0,
        root_lags=lags,
    )


# --- the numbers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    refused: int


def summarize(outcomes: Sequence[Outcome]) -> list[Row]:
    """One row per request type (in schedule order), then all of them."""
    rows = []
    groups = [(kind.value, [o for o in outcomes if o.kind == kind]) for kind in Kind]
    for name, group in [*groups, ("all", list(outcomes))]:
        if not group:
            continue
        latencies = [o.latency * 1000 for o in group if o.latency is not None]
        rows.append(
            Row(
                name,
                len(group),
                percentile(latencies, 50),
                percentile(latencies, 99),
                max(latencies, default=float("nan")),
                sum(1 for o in group if o.error),
                sum(1 for o in group if o.refused),
            )
        )
    return rows


def table(rows: Sequence[Row]) -> list[str]:
    width = max(len(r.name) for r in rows)
    head = f"{'request type':<{width}} | {'sent':>5} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | errors | refused"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.name:<{width}} | {r.sent:>5} | {r.p50_ms:7.1f} | {r.p99_ms:7.1f} | {r.max_ms:7.1f} | "
            f"{r.errors:>6} | {r.refused:>7}"
        )
    return lines


def error_counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    return dict(Counter(f"{o.kind.value}: {o.error}" for o in outcomes if o.error))
