"""On-call teams from a file: YAML (`.yaml`/`.yml`) or TOML (`.toml`), validated before anything is stored.

YAML::

    teams:
      - name: platform                  # required, unique (case-insensitively), at most 100 characters
        timezone: Europe/London         # required, an IANA time zone name
        handoff: "09:00"                # HH:MM local time of each handoff (quote it); default "09:00"
        rotation_days: 7                # days each member is on call, at least 1; default 7
        starts_on: 2026-11-02           # required, the date of the first handoff (to the first member)
        members: [U0ALICE, U0BOB]       # required, Slack user ids (U… or W…) in rotation order
        leads: [U0LEAD]                 # optional, Slack user ids who may override it besides its members
        escalation_channel: C0ESCALATE  # optional, a Slack channel id (C… or G…)

TOML, the same fields::

    [[teams]]
    name = "platform"
    timezone = "Europe/London"
    handoff = "09:00"                   # a TOML local time (09:00:00) works too
    rotation_days = 7
    starts_on = 2026-11-02
    members = ["U0ALICE", "U0BOB"]
    leads = ["U0LEAD"]
    escalation_channel = "C0ESCALATE"

Any problem raises OncallFileError, one line naming the file, the team and the field.
"""

from __future__ import annotations

import re
import tomllib
from contextlib import suppress
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from bot.domain.oncall import (
    TeamSpec,
    checked_channel,
    checked_handoff_time,
    checked_leads,
    checked_members,
    checked_rotation_days,
    checked_team_name,
    checked_zone,
    duplicate_team_name,
)

_HANDOFF = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class OncallFileError(ValueError):
    """A teams file that can't be loaded; the message is one line naming the file, team and field."""


def _handoff_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError('write the time in quotes, e.g. "09:00" (unquoted, YAML reads 9:00 as a number)')
    match = _HANDOFF.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{value!r} is not a time of day; use HH:MM such as "09:00"')
    return time(int(match.group(1)), int(match.group(2)))


def _start_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        with suppress(ValueError):
            return date.fromisoformat(value.strip())
    raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD such as 2026-11-02")


class _TeamEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    timezone: StrictStr
    handoff: time = time(9, 0)
    rotation_days: StrictInt = 7
    starts_on: date
    members: list[StrictStr]
    leads: list[StrictStr] = []
    escalation_channel: StrictStr | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return checked_team_name(value)

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        return checked_zone(value)

    @field_validator("handoff", mode="before")
    @classmethod
    def _parse_handoff(cls, value: object) -> time:
        return checked_handoff_time(_handoff_time(value))

    @field_validator("rotation_days")
    @classmethod
    def _check_days(cls, value: int) -> int:
        return checked_rotation_days(value)

    @field_validator("starts_on", mode="before")
    @classmethod
    def _parse_start(cls, value: object) -> date:
        return _start_date(value)

    @field_validator("members")
    @classmethod
    def _check_members(cls, value: list[str]) -> list[str]:
        return list(checked_members(value))

    @field_validator("leads")
    @classmethod
    def _check_leads(cls, value: list[str]) -> list[str]:
        return list(checked_leads(value))

    @field_validator("escalation_channel")
    @classmethod
    def _check_channel(cls, value: str | None) -> str | None:
        return checked_channel(value)

    def to_spec(self) -> TeamSpec:
        return TeamSpec(
            name=self.name,
            members=tuple(self.members),
            timezone=self.timezone,
            starts_on=self.starts_on,
            handoff_time=self.handoff,
            rotation_days=self.rotation_days,
            escalation_channel_id=self.escalation_channel,
            leads=tuple(self.leads),
        )


class _TeamsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teams: list[_TeamEntry]


def _one_line(error: Exception) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return " ".join(str(error).split())


def _read(path: Path) -> object:
    """The file's content as plain data, by its suffix."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise OncallFileError(f"{path}: use a .yaml, .yml or .toml file (got '{path.suffix or 'no suffix'}').")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OncallFileError(f"{path}: can't read the file ({_one_line(exc)}).") from exc
    try:
        return tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = "TOML" if suffix == ".toml" else "YAML"
        raise OncallFileError(f"{path}: not valid {kind} ({_one_line(exc)}).") from exc


def _team_label(data: Any, index: int) -> str:
    """`'platform'` when the entry has a usable name, else its position, `#2`."""
    try:
        name = data["teams"][index]["name"]
    except (KeyError, IndexError, TypeError):
        name = None
    return f"'{name.strip()}'" if isinstance(name, str) and name.strip() else f"#{index + 1}"


def _field_path(parts: tuple[int | str, ...]) -> str:
    """`("members", 1)` -> `members[1]`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _location(loc: tuple[int | str, ...], data: Any) -> str:
    if len(loc) >= 2 and loc[0] == "teams" and isinstance(loc[1], int):
        team = f"team {_team_label(data, loc[1])}"
        field = _field_path(loc[2:])
        return f"{team}, {field}" if field else team
    return _field_path(loc) or "the file"


def _problem(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "is required but missing"
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    if error["type"] == "model_type":
        return "should be a mapping of fields (name, timezone, starts_on, members, …)"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    message = error["msg"].removeprefix("Input ")
    return f"{message} (got {error['input']!r})"


def _describe(path: Path, error: ValidationError, data: Any) -> OncallFileError:
    first = error.errors(include_url=False)[0]
    return OncallFileError(f"{path}: {_location(first['loc'], data)}: {_problem(first)}.")


def load_team_specs(path: Path) -> list[TeamSpec]:
    """The teams a file defines, in file order; OncallFileError with a one-line reason when anything is wrong."""
    data = _read(path)
    if not isinstance(data, dict) or "teams" not in data:
        raise OncallFileError(f"{path}: expected a top-level 'teams' list.")
    try:
        entries = _TeamsFile.model_validate(data).teams
    except ValidationError as exc:
        raise _describe(path, exc, data) from None
    if not entries:
        raise OncallFileError(f"{path}: the 'teams' list is empty.")
    duplicate = duplicate_team_name(entry.name for entry in entries)
    if duplicate is not None:
        raise OncallFileError(f"{path}: team '{duplicate}' is listed more than once.")
    return [entry.to_spec() for entry in entries]
