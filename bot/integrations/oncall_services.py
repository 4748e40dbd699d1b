"""Who PagerDuty or Opsgenie says is on call: one short HTTP read each, e-mail addresses out, never a secret astray.

Each client sends its key only to its own base URL (`PAGERDUTY_API_URL`, `OPSGENIE_API_URL`), waits at most
`timeout` seconds and raises OnCallServiceError with a line fit for a person when the service can't say.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import requests

DEFAULT_TIMEOUT_SECONDS = 2.0
PAGERDUTY_ACCEPT = "application/vnd.pagerduty+json;version=2"


class OnCallServiceError(Exception):
    """The service did not say who is on call (down, slow, refused the key, or knows no such policy)."""


class OnCallService(Protocol):
    name: str

    def on_call_emails(self, reference: str) -> list[str]:
        """E-mail addresses of who is on call now, the first escalation level first."""
        ...


class PagerDutyOnCalls:
    """REST API v2 `GET /oncalls?escalation_policy_ids[]=…&include[]=users&earliest=true`."""

    name = "PagerDuty"

    def __init__(self, base_url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Token token={token}", "Accept": PAGERDUTY_ACCEPT}
        self.timeout = timeout

    def on_call_emails(self, reference: str) -> list[str]:
        params = {"escalation_policy_ids[]": reference, "include[]": "users", "earliest": "true"}
        body = _get_json(self.name, f"{self.base_url}/oncalls", self._headers, params, self.timeout)
        entries = [e for e in body.get("oncalls") or [] if isinstance(e, dict)]
        entries.sort(key=lambda entry: int(entry.get("escalation_level") or 99))
        return _unique(str((entry.get("user") or {}).get("email") or "") for entry in entries)


class OpsgenieOnCalls:
    """`GET /v2/schedules/{name}/on-calls?scheduleIdentifierType=name&flat=true` (flat: the users' e-mail names)."""

    name = "Opsgenie"

    def __init__(self, base_url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"GenieKey {api_key}"}
        self.timeout = timeout

    def on_call_emails(self, reference: str) -> list[str]:
        url = f"{self.base_url}/v2/schedules/{quote(reference, safe='')}/on-calls"
        params = {"scheduleIdentifierType": "name", "flat": "true"}
        body = _get_json(self.name, url, self._headers, params, self.timeout)
        data = body.get("data") or {}
        return _unique(str(recipient) for recipient in data.get("onCallRecipients") or [])


def _get_json(
    service: str, url: str, headers: dict[str, str], params: dict[str, str], timeout: float
) -> dict[str, Any]:
    try:
        response = requests.get(url, headers=headers, params=params, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise OnCallServiceError(f"{service} did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise OnCallServiceError(f"{service} could not be reached ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise OnCallServiceError(f"{service} refused the API key (HTTP {response.status_code})")
    if response.status_code == 404:
        raise OnCallServiceError(f"{service} knows no such schedule or policy (HTTP 404)")
    if response.status_code != 200:
        raise OnCallServiceError(f"{service} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise OnCallServiceError(f"{service} answered something that is not JSON") from None
    if not isinstance(body, dict):
        raise OnCallServiceError(f"{service} answered something unexpected")
    return body


def _unique(emails: Any) -> list[str]:
    seen: list[str] = []
    for email in emails:
        cleaned = email.strip().lower()
        if "@" in cleaned and cleaned not in seen:
            seen.append(cleaned)
    return seen
