"""Log records as one JSON object per line (or one text line), with the request context, never with a secret.

Every record is redacted when it is created (message, arguments, traceback, stack), whichever handler gets it;
the handler installed by `setup_logging` redacts again (`RedactingFilter`), adds the context (`ContextFilter`:
correlation id, Slack request type, incident key), then formats the record.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bot.observability.context import current_incident, current_scope, incident_key_in
from bot.observability.redaction import RedactingFilter, install_redacting_record_factory, message_of, redact

LogFormat = Literal["auto", "json", "text"]
CONTEXT_FIELDS = ("correlation_id", "request_type", "incident")
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SCHEDULER_TICKS_LOGGER = "apscheduler.executors.default"
QUIET_BELOW_DEBUG = (SCHEDULER_TICKS_LOGGER, "alembic.runtime.plugins")
SLACK_SDK_CALLS = "slack_sdk.web.base_client"  # slack_sdk's WebClient logs every call here


class ContextFilter(logging.Filter):
    """Adds what is being handled to the record: the request's correlation id and type, and the incident.

    The incident is the one bound to the work (a timer's, a button's) or, failing that, the first INC-n in the
    message. Values passed with `extra=` win.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        scope = current_scope()
        if scope is not None:
            _set_default(record, "correlation_id", scope.correlation_id)
            _set_default(record, "request_type", scope.request_type)
        _set_default(record, "incident", current_incident() or incident_key_in(message_of(record)))
        return True


def _set_default(record: logging.LogRecord, name: str, value: str | None) -> None:
    if value and not getattr(record, name, None):
        setattr(record, name, value)


class JsonFormatter(logging.Formatter):
    """`{"timestamp": …, "level": …, "logger": …, "message": …, "correlation_id": …, …}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None):
                entry[name] = getattr(record, name)
        entry.update(_extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps({key: _redacted(value) for key, value in entry.items()}, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, followed by the context in brackets: `… [corr=3f9c… slash_command INC-7]`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"corr={value}" if name == "correlation_id" else str(value)
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None))
        )
        if context:
            head, newline, rest = line.partition("\n")
            line = f"{head} [{context}]{newline}{rest}"
        return redact(line)


class BotLogHandler(logging.StreamHandler[TextIO]):
    """The handler `setup_logging` installs (so setting up again replaces it rather than adding another)."""


def setup_logging(*, level: str = "INFO", log_format: str = "auto", stream: TextIO | None = None) -> BotLogHandler:
    """Route every log record (the bot's, Bolt's, gunicorn's) through one redacting, context-aware handler.

    `log_format` is `json`, `text`, or `auto` (text when the stream is a terminal, JSON otherwise). An unknown
    level or format falls back to INFO / auto: settings validation reports it, logging must not fail first.
    """
    stream = stream or sys.stderr
    install_redacting_record_factory()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, BotLogHandler)]:
        root.removeHandler(handler)
    handler = BotLogHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if resolve_format(log_format, stream) == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level_of(level))
    # APScheduler reports every tick (each second, per worker) and Alembic each plugin it loads, at INFO: only
    # worth a line when debugging.
    for chatty in QUIET_BELOW_DEBUG:
        logging.getLogger(chatty).setLevel(logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING)
    # slack_sdk formats a debug line with the whole payload of every Web API call (for the new-incident form,
    # ~0.1 ms of CPU) unless its logger's own level, not the effective one, is above DEBUG: it gets the root's.
    logging.getLogger(SLACK_SDK_CALLS).setLevel(root.level)
    return handler


def resolve_format(log_format: str, stream: TextIO) -> Literal["json", "text"]:
    if log_format in ("json", "text"):
        return "json" if log_format == "json" else "text"
    return "text" if _is_terminal(stream) else "json"


def level_of(name: str) -> int:
    level = logging.getLevelName(name.strip().upper())
    return level if isinstance(level, int) else logging.INFO


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _utc_timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """Fields passed with `extra=` (JSON values as they are, anything else as text)."""
    extras = {}
    for name, value in vars(record).items():
        if name in _RECORD_FIELDS or name in CONTEXT_FIELDS or name.startswith("_"):
            continue
        extras[name] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else repr(value)
    return extras


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(key)): _redacted(item) for key, item in value.items()}
    return value
