"""Secrets never reach a log line: known token shapes, credentials in URLs and headers, and registered values."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    from bot.config import Settings

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter values would blank out ordinary words; real secrets are far longer

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens: bot/user/app-level/refresh (`xoxb-…`, `xoxp-…`, `xoxe.xoxp-…`, `xapp-…`); the kind stays readable.
    (re.compile(r"\b((?:xoxe\.)?xox[a-z]|xapp)-[A-Za-z0-9-]+"), rf"\1-{REDACTED}"),
    # `Authorization: Bearer …`, `'Authorization': 'Basic …'`, `authorization=…`
    (
        re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s\"',;}]+"),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # Passwords in URLs: `postgresql+psycopg://user:secret@host/db`
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s\"']+:)[^@\s\"'/]+(@)"), rf"\1{REDACTED}\2"),
    # `password=…`, `"api_token": "…"`, `SLACK_SIGNING_SECRET=…` in text, reprs, libpq strings and JSON
    (
        re.compile(
            r"(?i)\b(\w*(?:password|passwd|pwd|secret|token|api_key|apikey)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[REDACTED\])[^\s\"',;&}]+"
        ),
        rf"\1{REDACTED}",
    ),
)


class Redactor:
    """Replaces secrets in text: registered values (exact) first, then the known shapes."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def register(self, *values: str | None) -> None:
        """Remember secret values (settings, tokens) so they are blanked wherever they appear."""
        fresh = {v.strip() for v in values if v and len(v.strip()) >= MIN_SECRET_LENGTH}
        with self._lock:
            merged = set(self._secrets) | fresh
            self._secrets = tuple(sorted(merged, key=len, reverse=True))  # longest first: no partial leftovers

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


_redactor = Redactor()


def redact(text: str) -> str:
    """`text` without any secret the bot knows of or recognises."""
    return _redactor.redact(text)


def register_secrets(values: Iterable[str | None]) -> None:
    _redactor.register(*values)


def register_settings_secrets(settings: Settings) -> None:
    """Every secret setting (tokens, signing secret, Jira token, hook secret, database password)."""
    secrets = [settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token]
    secrets += [settings.jira_api_token, settings.deploy_hook_secret]
    register_secrets([s.get_secret_value() for s in secrets if s is not None] + [_password_of(settings.database_url)])


def _password_of(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments, traceback and stack before its handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite the record in place: its message (arguments merged in), traceback and stack, redacted."""
    record.msg, record.args = redact(message_of(record)), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install_redacting_record_factory() -> None:
    """Redact every log record as it is created, so that no handler -- ours, a library's, a test's -- sees a secret.

    The handler's `RedactingFilter` stays as a second line for records built outside the factory.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        redact_record(record)
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def message_of(record: logging.LogRecord) -> str:
    """The formatted message; a record whose arguments do not fit its format is kept, not raised."""
    try:
        return record.getMessage()
    except Exception:  # a logging call must never fail the code that made it
        return f"{record.msg} (log arguments did not match the format)"
