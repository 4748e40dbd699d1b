"""Ack latency of `/triage`: the bot versus a bare Bolt app, both under gunicorn, Web API on the emulator.

    .venv/bin/python benchmarks/ack_latency.py [--requests 300] [--database-url postgresql://...]

Prints p50/p99 per concurrency (1, 8, 32) for both apps and whether the bot's p99 is within 1.5x of the bare app's.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.sandbox.emulator import SlackEmulator  # noqa: E402
from bot.sandbox.platform import SlackPlatform  # noqa: E402

SECRET = "bench-secret"
CONCURRENCY = (1, 8, 32)
BIN = Path(sys.executable).parent


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


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
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
def server(cmd: list[str], env: dict[str, str], probe: str) -> Iterator[None]:
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(probe, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rpartition("/")[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drive(platform: SlackPlatform, users: list[str], concurrency: int, requests: int) -> Result:
    def one(n: int) -> float | None:
        started = time.perf_counter()
        response = platform.slash_command(users[n % len(users)], "CBENCH")
        return time.perf_counter() - started if response.status == 200 else None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, range(requests)))
    latencies = [o for o in outcomes if o is not None]
    return Result(latencies, failures=len(outcomes) - len(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per app per concurrency level")
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()

    emulator = SlackEmulator()
    users = [emulator.add_user(f"UB{n:03d}", f"bench{n}")["id"] for n in range(64)]
    emulator.add_channel("bench", id="CBENCH", members=users)
    with (
        emulator.serve() as api,
        scratch_database(args.database_url.replace("postgresql+psycopg://", "postgresql://")) as db_url,
    ):
        base_env = {
            **os.environ,
            "SLACK_BOT_TOKEN": emulator.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{api.url}/api/",
            "LOG_LEVEL": "WARNING",
        }
        bot_port, bare_port = free_port(), free_port()
        bot_env = {**base_env, "DATABASE_URL": db_url, "PORT": str(bot_port), "WEB_THREADS": "32"}
        bot_cmd = [str(BIN / "triage-bot"), "run", "--host", "127.0.0.1"]
        bare_cmd = [
            str(BIN / "gunicorn"),
            "benchmarks.bare_bolt_app:api",
            "-b",
            f"127.0.0.1:{bare_port}",
            "-k",
            "gthread",
            "--threads",
            "32",
            "--log-level",
            "warning",
        ]
        with (
            server(bot_cmd, bot_env, f"http://127.0.0.1:{bot_port}/healthz"),
            server(bare_cmd, base_env, f"http://127.0.0.1:{bare_port}/"),
        ):
            apps = {
                "bare Bolt": SlackPlatform(emulator, f"http://127.0.0.1:{bare_port}/slack/events", SECRET),
                "triage-bot": SlackPlatform(emulator, f"http://127.0.0.1:{bot_port}/slack/events", SECRET),
            }
            for platform in apps.values():
                drive(platform, users, 4, 40)  # warm-up: imports, connection pools
            print(f"{'concurrency':>11} | {'app':<10} | {'p50 ms':>7} | {'p99 ms':>7} | {'acked':>9}")
            verdicts = []
            for concurrency in CONCURRENCY:
                results = {name: drive(p, users, concurrency, args.requests) for name, p in apps.items()}
                for name, result in results.items():
                    acked = f"{len(result.latencies)}/{args.requests}"
                    p50, p99 = result.percentile(50), result.percentile(99)
                    print(f"{concurrency:>11} | {name:<10} | {p50:7.1f} | {p99:7.1f} | {acked:>9}")
                ratio = results["triage-bot"].percentile(99) / results["bare Bolt"].percentile(99)
                ok = ratio <= 1.5 and all(r.failures == 0 for r in results.values())
                verdicts.append(ok)
                print(f"{'':>11}   p99 ratio bot/bare = {ratio:.2f} -> {'OK' if ok else 'OVER TARGET'}")
    print("median of all bot latencies: %.1f ms" % (statistics.median(results["triage-bot"].latencies) * 1000))
    sys.exit(0 if all(verdicts) else 1)


if __name__ == "__main__":
    main()
