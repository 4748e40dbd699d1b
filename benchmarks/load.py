"""Mixed load on two replicas: slash commands, modal submissions and button clicks at 50 requests/s for 60 s.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--rate 50] [--replicas 2] [--warmup 5] [--think 1.0]
        [--workers N] [--threads N] [--log-level INFO] [--env NAME=VALUE ...] [--profile]
        [--database-url postgresql://...]

Creates a scratch PostgreSQL database and migrates it, serves the Slack emulator from its own process (the
driver reaches it through a multiprocessing proxy: triggers, response URLs, the modals the bot opened), and
starts `--replicas` `triage-bot run` processes (gunicorn gthread, production settings) on their own ports, all
on that database with their Web API on the emulator. Then it sends the workload of `benchmarks/workload.py`
from this process as signed HTTP requests on a fixed open-loop schedule, `--rate` requests/s, round-robin over
the replicas like a load balancer: `/triage` and the new-incident form submitted (each submission opens an
incident: root message and thread replies through the outbox), `/triage list`, `/triage show INC-n`, and on root
messages Acknowledge, Log a step (form + submission) and Status / severity (form + submission). The first
`--warmup` seconds are sent but not counted.

Prints ack latency p50/p99/max per request type and overall, errors (non-200, no answer, answered after 3 s, a
form that never opened), incidents created per second, whether every accepted submission stored exactly one
incident whose root message (and environment and on-call replies) reached the emulator, the RSS of each replica
(gunicorn master + workers, from /proc, sampled every second; the maximum), and an OK/MISSED line per target:
zero errors, p99 ack under 300 ms, under 200 MB RSS per replica. Also the CPU seconds the replicas, PostgreSQL's
backends, the emulator and the driver used, and the replicas' own timing of each answer (their INFO log line
"Slack ... answered ... in ... ms"), next to the client's view. `--env` adds to the replicas' environment (e.g.
`PYTHONPATH=/tmp/patched` to measure a change before making it); `--profile` runs their workers under cProfile (CPU
time, every thread) and counts their SQL statements, and prints where the CPU went. The database is dropped at the
end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.checkins import cpu_seconds, shorten  # noqa: E402
from benchmarks.scratch import migrated_scratch_database, percentile, plain, run_benchmark, say  # noqa: E402
from benchmarks.workload import (  # noqa: E402
    CHANNEL,
    Driver,
    EmulatorHandle,
    Replica,
    Verification,
    error_counts,
    free_port,
    new_workspace,
    replica_env,
    replicas,
    summarize,
    table,
    verify,
    wait_for_outbox,
)
from bot.sandbox.emulator import SlackEmulator  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "load-secret"
TARGET_P99_MS = 300.0
TARGET_RSS_MB = 200.0
FORK = get_context("fork")
ANSWERED = re.compile(r"Slack (\S+) answered (\d+) in ([\d.]+) ms")


# --- the emulator in its own process ------------------------------------------------------------------------

_SERVED: SlackEmulator | None = None  # set before the fork; the manager process serves this one


def _served() -> SlackEmulator:
    assert _SERVED is not None
    return _SERVED


def _serve_http(port: int) -> None:
    _served().serve(port=port)


class EmulatorManager(BaseManager):
    pass


EmulatorManager.register("emulator", callable=_served)


@contextmanager
def emulator_process(emulator: SlackEmulator, port: int) -> Iterator[tuple[EmulatorHandle, int]]:
    """The emulator's Web API on `port`, served by its own process; a proxy to it, and that process's pid."""
    global _SERVED
    _SERVED = emulator
    emulator.base_url = f"http://127.0.0.1:{port}"  # response URLs minted in there point at it
    manager = EmulatorManager(address=("127.0.0.1", 0), authkey=secrets.token_bytes(16), ctx=FORK)
    manager.start(initializer=_serve_http, initargs=(port,))
    try:
        proxy: Any = manager.emulator()  # type: ignore[attr-defined]
        process = getattr(manager, "_process", None)
        yield proxy, int(process.pid) if process is not None else 0
    finally:
        manager.shutdown()


# --- memory and CPU from /proc ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


@dataclass
class Footprint:
    """One replica's process tree as sampled: RSS and PSS in KiB (max over samples), CPU ticks per pid."""

    pid: int
    max_rss_kib: int = 0
    max_pss_kib: int = 0
    processes: int = 0
    cpu_ticks: dict[int, int] = field(default_factory=dict)
    cpu_at_start: float = 0.0

    def sample(self) -> None:
        tree = [self.pid, *_children(self.pid)]
        rss = sum(_kib(Path(f"/proc/{p}/status"), "VmRSS:") for p in tree)
        pss = sum(_kib(Path(f"/proc/{p}/smaps_rollup"), "Pss:") for p in tree)
        self.max_rss_kib, self.max_pss_kib = max(self.max_rss_kib, rss), max(self.max_pss_kib, pss)
        self.processes = max(self.processes, len(tree))
        for p in tree:
            self.cpu_ticks[p] = max(self.cpu_ticks.get(p, 0), _cpu_ticks(p))

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


