"""Ack latency of `/triage`: the bot versus a bare Bolt app, both under gunicorn, Web API on the emulator.

    .venv/bin/python benchmarks/ack_latency.py [--requests 300] [--database-url postgresql://...] [--oauth]

Each app talks to its own emulator process, and the load comes from a third process, so neither the
stand-in for Slack nor the load generator competes with what is measured. Prints p50/p99 per
concurrency (1, 8, 32) for both apps, and whether the bot's p99 is within 1.5x of the bare app's.
With `--oauth` a third app is measured: the bot installed through Slack OAuth (SLACK_CLIENT_ID/SECRET, the
workspace's token found in the installation store on every request).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import Queue
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database  # noqa: E402
from bot.sandbox.emulator import SlackEmulator  # noqa: E402
from bot.sandbox.platform import SlackPlatform, sign_request  # noqa: E402

SECRET = "bench-secret"
CLIENT_ID = "4242.1717"
CONCURRENCY = (1, 8, 32)
WARMUP = 40
BIN = Path(sys.executable).parent
FORK = multiprocessing.get_context("fork")


@dataclass
class Result:
    latencies: list[float]
    failures: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


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
def app_server(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(probe, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def _serve_forever(emulator: SlackEmulator, port: int) -> None:
    emulator.serve(port=port)
    while True:
        time.sleep(3600)


@contextmanager
def emulator_process(emulator: SlackEmulator, port: int) -> Iterator[str]:
    """Serve a copy of the emulator (with every trigger minted so far) in its own process."""
    process = FORK.Process(target=_serve_forever, args=(emulator, port), daemon=True)
    process.start()
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/api.test")
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        process.kill()
        process.join()


def send_signed(url: str, body: str) -> float | None:
    """POST one slash command signed as Slack signs it; the seconds until the ack, None if not acknowledged."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign_request(SECRET, timestamp, body),
    }
    started = time.perf_counter()
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None


def _load(url: str, bodies: list[str], concurrency: int, results: Queue[list[float | None]]) -> None:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results.put(list(pool.map(lambda body: send_signed(url, body), bodies)))


def drive(url: str, bodies: list[str], concurrency: int) -> Result:
    """Send the bodies from a separate process, `concurrency` at a time."""
    results: Queue[list[float | None]] = FORK.Queue()
    process = FORK.Process(target=_load, args=(url, bodies, concurrency, results))
    process.start()
    outcomes = results.get(timeout=600)
    process.join()
    latencies = [o for o in outcomes if o is not None]
    return Result(latencies, failures=len(outcomes) - len(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per app per concurrency level")
    default_db = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-url", default=default_db, help="admin URL of a PostgreSQL server")
    parser.add_argument("--oauth", action="store_true", help="also measure the bot with OAuth installs")
    args = parser.parse_args()

    emulator = SlackEmulator(trigger_ttl_seconds=3600)
    users = [emulator.add_user(f"UB{n:03d}", f"bench{n}")["id"] for n in range(64)]
    emulator.add_channel("bench", id="CBENCH", members=users)
    emulator.base_url = "http://127.0.0.1:9"  # response URLs are never used by /triage
    platform = SlackPlatform(emulator, "unused", SECRET)
    apps = ("bare Bolt", "triage-bot", *(("bot OAuth",) if args.oauth else ()))
    batches = {
        (app, level): [
            urlencode(platform.slash_command_fields(users[n % len(users)], "CBENCH"))
            for n in range(WARMUP if level == 0 else args.requests)
        ]
        for app in apps
        for level in (0, *CONCURRENCY)
    }
    admin_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    bot_port, bare_port, oauth_port = free_port(), free_port(), free_port()
    with (
        scratch_database(admin_url, "ack_bench") as db_url,
        emulator_process(emulator, free_port()) as bot_api,
        emulator_process(emulator, free_port()) as bare_api,
        contextlib.ExitStack() as oauth_parts,
    ):
        base_env = {**os.environ, "SLACK_BOT_TOKEN": emulator.bot_token, "SLACK_SIGNING_SECRET": SECRET}
        base_env["LOG_LEVEL"] = "WARNING"
        bot_env = {**base_env, "SLACK_API_URL": bot_api, "DATABASE_URL": db_url, "PORT": str(bot_port)}
        bot_env["WEB_THREADS"] = "32"
        bare_env = {**base_env, "SLACK_API_URL": bare_api}
        bot_cmd = [str(BIN / "triage-bot"), "run", "--host", "127.0.0.1"]
        bare_cmd = [str(BIN / "gunicorn"), "benchmarks.bare_bolt_app:api", "-b", f"127.0.0.1:{bare_port}"]
        bare_cmd += ["-k", "gthread", "--threads", "32", "--log-level", "warning"]
        if args.oauth:
            oauth_db_url = oauth_parts.enter_context(scratch_database(admin_url, "ack_oauth_bench"))
            oauth_api = oauth_parts.enter_context(emulator_process(emulator, free_port()))
            oauth_env = {**bot_env, "SLACK_API_URL": oauth_api, "DATABASE_URL": oauth_db_url, "PORT": str(oauth_port)}
            del oauth_env["SLACK_BOT_TOKEN"]
            oauth_env.update(SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET="bench-client-secret")
            install(oauth_db_url, emulator)
            oauth_parts.enter_context(app_server(bot_cmd, oauth_env, f"http://127.0.0.1:{oauth_port}/healthz"))
        urls = {
            "bare Bolt": f"http://127.0.0.1:{bare_port}/slack/events",
            "triage-bot": f"http://127.0.0.1:{bot_port}/slack/events",
            "bot OAuth": f"http://127.0.0.1:{oauth_port}/slack/events",
        }
        with (
            app_server(bot_cmd, bot_env, f"http://127.0.0.1:{bot_port}/healthz"),
            app_server(bare_cmd, bare_env, f"http://127.0.0.1:{bare_port}/"),
        ):
            for app in apps:
                drive(urls[app], batches[(app, 0)], 4)  # warm-up: imports, connection pools
            verdicts = [
                report_level(level, {app: drive(urls[app], batches[(app, level)], level) for app in apps})
                for level in CONCURRENCY
            ]
    sys.exit(0 if all(verdicts) else 1)


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


def report_level(concurrency: int, results: dict[str, Result]) -> bool:
    if concurrency == CONCURRENCY[0]:
        print(f"{'concurrency':>11} | {'app':<10} | {'p50 ms':>7} | {'p99 ms':>7} | {'acked':>9}")
    for name, result in results.items():
        acked = f"{len(result.latencies)}/{len(result.latencies) + result.failures}"
        p50, p99 = result.percentile(50), result.percentile(99)
        print(f"{concurrency:>11} | {name:<10} | {p50:7.1f} | {p99:7.1f} | {acked:>9}")
    ratio = results["triage-bot"].percentile(99) / results["bare Bolt"].percentile(99)
    ok = ratio <= 1.5 and all(r.failures == 0 for r in results.values())
    print(f"{'':>11}   p99 ratio bot/bare = {ratio:.2f} -> {'OK' if ok else 'OVER TARGET'}")
    if "bot OAuth" in results:
        oauth_ratio = results["bot OAuth"].percentile(99) / results["bare Bolt"].percentile(99)
        print(f"{'':>11}   p99 ratio bot OAuth/bare = {oauth_ratio:.2f}")
    return ok


if __name__ == "__main__":
    main()
