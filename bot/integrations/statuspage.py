"""Recent incidents from an Atlassian Statuspage-style `/api/v2/incidents.json`, fetched quickly or not at all."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.status_page import NOT_CONFIGURED, StatusPageIncident, StatusPageResult

logger = logging.getLogger(__name__)

INCIDENTS_PATH = "/api/v2/incidents.json"
MAX_RESPONSE_BYTES = 4_000_000


class StatusPageError(Exception):
    """A fetch that did not produce incidents; the message is short enough to show to a person."""


class StatusPageClient:
    """Fetches recent status-page incidents, caching successes; never raises and never waits past `timeout`."""

    def __init__(
        self,
        url: str | None,
        *,
        timeout: float = 2.0,
        cache_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = incidents_url(url) if url else None
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: StatusPageResult | None = None
        self._cached_at = 0.0

    def recent_incidents(self) -> StatusPageResult:
        if self.url is None:
            return StatusPageResult(available=False, error=NOT_CONFIGURED)
        cached = self._fresh_cached()
        if cached is not None:
            return cached
        result = self._fetch_within_timeout(self.url)
        if result.available:
            with self._lock:
                self._cached, self._cached_at = result, self._clock()
        return result

    def _fresh_cached(self) -> StatusPageResult | None:
        with self._lock:
            if self._cached is not None and self._clock() - self._cached_at < self.cache_seconds:
                return replace(self._cached, incidents=list(self._cached.incidents))
            return None

    def _fetch_within_timeout(self, url: str) -> StatusPageResult:
        """Fetch in a daemon thread so slow DNS or a trickling server cannot hold the caller past the timeout."""
        outcome: list[StatusPageResult] = []
        worker = threading.Thread(target=lambda: outcome.append(self._fetch(url)), name="statuspage-fetch", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if outcome:
            return outcome[0]
        return _unavailable(f"timed out after {self.timeout:g}s")

    def _fetch(self, url: str) -> StatusPageResult:
        try:
            incidents = parse_incidents(_get_json(url, self.timeout))
        except StatusPageError as exc:
            return _unavailable(str(exc))
        except Exception as exc:
            logger.warning("status page fetch failed unexpectedly", exc_info=True)
            return _unavailable(f"failed: {type(exc).__name__}")
        return StatusPageResult(available=True, incidents=incidents)


def incidents_url(url: str) -> str:
    """A page's base URL gets the standard incidents path; a URL already naming a `.json` file is kept."""
    stripped = url.strip()
    if stripped.endswith(".json"):
        return stripped
    return stripped.rstrip("/") + INCIDENTS_PATH


def _unavailable(error: str) -> StatusPageResult:
    return StatusPageResult(available=False, error=error)


def _get_json(url: str, timeout: float) -> Any:
    if not url.startswith(("http://", "https://")):
        raise StatusPageError("not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "triage-bot"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise StatusPageError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise StatusPageError(_reason(exc.reason)) from None
    except TimeoutError:
        raise StatusPageError(f"timed out after {timeout:g}s") from None
    except OSError as exc:
        raise StatusPageError(_reason(exc)) from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise StatusPageError("response too large")
    try:
        return json.loads(body)
    except ValueError:
        raise StatusPageError("malformed JSON") from None


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"unreachable: {reason.strerror}"
    return f"unreachable: {reason}"


def parse_incidents(document: Any) -> list[StatusPageIncident]:
    """The incidents of an `incidents.json` document; entries without a name or a start time are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("incidents"), list):
        raise StatusPageError("malformed response: no incidents list")
    parsed = (_parse_incident(entry) for entry in document["incidents"] if isinstance(entry, dict))
    return [incident for incident in parsed if incident is not None]


def _parse_incident(entry: dict[str, Any]) -> StatusPageIncident | None:
    name = entry.get("name")
    started_at = _parse_time(entry.get("started_at")) or _parse_time(entry.get("created_at"))
    if not isinstance(name, str) or not name.strip() or started_at is None:
        return None
    link = entry.get("shortlink")
    return StatusPageIncident(
        name=name.strip(),
        status=_text(entry.get("status"), "unknown"),
        impact=_text(entry.get("impact"), "none"),
        started_at=started_at,
        link=link if isinstance(link, str) and link.startswith(("http://", "https://")) else None,
    )


def _text(value: object, default: str) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else default


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
