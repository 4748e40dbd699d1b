"""Ack latency of `/triage`: the bot versus a bare Bolt app, both under gunicorn, Web API on the emulator.

    .venv/bin/python benchmarks/ack_latency.py [--requests 300] [--runs 3] [--database-url postgresql://...] [--oauth]
        [--profile] [--levels 1 8 32] [--rates 100 300] [--bare-form one-field|triage] [--spread] [--skip N]

Both apps run under gunicorn gthread with one worker and 32 threads. Each talks to its own emulator process
(Slack's rate limits off: hundreds of `views.open` a second from one workspace are far over its Tier 4 limit, and
what is measured is the acknowledgement), and the load comes from a third process. Every run sends `--requests`
signed `/triage` commands to each app at concurrency 1, 8 and 32 (`--levels`), the apps taking turns (each run
starting with the next app); `--runs` runs are made and each figure is the median over them. `--rates` adds
open-loop levels: the commands sent at a fixed rate (commands a second, as Slack sends what people type whether or
not the last one was answered), each latency counted from when its command was due, so that a sender held up
cannot hide a slow answer. Per app and level it prints the acknowledgement's p50/p99, when the form opened (the
emulator received `views.open`, measured from when the command was sent), and the CPU time per request of the
app's processes and of its emulator (steadier than wall time on a busy machine); `--spread` adds each app's
acknowledgements at every level as a distribution (all runs together: p1 to p99, and p99 over p50). Target: the
bot's p99 within 1.2x of the bare app's at every level, every request acknowledged. With `--oauth` a third app is
measured: the bot installed through Slack OAuth (the workspace's token found in the installation store).
`--skip N` leaves each run's first N acknowledgements out of every latency figure: both apps' slowest answers come
while the sender's threads and connections start, and with a few hundred requests a run they set the p99, so this
shows the steady state. `--bare-form triage` has bare Bolt open the bot's own new-incident form instead of a
one-field one (and, as the bot does, not format slack_sdk's per-call debug line): what is left is the bot's own
overhead, not the weight of its form (which its emulator pays too). `--profile` runs the bots' workers under
cProfile (CPU time, every thread: `benchmarks/load.py profiled-replica`) and prints where their CPU went; the
timings are then the profiled ones.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import Queue
from multiprocessing.connection import Connection
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import parse_qs, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import PROFILE_DUMP_SECONDS, Footprint, report_profile  # noqa: E402
from benchmarks.scratch import percentile, scratch_database  # noqa: E402
from bot.sandbox.emulator import RateLimits, SlackEmulator  # noqa: E402
from bot.sandbox.platform import SlackPlatform, sign_request  # noqa: E402

SECRET = "bench-secret"
CLIENT_ID = "4242.1717"
CONCURRENCY = (1, 8, 32)
TARGET = 1.2
WARMUP = 40
THREADS = "32"
FORMS_WAIT_SECONDS = 60
BIN = Path(sys.executable).parent
FORK = multiprocessing.get_context("fork")


@dataclass
class Result:
    """One app at one level in one run: ack latencies (s), form-opening delays (s), CPU ms per request; `sent` is
    every command sent (with `--skip`, more than the latencies and failures)."""

    latencies: list[float]
    failures: int
    forms: list[float] = field(default_factory=list)
    app_cpu_ms: float = 0.0
    slack_cpu_ms: float = 0.0
    sent: int = 0

    @property
    def commands(self) -> int:
        return self.sent or len(self.latencies) + self.failures

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"server exited early: {url}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering at all is enough
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not come up: {url}")


@contextmanager
def app_server(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[int]:
    """The app's process (its pid: gunicorn's master, whose workers are its children)."""
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(probe, process)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def _serve_forever(emulator: SlackEmulator, port: int, asked: Connection) -> None:
    """Serve the Web API; answer each message on `asked` with when each trigger's `views.open` arrived so far."""
    opened: dict[str, float] = {}
    handle = emulator.handle_api_call

    def timed(method: str, args: dict[str, Any], token: str | None, **how: Any) -> Any:
        if method == "views.open":
            opened.setdefault(str(args.get("trigger_id")), time.time())
        return handle(method, args, token, **how)

    emulator.handle_api_call = timed  # type: ignore[method-assign]
    # What this process inherited from the benchmark (the bot's modules, the minted triggers) lives as long as it
    # does: the garbage collector stops walking it, as the bot does after start-up (bot/server.py).
    gc.freeze()
    # And it does not collect while a round is served. Everything the emulator keeps (every view opened, the call
    # log) stays alive, so a collection finds nothing to free, yet walks all of it: within a round of 4,000
    # `/triage`, the bot's emulator, keeping 4,000 of its 18-block forms, spent 530 ms in full collections (four of
    # 30-197 ms, found with gc.callbacks) and bare Bolt's, keeping one-field modals, none over 2 ms. That is CPU
    # taken from the machine both apps share and `views.open` answers held, growing with the round and with the
    # size of the form the app sends: the stand-in's cost, which a real Slack does not put on the bot's cores.
    gc.disable()
    emulator.serve(port=port)
    while True:
        asked.recv()
        asked.send(dict(opened))
        # Asked between rounds, while no request is in flight: collect then, and freeze what is kept.
        gc.collect()
        gc.freeze()