class Backends:
    """The PostgreSQL server processes serving the database (from pg_stat_activity; a local server), for their CPU."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cpu_ticks: dict[int, int] = {}
        self.cpu_at_start = 0.0

    def sample(self) -> None:
        with psycopg.connect(plain(self.url), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        for (pid,) in rows:
            self.cpu_ticks[pid] = max(self.cpu_ticks.get(pid, 0), _cpu_ticks(pid))

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Samples every replica's (and the emulator's, and PostgreSQL's) footprint every `interval` s until stopped."""

    def __init__(self, footprints: Sequence[Footprint | Backends], interval: float = 1.0) -> None:
        super().__init__(name="load-memory-sampler", daemon=True)
        self.footprints, self.interval = footprints, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while True:
            for footprint in self.footprints:
                footprint.sample()
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        for footprint in self.footprints:
            footprint.sample()


@dataclass(frozen=True)
class Usage:
    """CPU seconds while the workload ran (and the outbox drained), by who used them."""

    busy_cores: float
    replicas: list[float]
    database: float
    emulator: float
    driver: float

    def line(self, requests: int) -> str:
        per_request = sum(self.replicas) / requests * 1000
        return (
            f"CPU while loaded: replicas {' + '.join(f'{s:.1f}' for s in self.replicas)} s ({per_request:.1f} ms per "
            f"request), PostgreSQL {self.database:.1f} s, emulator {self.emulator:.1f} s, load driver "
            f"{self.driver:.1f} s; the machine: {self.busy_cores:.2f} of {os.cpu_count()} cores busy on average"
        )


# --- profiling (--profile) ---------------------------------------------------------------------------------


PROFILE_DUMP_SECONDS = 2.0  # how often a profiled replica writes its numbers so far


class _Snapshot:
    """A running profiler's numbers so far, in the shape `pstats.Stats` loads (without disabling the profiler)."""

    def __init__(self, profiler: cProfile.Profile) -> None:
        profiler.snapshot_stats()
        self.stats = profiler.stats

    def create_stats(self) -> None:
        pass


def profiled_replica(argv: list[str]) -> int:
    """`triage-bot run ARGS` with every thread of each gunicorn worker under cProfile, on CPU time
    (`threading.setprofile` starts one profiler per thread), and every SQL statement counted and timed (wall) by its
    shape; the numbers are written to DIR/<pid>.pstats and DIR/<pid>.sql.json every `PROFILE_DUMP_SECONDS`. bot/ is not
    changed."""
    from sqlalchemy import Engine, event

    import bot.cli
    import bot.server

    stats_dir, run_args = Path(argv[0]), argv[1:]
    build_wsgi_app = bot.server.build_wsgi_app

    def profiled_build(settings: Any) -> Any:
        profilers: list[cProfile.Profile] = []
        sql: dict[str, list[float]] = {}  # statement shape -> [count, seconds]
        lock = threading.Lock()

        def before(conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
            conn.info.setdefault("started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
            seconds, key = time.perf_counter() - conn.info["started"].pop(), shorten(statement)
            with lock:
                tally = sql.setdefault(key, [0, 0.0])
                tally[0], tally[1] = tally[0] + 1, tally[1] + seconds

        def dump_every_2s() -> None:
            while True:
                time.sleep(PROFILE_DUMP_SECONDS)
                with lock:
                    running = list(profilers)
                    (stats_dir / f"{os.getpid()}.sql.json").write_text(json.dumps(sql))
                if running:
                    merged = pstats.Stats(_Snapshot(running[0]))  # type: ignore[arg-type]
                    for profiler in running[1:]:
                        merged.add(_Snapshot(profiler))  # type: ignore[arg-type]
                    merged.dump_stats(stats_dir / f"{os.getpid()}.pstats")

        def start_profiler(_frame: Any, _event: str, _arg: Any) -> None:
            profiler = cProfile.Profile(time.thread_time)  # CPU time: a thread waiting for the database costs none
            with lock:
                profilers.append(profiler)
            profiler.enable()

        event.listen(Engine, "before_cursor_execute", before)
        event.listen(Engine, "after_cursor_execute", after)
        threading.Thread(target=dump_every_2s, name="profile-dump", daemon=True).start()
        threading.setprofile(start_profiler)  # threads started from now on: gthread's, Bolt's listeners, APScheduler's
        return build_wsgi_app(settings)

    bot.server.build_wsgi_app = profiled_build
    sys.argv = ["triage-bot", "run", *run_args]
    bot.cli.main()
    return 0


def report_profile(stats_dir: Path, requests: int, top: int = 35) -> None:
    files = [str(f) for f in sorted(stats_dir.glob("*.pstats"))]
    if not files:
        say("no profile was written")
        return
    totals: dict[str, list[float]] = {}
    for tally in stats_dir.glob("*.sql.json"):
        for statement, (count, seconds) in json.loads(tally.read_text()).items():
            total = totals.setdefault(statement, [0, 0.0])
            total[0], total[1] = total[0] + count, total[1] + seconds
    count, seconds = sum(t[0] for t in totals.values()), sum(t[1] for t in totals.values())
    say(f"SQL: {count:,.0f} statements ({count / requests:.1f} per request), {seconds:.1f} s; the most frequent:")
    for statement, (n, spent) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:25]:
        say(f"  {n:>7,.0f}x {spent / n * 1000:6.2f} ms  {statement[:300]}")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(*files, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        say(f"--- replicas' CPU profile (every worker thread) by {order} ---\n" + out.getvalue().split("\n\n", 2)[-1])


# --- the run ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured duration")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (open loop)")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds sent first and not counted")
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds at least between a form opening and its submission"
    )
    parser.add_argument("--workers", type=int, help="WEB_CONCURRENCY of each replica (default: the bot's)")
    parser.add_argument("--threads", type=int, help="WEB_THREADS of each replica (default: the bot's)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the replicas (INFO: one line per request)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="more environment for the replicas (repeat)"
    )
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="run the replicas' workers under cProfile (slower)")
    return parser.parse_args(argv)


