"""Who is on call when a team's on-call lives in PagerDuty, Opsgenie or a Slack user group.

Outside services are read in the background (after a request's acknowledgement, or from the scheduler's tick) and
their answers kept for a minute, so opening an incident never waits on them and never fails because of them:
- a fresh answer pages who it names;
- when the service is down or slow, the last known answer is used and the on-call page says so;
- with no answer yet, `ONCALL_SLACK_ID` is paged, and the page says that too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.config import Settings
from bot.domain.oncall_sources import ExternalOnCall, InvalidSource, OnCallSource, SourceKind, parse_source
from bot.integrations.oncall_services import (
    OnCallService,
    OnCallServiceError,
    OpsgenieOnCalls,
    PagerDutyOnCalls,
)
from bot.integrations.slack import SlackCallError, SlackGateway

logger = logging.getLogger(__name__)

FRESH_FOR = timedelta(minutes=1)  # an answer is read again after this long
EMAILS_KEPT_FOR = timedelta(minutes=10)  # which Slack user an e-mail address belongs to


@dataclass(frozen=True)
class Paging:
    """Whom a new incident pages, and a line for the on-call page when that is not a fresh answer."""

    oncall_id: str | None
    team: str | None = None
    note: str | None = None


def configured_source(settings: Settings) -> OnCallSource | None:
    """`ONCALL_SOURCE`, read; None when unset (the workspace's first rotation, else `ONCALL_SLACK_ID`)."""
    if not settings.oncall_source:
        return None
    return parse_source(settings.oncall_source)


def build_services_for_sources(settings: Settings) -> dict[SourceKind, OnCallService]:
    """The outside services this deployment has keys for."""
    found: dict[SourceKind, OnCallService] = {}
    if settings.pagerduty_api_token is not None:
        token = settings.pagerduty_api_token.get_secret_value()
        found[SourceKind.PAGERDUTY] = PagerDutyOnCalls(settings.pagerduty_api_url, token)
    if settings.opsgenie_api_key is not None:
        found[SourceKind.OPSGENIE] = OpsgenieOnCalls(
            settings.opsgenie_api_url, settings.opsgenie_api_key.get_secret_value()
        )
    return found


class OnCallDirectory:
    """Answers of outside on-call services per (workspace, source), read at most once a minute, never waited on."""

    def __init__(self, services: dict[SourceKind, OnCallService], now: Callable[[], datetime]) -> None:
        self._services = services
        self._now = now
        self._lock = threading.Lock()
        self._answers: dict[tuple[str | None, str], ExternalOnCall] = {}
        self._emails: dict[tuple[str | None, str], tuple[datetime, str | None]] = {}

    def known(self, workspace: str | None, source: OnCallSource) -> ExternalOnCall | None:
        """The last answer read (fresh or not), without asking anyone."""
        with self._lock:
            return self._answers.get((workspace, str(source)))

    def needs_reading(self, workspace: str | None, source: OnCallSource) -> bool:
        answer = self.known(workspace, source)
        return answer is None or answer.stale or self._now() - answer.read_at >= FRESH_FOR

    def read(self, slack: SlackGateway, workspace: str | None, source: OnCallSource) -> ExternalOnCall:
        """Ask the service now (at most its timeout), match e-mails to Slack users, and keep the answer."""
        key = (workspace, str(source))
        service = self._services.get(source.kind)
        try:
            if service is None:
                raise OnCallServiceError(f"{source.service_name} is not configured (no API key)")
            emails = service.on_call_emails(source.reference)
            people, unmatched = self._slack_users(slack, workspace, emails)
            answer = ExternalOnCall(source, tuple(people), self._now(), tuple(unmatched))
        except (OnCallServiceError, SlackCallError) as exc:
            logger.warning("On-call source %s could not be read: %s", source, exc)
            answer = self._last_known_or_nothing(key, source, str(exc))
        with self._lock:
            self._answers[key] = answer
        return answer

    def _last_known_or_nothing(self, key: tuple[str | None, str], source: OnCallSource, problem: str) -> ExternalOnCall:
        with self._lock:
            last = self._answers.get(key)
        if last is not None and last.people:
            return replace(last, stale=True, problem=problem)
        return ExternalOnCall(source, (), self._now(), stale=True, problem=problem)

    def _slack_users(
        self, slack: SlackGateway, workspace: str | None, emails: list[str]
    ) -> tuple[list[str], list[str]]:
        people: list[str] = []
        unmatched: list[str] = []
        for email in emails:
            user_id = self._slack_user(slack, workspace, email)
            if user_id is None:
                unmatched.append(email)
            elif user_id not in people:
                people.append(user_id)
        return people, unmatched

    def _slack_user(self, slack: SlackGateway, workspace: str | None, email: str) -> str | None:
        now = self._now()
        with self._lock:
            kept = self._emails.get((workspace, email))
        if kept is not None and now - kept[0] < EMAILS_KEPT_FOR:
            return kept[1]
        try:
            user = slack.call("users.lookupByEmail", {"email": email}).get("user") or {}
            user_id = user.get("id") if isinstance(user.get("id"), str) else None
        except SlackCallError as exc:
            if exc.error != "users_not_found":
                raise
            user_id = None
        with self._lock:
            self._emails[(workspace, email)] = (now, user_id)
        return user_id


def paging_for(
    answer: ExternalOnCall | None, source: OnCallSource, fallback: str | None, zone_time: Callable[[datetime], str]
) -> Paging:
    """Whom to page from an outside source's answer, with the line the page carries when it is not fresh."""
    if answer is not None and answer.primary is not None:
        if answer.stale:
            note = (
                f"{source.service_name} did not answer ({answer.problem}); this is who it named at "
                f"{zone_time(answer.read_at)}."
            )
            return Paging(answer.primary, note=note)
        return Paging(answer.primary)
    if answer is None:
        why = f"{source.service_name} has not been read yet"
    elif answer.problem:
        why = f"{source.service_name} did not answer ({answer.problem})"
    else:
        why = f"{source.service_name} names nobody on call that Slack knows"
    fallback_words = "the fallback on-call (`ONCALL_SLACK_ID`)" if fallback else "nobody: set `ONCALL_SLACK_ID`"
    return Paging(fallback, note=f"{why}; paging {fallback_words}.")


__all__ = [
    "EMAILS_KEPT_FOR",
    "FRESH_FOR",
    "InvalidSource",
    "OnCallDirectory",
    "Paging",
    "build_services_for_sources",
    "configured_source",
    "paging_for",
]