@dataclass
class SlackStandIn:
    """An emulator process: its Web API URL, pid, and a line to ask when forms opened."""

    url: str
    pid: int
    line: Connection

    def forms_opened(self) -> dict[str, float]:
        self.line.send(None)
        opened: dict[str, float] = self.line.recv()
        return opened


@contextmanager
def emulator_process(emulator: SlackEmulator, port: int) -> Iterator[SlackStandIn]:
    """Serve a copy of the emulator (with every trigger minted so far) in its own process."""
    here, there = FORK.Pipe()
    process = FORK.Process(target=_serve_forever, args=(emulator, port, there), daemon=True)
    process.start()
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/api.test")
        yield SlackStandIn(f"http://127.0.0.1:{port}/api/", int(process.pid or 0), here)
    finally:
        process.kill()
        process.join()


@dataclass(frozen=True)
class Load:
    """How a level sends its commands: `concurrency` at a time (a closed loop), or `rate` a second (open loop)."""

    concurrency: int = 0
    rate: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.rate:g}/s" if self.rate else str(self.concurrency)


OPEN_LOOP_THREADS = 64  # senders of the open loop: enough that a command is never sent late for want of one


def send_signed(url: str, body: str, due: float | None = None) -> tuple[float, float | None]:
    """POST one slash command signed as Slack signs it: when it was sent (epoch s), and the seconds until the
    ack (None if not acknowledged), counted from `due` (a `perf_counter` time) when given."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign_request(SECRET, timestamp, body),
    }
    sent_at, started = time.time(), time.perf_counter() if due is None else due
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return sent_at, time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return sent_at, None


def _load(url: str, bodies: list[str], load: Load, results: Queue[list[tuple[float, float | None]]]) -> None:
    # This process is forked from the benchmark's, with all it holds (the emulator, every minted body): its first
    # full collection walked ~175,000 objects, 95 ms during which the requests in flight were not read, and their
    # latencies counted the sender's pause (found with gc.callbacks). What it sends is measured without it.
    gc.freeze()
    gc.disable()
    if load.rate:
        results.put(_send_at_rate(url, bodies, load.rate))
        return
    with ThreadPoolExecutor(max_workers=load.concurrency) as pool:
        results.put(list(pool.map(lambda body: send_signed(url, body), bodies)))


def _send_at_rate(url: str, bodies: list[str], rate: float) -> list[tuple[float, float | None]]:
    """Each command due `1 / rate` s after the last, sent then whatever the answers so far."""
    with ThreadPoolExecutor(max_workers=OPEN_LOOP_THREADS) as pool:
        start = time.perf_counter()
        sending = []
        for n, body in enumerate(bodies):
            due = start + n / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            sending.append(pool.submit(send_signed, url, body, due))
        return [future.result() for future in sending]


def trigger_of(body: str) -> str:
    return parse_qs(body)["trigger_id"][0]


@dataclass
class App:
    name: str
    url: str
    pid: int
    slack: SlackStandIn


def still_running(pid: int) -> bool:
    """Whether the process is there and not a zombie (an app that failed to bind its port exits at once)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def check_running(app: App) -> None:
    for pid, what in ((app.pid, app.name), (app.slack.pid, f"{app.name}'s emulator")):
        if not still_running(pid):
            raise SystemExit(f"{what} (pid {pid}) is no longer running: nothing it measures would mean anything")