def progress(driver: Driver, elapsed: float) -> None:
    done = list(driver.outcomes)
    errors = sum(1 for o in done if o.error and not o.warmup)
    say(f"  {elapsed:4.0f} s: {len(done):>5,} answered, {errors} errors, {driver.incidents_known():,} incidents posted")


def bench(args: argparse.Namespace, url: str, workdir: Path) -> bool:
    emulator, workspace = new_workspace()
    port = free_port()
    with emulator_process(emulator, port) as (proxy, emulator_pid):
        env = replica_env(url, f"http://127.0.0.1:{port}/api/", emulator.bot_token, SECRET)
        env["LOG_LEVEL"] = args.log_level
        if args.workers:
            env["WEB_CONCURRENCY"] = str(args.workers)
        if args.threads:
            env["WEB_THREADS"] = str(args.threads)
        env.update(item.split("=", 1) for item in args.env)
        profiles = workdir / "profiles"
        profiles.mkdir()
        run = (sys.executable, str(Path(__file__).resolve()), "profiled-replica", str(profiles)) if args.profile else ()
        with replicas(args.replicas, env, workdir, run=run) as started:
            footprints = [Footprint(r.process.pid) for r in started]
            emulator_footprint, backends = Footprint(emulator_pid), Backends(url)
            sampler = Sampler([*footprints, emulator_footprint, backends])
            sampler.start()
            say(f"{len(started)} replicas up on :{', :'.join(str(r.port) for r in started)}; emulator on :{port}")
            driver = Driver(
                proxy, workspace, [r.url for r in started], SECRET, url, args.rate, args.seconds,
                warmup=args.warmup, think=args.think, seed=args.seed,
            )  # fmt: skip
            say(
                f"sending {driver.total:,} requests: {args.warmup:g} s warm-up, then {args.seconds:g} s measured, "
                f"at {args.rate:g}/s round-robin over {len(started)} replicas ..."
            )
            cpu_before, wall_before = cpu_seconds(), time.time()
            measured: list[Footprint | Backends] = [*footprints, emulator_footprint, backends]
            for footprint in measured:
                footprint.sample()
                footprint.cpu_at_start = footprint.cpu_s
            driver_cpu = time.process_time()
            driver.run(progress=progress)
            say("waiting for the outbox to drain ...")
            drain_started = time.monotonic()
            pending = wait_for_outbox(url, timeout=60)
            say(
                f"  drained in {time.monotonic() - drain_started:.1f} s"
                if not pending
                else f"  {pending} still pending"
            )
            sampler.stop()
            busy = (cpu_seconds()[0] - cpu_before[0]) / (time.time() - wall_before)
            used = Usage(
                busy,
                [f.cpu_s - f.cpu_at_start for f in footprints],
                backends.cpu_s - backends.cpu_at_start,
                emulator_footprint.cpu_s - emulator_footprint.cpu_at_start,
                time.process_time() - driver_cpu,
            )
            checked = verify(url, proxy, CHANNEL, driver.submitted_views, driver.accepted_views)
        ok = report(args, driver, checked, pending, footprints, used, started)
    if args.profile:
        report_profile(profiles, len(driver.outcomes))
    return ok


