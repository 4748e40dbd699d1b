"""Finding 9: the sandbox never touches a database it was not explicitly given, answers only requests addressed
to it (DNS rebinding), and warns when it listens beyond this machine."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.demo import AGENT, SUPPORT
from bot.sandbox.web.runtime import RunningSandbox, start_sandbox
from tests.e2e.test_run_command import BIN, _free_port

REBOUND = "rebind.attacker.example"


def sandbox_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def precious_database(path: Path) -> list[tuple[str, int]]:
    """A database with something real in it; returns its contents to compare with afterwards."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS payroll (name TEXT, salary INTEGER)")
        connection.execute("INSERT INTO payroll VALUES ('Ada', 100)")
    return contents(path)


def contents(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert tables == ["payroll"], f"the sandbox created tables in a database it was not given: {tables}"
        return list(connection.execute("SELECT name, salary FROM payroll"))


def run_sandbox_command(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "sandbox", "--port", str(_free_port()), *args],
        cwd=cwd,
        env=env or sandbox_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_database_url_from_the_environment_or_dotenv_is_refused(tmp_path: Path, where: str) -> None:
    before = precious_database(tmp_path / "precious.db")
    url = f"sqlite:///{tmp_path / 'precious.db'}"
    if where == ".env":
        (tmp_path / ".env").write_text(f"DATABASE_URL={url}\n")
        env = sandbox_env()
    else:
        env = sandbox_env(DATABASE_URL=url)

    result = run_sandbox_command(tmp_path, env=env)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "DATABASE_URL is set" in result.stderr and "--database-url URL --not-production" in result.stderr
    assert contents(tmp_path / "precious.db") == before
    assert not (tmp_path / "sandbox.db").exists()


def test_another_database_needs_the_explicit_confirmation(tmp_path: Path) -> None:
    before = precious_database(tmp_path / "precious.db")

    result = run_sandbox_command(tmp_path, "--database-url", f"sqlite:///{tmp_path / 'precious.db'}")

    assert result.returncode == 2
    assert "--database-url needs --not-production" in result.stderr
    assert contents(tmp_path / "precious.db") == before


def test_listening_on_every_interface_prints_a_warning_first(tmp_path: Path) -> None:
    """(Stopped by the unconfirmed database before it binds anything: the warning comes first.)"""
    result = run_sandbox_command(tmp_path, "--host", "0.0.0.0", "--database-url", "sqlite:///elsewhere.db")

    assert "warning: --host 0.0.0.0 makes the sandbox reachable by anyone on your network" in result.stdout
    assert "never use it with real data" in result.stdout
    assert result.returncode == 2


# ------------------------------------------------------------------------------------------ Host header


def wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"triage-bot sandbox exited early: {process.communicate()}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"triage-bot sandbox did not serve {url} within 30 s")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    running = start_sandbox(port=0, database_url=f"sqlite:///{tmp_path / 'sandbox.db'}")
    yield running
    running.stop()


def request(url: str, host: str, data: dict[str, str] | None = None) -> int:
    body = json.dumps(data).encode() if data is not None else None
    headers = {"Host": host, **({"Content-Type": "application/json"} if body is not None else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def test_a_rebound_host_name_is_refused_and_does_nothing(sandbox: RunningSandbox) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    compose = {"user": AGENT.id, "channel": SUPPORT.id, "text": "/triage help"}

    assert request(f"{sandbox.url}/", f"{REBOUND}:{port}") == 403
    assert request(f"{sandbox.url}/api/state?user={AGENT.id}&c={SUPPORT.id}", f"{REBOUND}:{port}") == 403
    assert request(f"{sandbox.url}/api/compose", f"{REBOUND}:{port}", compose) == 403
    assert request(f"{sandbox.url}/", f"127.0.0.1:{int(port) + 1}") == 403, "another port is another origin"

    assert sandbox.emulator.ephemerals(SUPPORT.id, AGENT.id) == [], "the rebound /triage help was never run"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_the_sandboxs_own_addresses_are_served(sandbox: RunningSandbox, host: str) -> None:
    port = sandbox.url.rsplit(":", 1)[1]
    assert request(f"{sandbox.url}/", f"{host}:{port}") == 200


def test_an_explicitly_given_database_is_used_and_the_host_check_is_on(tmp_path: Path) -> None:
    """`triage-bot sandbox --database-url URL --not-production` as a process: it serves, from that database."""
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN), "sandbox", "--port", str(port), "--database-url", "sqlite:///demo.db", "--not-production"],
        cwd=tmp_path,
        env=sandbox_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process)
        assert request(f"{url}/", f"{REBOUND}:{port}") == 403
        assert request(f"{url}/", f"127.0.0.1:{port}") == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "database: sqlite:///demo.db" in out and "warning" not in out
    assert (tmp_path / "demo.db").exists() and not (tmp_path / "sandbox.db").exists()
