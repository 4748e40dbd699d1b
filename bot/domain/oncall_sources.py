"""Where a team's on-call comes from: the bot's own rotation, a Slack user group, PagerDuty or Opsgenie.

A source is written `kind:reference` — `rotation:platform`, `usergroup:S0123ABCD`, `pagerduty:PABC123` (an
escalation policy id) or `opsgenie:Platform Schedule` (a schedule name). The answer of an outside service is only
as good as its freshness, so every answer carries when it was read and whether it is the last known one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import DomainError


class SourceKind(StrEnum):
    ROTATION = "rotation"
    USERGROUP = "usergroup"
    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"


SOURCE_NAMES = {
    SourceKind.ROTATION: "rotation",
    SourceKind.USERGROUP: "Slack user group",
    SourceKind.PAGERDUTY: "PagerDuty escalation policy",
    SourceKind.OPSGENIE: "Opsgenie schedule",
}
SOURCE_USAGE = "rotation:<team>, usergroup:S…, pagerduty:<escalation policy id> or opsgenie:<schedule name>"
_REFERENCES = {
    SourceKind.ROTATION: re.compile(r"^[\w .-]{1,80}$"),
    SourceKind.USERGROUP: re.compile(r"^S[A-Z0-9]{2,}$"),
    SourceKind.PAGERDUTY: re.compile(r"^[A-Z0-9]{2,32}$"),
    SourceKind.OPSGENIE: re.compile(r"^[\w .()-]{1,100}$"),
}


class InvalidSource(DomainError):
    """An on-call source that can't be read; the message says what a good one looks like."""


@dataclass(frozen=True)
class OnCallSource:
    kind: SourceKind
    reference: str

    @property
    def external(self) -> bool:
        """Answered by a service outside Slack and the bot's database (PagerDuty, Opsgenie)."""
        return self.kind in (SourceKind.PAGERDUTY, SourceKind.OPSGENIE)

    @property
    def service_name(self) -> str:
        return {SourceKind.PAGERDUTY: "PagerDuty", SourceKind.OPSGENIE: "Opsgenie"}.get(self.kind, "Slack")

    def describe(self) -> str:
        return f"{SOURCE_NAMES[self.kind]} {self.reference}"

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.reference}"


def parse_source(text: str) -> OnCallSource:
    """`pagerduty:PABC123` → OnCallSource; InvalidSource with the accepted shapes otherwise."""
    kind_text, separator, reference = text.strip().partition(":")
    try:
        kind = SourceKind(kind_text.strip().lower())
    except ValueError:
        raise InvalidSource(f"'{text.strip()[:60]}' is not an on-call source; use {SOURCE_USAGE}") from None
    reference = reference.strip()
    if not separator or not _REFERENCES[kind].match(reference):
        raise InvalidSource(f"'{text.strip()[:60]}' is not a valid {SOURCE_NAMES[kind]}; use {SOURCE_USAGE}")
    return OnCallSource(kind, reference)


@dataclass(frozen=True)
class ExternalOnCall:
    """Who an outside source says is on call, matched to Slack users, as of `read_at`.

    `people` are Slack user ids, first the lowest escalation level; `unmatched` are e-mail addresses Slack
    doesn't know. `stale` means the service did not answer this time and this is the last known answer.
    """

    source: OnCallSource
    people: tuple[str, ...]
    read_at: datetime
    unmatched: tuple[str, ...] = ()
    stale: bool = False
    problem: str | None = None  # why the last read failed, when it did

    @property
    def primary(self) -> str | None:
        return self.people[0] if self.people else None

    @property
    def next_person(self) -> str | None:
        return self.people[1] if len(self.people) > 1 else None