def report(
    args: argparse.Namespace,
    driver: Driver,
    checked: Verification,
    pending: int,
    footprints: list[Footprint],
    used: Usage,
    started: list[Replica],
) -> bool:
    outcomes = driver.outcomes
    measured = [o for o in outcomes if not o.warmup]
    warm = [o for o in outcomes if o.warmup]
    say("")
    for line in table(summarize(measured)):
        say(line)
    errors = error_counts(measured)
    total_errors = sum(errors.values())
    say(f"errors: {total_errors}" + "".join(f"\n  {n:>5}x {what}" for what, n in sorted(errors.items())))
    refused = [o for o in measured if o.refused]
    if refused:
        example = f"{refused[0].kind.value}: {refused[0].refused}"
        say(f"refused (a 200 with field errors, or a command without its answer): {len(refused)}, e.g. {example}")
    if driver.stand_ins:
        stood = ", ".join(f"{n} {kind.value}" for kind, n in driver.stand_ins.most_common())
        say(f"sent as /triage list because there was nothing to act on yet (mostly at the start): {stood}")
    lags = [o.send_lag * 1000 for o in measured]
    say(f"driver: sent on schedule within p99 {percentile(lags, 99):.1f} ms, max {max(lags, default=0):.1f} ms")
    if warm:
        warm_ms = [o.latency * 1000 for o in warm if o.latency is not None]
        warm_errors = sum(1 for o in warm if o.error)
        say(f"warm-up (not counted): {len(warm)} requests, {warm_errors} errors, p99 {percentile(warm_ms, 99):.1f} ms")
    submitted = sum(1 for o in measured if o.kind.value == "submit new incident" and not o.error and not o.refused)
    say(f"incidents opened in the measured {args.seconds:g} s: {submitted:,} = {submitted / args.seconds:.1f}/s")
    for line in checked.lines():
        say(line)
    for n, footprint in enumerate(footprints, 1):
        say(
            f"replica {n}: max RSS {footprint.max_rss_kib / 1024:.0f} MB (PSS {footprint.max_pss_kib / 1024:.0f} MB) "
            f"over {footprint.processes} processes (gunicorn master + workers)"
        )
    say(used.line(len(outcomes)))
    server_side(started)
    all_ms = [o.latency * 1000 for o in measured if o.latency is not None]
    p99 = percentile(all_ms, 99)
    max_rss = max(f.max_rss_kib for f in footprints) / 1024
    exactly_once = "yes" if checked.ok and pending == 0 else "NO"
    verdicts = [
        (
            total_errors == 0 and exactly_once == "yes",
            f"errors: {total_errors}; every submission stored one incident and posted its root message: "
            f"{exactly_once} (target: zero errors)",
        ),
        (p99 < TARGET_P99_MS, f"p99 ack {p99:.1f} ms at {args.rate:g} requests/s (target: under {TARGET_P99_MS:g} ms)"),
        (max_rss < TARGET_RSS_MB, f"memory per replica: max {max_rss:.0f} MB RSS (target: under {TARGET_RSS_MB:g} MB)"),
    ]
    say("")
    for ok, line in verdicts:
        say(f"{'OK    ' if ok else 'MISSED'} {line}")
    return all(ok for ok, _ in verdicts)


def server_side(started: list[Replica]) -> None:
    """The replicas' own timing of each answer (Bolt's handling, without the network and gunicorn's queue)."""
    timings: dict[str, list[float]] = {}
    for replica in started:
        for found in ANSWERED.finditer(replica.log.read_text(errors="replace")):
            timings.setdefault(found[1], []).append(float(found[3]))
    if not timings:
        return
    say("inside the replicas (their log, warm-up included):")
    for name, values in sorted(timings.items()):
        say(
            f"  {name:<22} {len(values):>6,}  p50 {percentile(values, 50):7.1f} ms  p99 {percentile(values, 99):7.1f}"
            f" ms  max {max(values):7.1f} ms"
        )


def main(argv: list[str]) -> int:
    if argv[:1] == ["profiled-replica"]:
        return profiled_replica(argv[1:])
    args = parse_args(argv)
    say("$ " + " ".join([Path(sys.executable).name, *sys.argv]))

    def run() -> bool:
        with (
            TemporaryDirectory(prefix="load-bench-") as workdir,
            migrated_scratch_database(args.database_url, "load_bench") as url,
        ):
            return bench(args, url, Path(workdir))

    return run_benchmark(run)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
