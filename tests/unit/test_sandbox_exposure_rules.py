"""The sandbox's rules for who may reach it and which database it takes (see `bot.sandbox.web`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.demo import SANDBOX_DATABASE_URL
from bot.sandbox.web.hosts import allowed_host, exposure_warning
from bot.sandbox.web.runtime import SandboxError, sandbox_database_url


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "LocalHost:8080", "[::1]:8080", "192.168.1.20:8080", "demo.lan:8080"]
)
def test_ip_addresses_localhost_and_the_given_name_with_the_port_are_served(host: str) -> None:
    assert allowed_host(host, bound_host="demo.lan", port=8080)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "rebind.attacker.example:8080",  # a name that resolved to 127.0.0.1 a moment ago
        "127.0.0.1:8081",
        "127.0.0.1",  # the port is part of the origin
        "localhost.:8080",
        "user@127.0.0.1:8080",
        "127.0.0.1:8080/path",
        "127.0.0.1:99999",
        "lоcalhost:8080",  # noqa: RUF001 - a Cyrillic o
        "localhost:8080 x",
    ],
)
def test_any_other_host_is_refused(host: str | None) -> None:
    assert not allowed_host(host, bound_host="127.0.0.1", port=8080)


def test_port_80_may_be_left_out() -> None:
    assert allowed_host("localhost", bound_host="127.0.0.1", port=80)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_needs_no_warning(host: str) -> None:
    assert exposure_warning(host) is None


@pytest.mark.parametrize(
    ("host", "reach"),
    [("0.0.0.0", "anyone on your network"), ("::", "anyone on your network"), ("10.1.2.3", "10.1.2.3")],
)
def test_listening_beyond_this_machine_is_warned_about(host: str, reach: str) -> None:
    warning = exposure_warning(host)
    assert warning is not None and reach in warning and "never use it with real data" in warning


@pytest.fixture
def clean_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def test_without_anything_set_the_sandbox_uses_its_own_database(clean_directory: Path) -> None:
    assert sandbox_database_url() == SANDBOX_DATABASE_URL


def test_its_own_database_named_in_the_environment_is_fine(
    clean_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", SANDBOX_DATABASE_URL)
    assert sandbox_database_url() == SANDBOX_DATABASE_URL


def test_a_configured_database_is_refused_without_its_password(
    clean_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://triage:s3cr3t@db.internal/triage")
    with pytest.raises(SandboxError) as raised:
        sandbox_database_url()
    message = str(raised.value)
    assert "postgresql+psycopg://triage@db.internal/triage" in message and "s3cr3t" not in message
    assert "\n" not in message


def test_an_explicit_database_needs_the_confirmation(clean_directory: Path) -> None:
    with pytest.raises(SandboxError, match="--database-url needs --not-production"):
        sandbox_database_url("sqlite:///demo.db")
    assert sandbox_database_url("sqlite:///demo.db", not_production=True) == "sqlite:///demo.db"
    assert sandbox_database_url("postgresql://u@h/demo", not_production=True) == "postgresql+psycopg://u@h/demo"
