"""Fake PagerDuty and Opsgenie on-call APIs (a WSGI app, as FakeJira is): who is on call, with their faults.

PagerDuty: `GET /oncalls?escalation_policy_ids[]=P…&include[]=users&earliest=true` with
`Authorization: Token token=…` and the v2 `Accept` header. Opsgenie: `GET /v2/schedules/{name}/on-calls?
scheduleIdentifierType=name&flat=true` with `Authorization: GenieKey …`. Answers have the services' shapes; a wrong
key is 401, an unknown policy or schedule 404; `down` answers 503 and `delay` holds every answer that long.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote
from wsgiref.types import StartResponse, WSGIEnvironment

PAGERDUTY_ACCEPT = "application/vnd.pagerduty+json;version=2"


@dataclass(frozen=True)
class OnCallPerson:
    email: str
    name: str
    level: int = 1


@dataclass(frozen=True)
class SeenRequest:
    path: str
    query: str
    authorization: str


class FakeOnCallServices:
    """Both services in one WSGI app; tests mount it with `start_background_server` and point both URLs at it."""

    def __init__(self, *, pagerduty_token: str = "pd-token", opsgenie_key: str = "og-key") -> None:
        self.pagerduty_token = pagerduty_token
        self.opsgenie_key = opsgenie_key
        self._lock = threading.Lock()
        self._policies: dict[str, list[OnCallPerson]] = {}
        self._schedules: dict[str, list[OnCallPerson]] = {}
        self.down = False
        self.delay = 0.0
        self.requests: list[SeenRequest] = []

    def set_policy(self, policy_id: str, people: list[OnCallPerson]) -> None:
        """Who a PagerDuty escalation policy has on call now (each at its escalation level)."""
        with self._lock:
            self._policies[policy_id] = list(people)

    def set_schedule(self, name: str, people: list[OnCallPerson]) -> None:
        with self._lock:
            self._schedules[name] = list(people)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        with self._lock:
            self.requests.append(SeenRequest(path, query, authorization))
        if self.delay:
            time.sleep(self.delay)
        if environ.get("REQUEST_METHOD") != "GET":
            return _answer(start_response, 405, {"error": "method not allowed"})
        if self.down:
            return _answer(start_response, 503, {"error": "service unavailable"})
        params = parse_qs(query)
        if path == "/oncalls":
            return self._pagerduty(start_response, authorization, environ.get("HTTP_ACCEPT", ""), params)
        if path.startswith("/v2/schedules/") and path.endswith("/on-calls"):
            name = unquote(path.removeprefix("/v2/schedules/").removesuffix("/on-calls"))
            return self._opsgenie(start_response, authorization, name, params)
        return _answer(start_response, 404, {"error": "not found"})

    def _pagerduty(
        self, start_response: StartResponse, authorization: str, accept: str, params: dict[str, list[str]]
    ) -> list[bytes]:
        if authorization != f"Token token={self.pagerduty_token}" or accept != PAGERDUTY_ACCEPT:
            return _answer(start_response, 401, {"error": {"message": "Unauthorized", "code": 2006}})
        include_users = "users" in params.get("include[]", [])
        with self._lock:
            policies = {p: self._policies[p] for p in params.get("escalation_policy_ids[]", []) if p in self._policies}
        if not policies:
            return _answer(start_response, 404, {"error": {"message": "Not Found", "code": 2100}})
        oncalls = [
            _pagerduty_oncall(policy, person, index, include_users)
            for policy, people in policies.items()
            for index, person in enumerate(people)
        ]
        return _answer(start_response, 200, {"oncalls": oncalls, "limit": 25, "offset": 0, "more": False})

    def _opsgenie(
        self, start_response: StartResponse, authorization: str, name: str, params: dict[str, list[str]]
    ) -> list[bytes]:
        if authorization != f"GenieKey {self.opsgenie_key}":
            return _answer(start_response, 401, {"message": "Could not authenticate", "took": 0.0})
        if params.get("scheduleIdentifierType", ["id"])[0] != "name":
            return _answer(start_response, 404, {"message": "Schedule not found", "took": 0.0})
        with self._lock:
            people = self._schedules.get(name)
        if people is None:
            return _answer(start_response, 404, {"message": f"No schedule exists with name [{name}]", "took": 0.0})
        data: dict[str, object] = {"_parent": {"id": f"sched-{abs(hash(name)) % 10**6}", "name": name}}
        if params.get("flat", ["false"])[0] == "true":
            data["onCallRecipients"] = [p.email for p in people]
        else:
            data["onCallParticipants"] = [
                {"id": f"u{i}", "name": p.email, "type": "user"} for i, p in enumerate(people)
            ]
        return _answer(start_response, 200, {"data": data, "took": 0.01, "requestId": "fake"})


def _pagerduty_oncall(policy: str, person: OnCallPerson, index: int, include_users: bool) -> dict[str, object]:
    user: dict[str, object] = {"id": f"PU{index:04d}", "type": "user_reference", "summary": person.name}
    if include_users:
        user = {"id": user["id"], "type": "user", "name": person.name, "email": person.email, "summary": person.name}
    return {
        "user": user,
        "escalation_policy": {"id": policy, "type": "escalation_policy_reference", "summary": policy},
        "escalation_level": person.level,
        "start": None,
        "end": None,
    }


def _answer(start_response: StartResponse, status: int, body: object) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 503: "Unavailable"}
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    start_response(f"{status} {reason.get(status, 'Error')}", headers)
    return [payload]
