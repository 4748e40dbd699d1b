"""`triage-bot run` as a newcomer starts it: a real process, gunicorn, the emulator as Slack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.platform import SlackPlatform

BIN = Path(sys.executable).parent / "triage-bot"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "JIRA_", "ONCALL_"))}
    env.update(extra)
    return env


def test_without_credentials_run_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN), "run"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set" in lines[0] and "slack-app-manifest.yaml" in lines[0]


def test_a_malformed_setting_is_named(tmp_path: Path) -> None:
    env = _clean_env(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", PORT="eighty")
    result = subprocess.run([str(BIN), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "Invalid setting PORT" in result.stderr


def test_run_serves_slack_and_health_on_the_embedded_default_database(tmp_path: Path) -> None:
    emulator = SlackEmulator()
    emulator.add_user("UAGENT", "agent")
    emulator.add_channel("support", id="CSUPPORT", members=["UAGENT"])
    port = _free_port()
    with emulator.serve() as api:
        env = _clean_env(
            SLACK_BOT_TOKEN=emulator.bot_token,
            SLACK_SIGNING_SECRET="run-secret",
            SLACK_API_URL=f"{api.url}/api/",
            PORT=str(port),
        )
        process = subprocess.Popen(
            [str(BIN), "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            health = _wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
            assert health == b'{"status": "ok", "database": "ok"}'
            assert (tmp_path / "triage-bot.db").exists(), "SQLite file in the working directory, migrated on start"
            platform = SlackPlatform(emulator, f"http://127.0.0.1:{port}/slack/events", "run-secret")
            assert platform.slash_command("UAGENT", "CSUPPORT").status == 200
            modal = emulator.wait_for(lambda: emulator.current_modal("UAGENT"))
            assert modal["title"]["text"] == "New incident"
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_for_health(url: str, process: subprocess.Popen[str]) -> bytes:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"triage-bot run exited: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("triage-bot run did not answer /healthz within 30 s")


def test_run_with_oauth_installs_serves_the_install_page_without_a_bot_token(tmp_path: Path) -> None:
    port = _free_port()
    env = _clean_env(
        SLACK_CLIENT_ID="4242.1717",
        SLACK_CLIENT_SECRET="oauth-secret",
        SLACK_SIGNING_SECRET="run-secret",
        SLACK_API_URL="http://127.0.0.1:9/api/",  # nothing is asked of Slack until someone installs
        PORT=str(port),
    )
    process = subprocess.Popen(
        [str(BIN), "run", "--host", "127.0.0.1"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/slack/install", timeout=10) as response:
            page = response.read().decode()
            cookie = response.headers["Set-Cookie"]
        assert "https://slack.com/oauth/v2/authorize?state=" in page and "client_id=4242.1717" in page
        assert cookie.startswith("slack-app-oauth-state=")
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_oauth_installs_and_socket_mode_are_refused_together(tmp_path: Path) -> None:
    env = _clean_env(
        SLACK_CLIENT_ID="4242.1717", SLACK_CLIENT_SECRET="s", SLACK_SIGNING_SECRET="s", SLACK_APP_TOKEN="xapp-1"
    )
    result = subprocess.run([str(BIN), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "OAuth installs (SLACK_CLIENT_ID) need HTTP mode for /slack/install: unset SLACK_APP_TOKEN." in result.stderr