def acknowledged(outcomes: list[tuple[float, float | None]], skip: int = 0) -> tuple[list[float], int]:
    """The acknowledgement latencies past the first `skip` commands sent (in sending order), and how many of all the
    commands were not acknowledged."""
    failures = sum(1 for _, latency in outcomes if latency is None)
    return [latency for _, latency in outcomes[skip:] if latency is not None], failures


def drive(app: App, bodies: list[str], load: Load, skip: int = 0) -> Result:
    """Send the bodies from a separate process as `load` says; then wait for every form to open. The first `skip`
    acknowledgements are left out of the latencies (every command still counts as acknowledged or not)."""
    check_running(app)
    before = [Footprint(app.pid), Footprint(app.slack.pid)]
    for footprint in before:
        footprint.sample()
    results: Queue[list[tuple[float, float | None]]] = FORK.Queue()
    process = FORK.Process(target=_load, args=(app.url, bodies, load, results))
    process.start()
    outcomes = results.get(timeout=600)
    process.join()
    sent = {trigger_of(body): sent_at for body, (sent_at, _) in zip(bodies, outcomes, strict=True)}
    deadline = time.monotonic() + FORMS_WAIT_SECONDS
    opened = app.slack.forms_opened()
    while not sent.keys() <= opened.keys() and time.monotonic() < deadline:
        check_running(app)
        time.sleep(0.2)
        opened = app.slack.forms_opened()
    after = [Footprint(app.pid), Footprint(app.slack.pid)]
    for footprint in after:
        footprint.sample()
    app_cpu, slack_cpu = (b.cpu_s - a.cpu_s for a, b in zip(before, after, strict=True))
    latencies, failures = acknowledged(outcomes, skip)
    return Result(
        latencies,
        failures=failures,
        forms=[opened[trigger] - sent_at for trigger, sent_at in sent.items() if trigger in opened],
        app_cpu_ms=app_cpu * 1000 / len(bodies),
        slack_cpu_ms=slack_cpu * 1000 / len(bodies),
        sent=len(outcomes),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per app per concurrency level per run")
    parser.add_argument("--runs", type=int, default=3, help="runs; each figure is the median over them")
    default_db = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-url", default=default_db, help="admin URL of a PostgreSQL server")
    parser.add_argument("--oauth", action="store_true", help="also measure the bot with OAuth installs")
    parser.add_argument("--profile", action="store_true", help="profile the bots' workers (cProfile, CPU time)")
    parser.add_argument(
        "--bare-form",
        choices=("one-field", "triage"),
        default="one-field",
        help="the modal bare Bolt opens: a one-field form, or the bot's own new-incident form",
    )
    parser.add_argument(
        "--levels", type=int, nargs="*", default=list(CONCURRENCY), help="concurrency levels (default: 1 8 32)"
    )
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[], help="open-loop levels: commands a second (default: none)"
    )
    parser.add_argument("--spread", action="store_true", help="also each app's distribution of ack latencies")
    parser.add_argument(
        "--skip", type=int, default=0, help="leave each run's first N acknowledgements out of the latencies (default 0)"
    )
    args = parser.parse_args()
    loads = [*(Load(concurrency=level) for level in args.levels), *(Load(rate=rate) for rate in args.rates)]
    if not loads:
        parser.error("give at least one of --levels and --rates")

    emulator = SlackEmulator(trigger_ttl_seconds=3600, rate_limits=RateLimits(enabled=False))
    users = [emulator.add_user(f"UB{n:03d}", f"bench{n}")["id"] for n in range(64)]
    emulator.add_channel("bench", id="CBENCH", members=users)
    emulator.base_url = "http://127.0.0.1:9"  # response URLs are never used by /triage
    platform = SlackPlatform(emulator, "unused", SECRET)
    names = ("bare Bolt", "triage-bot", *(("bot OAuth",) if args.oauth else ()))

    def signed_bodies(count: int) -> list[str]:
        return [urlencode(platform.slash_command_fields(users[n % len(users)], "CBENCH")) for n in range(count)]

    warm_up = Load(concurrency=4)
    warm_up_batches = {name: signed_bodies(WARMUP) for name in names}
    batches = {
        (name, run, load): signed_bodies(args.requests) for name in names for run in range(args.runs) for load in loads
    }
    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    ports = {name: free_port() for name in names}
    with contextlib.ExitStack() as stack:
        profiles = Path(stack.enter_context(TemporaryDirectory(prefix="ack-profile-"))) if args.profile else None
        apps = [start(stack, name, ports[name], emulator, admin_url, profiles, args.bare_form) for name in names]
        for app in apps:
            drive(app, warm_up_batches[app.name], warm_up)  # warm-up: imports, connection pools
        results: dict[Load, dict[str, list[Result]]] = {load: {app.name: [] for app in apps} for load in loads}
        for run in range(args.runs):
            for load in loads:
                for app in taking_turns(apps, run):
                    results[load][app.name].append(drive(app, batches[(app.name, run, load)], load, args.skip))
        if profiles is not None:
            time.sleep(PROFILE_DUMP_SECONDS + 0.5)  # the apps' last numbers written, the final requests' included
            for app in apps[1:]:
                print(f"=== {app.name}: CPU profile of {args.runs * len(loads)} x {args.requests} requests")
                report_profile(profiles / app.name.replace(" ", "-"), args.runs * len(loads) * args.requests)
    verdicts = [report_level(load, results[load], first=load == loads[0]) for load in loads]
    if args.spread:
        print("acknowledgement latency in ms, every run's requests together")
        print(f"{'load':>11} | {'app':<10} | {'  '.join(f'{q:>5}' for q in SPREAD)}  p99/p50")
        for load in loads:
            for name, runs in results[load].items():
                print(spread_line(load, name, runs))
    sys.exit(0 if all(verdicts) else 1)


SPREAD = ("p1", "p10", "p25", "p50", "p75", "p90", "p99")


def spread_line(load: Load, name: str, runs: list[Result]) -> str:
    """One app's acknowledgements at one level, every run's together, as percentiles (ms) and p99 over p50."""
    pooled = Result([latency for run in runs for latency in run.latencies], failures=0)
    values = [pooled.percentile(float(q[1:])) for q in SPREAD]
    figures = "  ".join(f"{value:5.1f}" for value in values)
    return f"{load.label:>11} | {name:<10} | {figures}  {values[-1] / values[3]:7.2f}"


def taking_turns(apps: list[App], run: int) -> list[App]:
    """The apps in this run's order: each run starts with the next one, so none is always measured first or last."""
    shift = run % len(apps)
    return apps[shift:] + apps[:shift]


def start(
    stack: contextlib.ExitStack,
    name: str,
    port: int,
    emulator: SlackEmulator,
    admin_url: str,
    profiles: Path | None,
    bare_form: str = "one-field",
) -> App:
    """One app with its own emulator process; both bots with their own scratch database (and profile, if asked)."""
    slack = stack.enter_context(emulator_process(emulator, free_port()))
    env = {**os.environ, "SLACK_BOT_TOKEN": emulator.bot_token, "SLACK_SIGNING_SECRET": SECRET}
    env.update(SLACK_API_URL=slack.url, LOG_LEVEL="WARNING", BARE_FORM=bare_form, BARE_FORM_CHANNEL="CBENCH")
    url = f"http://127.0.0.1:{port}/slack/events"
    if name == "bare Bolt":
        cmd = [str(BIN / "gunicorn"), "benchmarks.bare_bolt_app:api", "-b", f"127.0.0.1:{port}"]
        cmd += ["-k", "gthread", "--workers", "1", "--threads", THREADS, "--log-level", "warning"]
        pid = stack.enter_context(app_server(cmd, env, f"http://127.0.0.1:{port}/"))
        return App(name, url, pid, slack)
    database_url = stack.enter_context(scratch_database(admin_url, "ack_bench"))
    env.update(DATABASE_URL=database_url, PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS=THREADS)
    if name == "bot OAuth":
        del env["SLACK_BOT_TOKEN"]
        env.update(SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET="bench-client-secret")
        install(database_url, emulator)
    cmd = [str(BIN / "triage-bot"), "run", "--host", "127.0.0.1"]
    if profiles is not None:
        stats = profiles / name.replace(" ", "-")
        stats.mkdir()
        cmd = [sys.executable, str(ROOT / "benchmarks" / "load.py"), "profiled-replica", str(stats), *cmd[2:]]
    pid = stack.enter_context(app_server(cmd, env, f"http://127.0.0.1:{port}/healthz"))
    return App(name, url, pid, slack)


def install(database_url: str, emulator: SlackEmulator) -> None:
    """The state an OAuth install leaves: the schema, and the workspace's bot in slack_sdk's installation store."""
    from slack_sdk.oauth.installation_store import Installation
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    from bot.db import make_engine
    from bot.migrate import upgrade

    upgrade(database_url)
    engine = make_engine(database_url)
    SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine).save(
        Installation(
            app_id=emulator.app_id,
            team_id=emulator.team_id,
            user_id="UB000",
            bot_token=emulator.bot_token,
            bot_id=emulator.bot_id,
            bot_user_id=emulator.bot_user_id,
        )
    )
    engine.dispose()


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report_level(load: Load, results: dict[str, list[Result]], *, first: bool) -> bool:
    """One line per app (medians over the runs); the p99 ratio of each bot to the bare app, run by run."""
    if first:
        run_count = len(results["bare Bolt"])
        print(f"medians of {run_count} runs; form = from sending /triage to the emulator receiving views.open")
        print(
            f"{'load':>11} | {'app':<10} | {'p50 ms':>7} | {'p99 ms':>7} | {'form p50':>8} | {'form p99':>8} "
            f"| {'CPU ms/req app + Slack':>22} | {'acked':>9} | {'forms':>9}"
        )
    for name, runs in results.items():
        sent = sum(r.commands for r in runs)
        acked = f"{sent - sum(r.failures for r in runs)}/{sent}"
        forms = f"{sum(len(r.forms) for r in runs)}/{sent}"
        p50, p99 = _median([r.percentile(50) for r in runs]), _median([r.percentile(99) for r in runs])
        form50 = _median([percentile(r.forms, 50) * 1000 for r in runs])
        form99 = _median([percentile(r.forms, 99) * 1000 for r in runs])
        cpu = f"{_median([r.app_cpu_ms for r in runs]):.2f} + {_median([r.slack_cpu_ms for r in runs]):.2f}"
        print(
            f"{load.label:>11} | {name:<10} | {p50:7.1f} | {p99:7.1f} | {form50:8.1f} | {form99:8.1f} "
            f"| {cpu:>22} | {acked:>9} | {forms:>9}"
        )
    bare = results["bare Bolt"]
    ok = all(r.failures == 0 for runs in results.values() for r in runs)
    for name in (n for n in results if n != "bare Bolt"):
        ratios = [bot.percentile(99) / base.percentile(99) for bot, base in zip(results[name], bare, strict=True)]
        median = _median(ratios)
        ok = ok and median <= TARGET
        each = ", ".join(f"{r:.2f}" for r in ratios)
        verdict = "OK" if median <= TARGET else "OVER TARGET"
        print(f"{'':>11}   p99 ratio {name}/bare = {median:.2f} (runs: {each}) -> {verdict}")
    return ok


if __name__ == "__main__":
    main()
