"""Each workspace's settings: the environment's defaults with what its admins saved in Slack on top.

Every process keeps the merged settings of a workspace for at most a second before it checks the saved version
again (one indexed read), so a change made in Slack takes effect on every replica at once, with no restart; the
process that saved it forgets its copy straight away. One request checks; the others arriving meanwhile go on with
the kept settings (under load a lapsed second otherwise sent every request in flight to the database at once:
eleven reads of the same row within a millisecond, each holding a pooled connection).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings, SettingsError, load_settings
from bot.db import unit_of_work
from bot.domain.workspace_settings import SETTABLE_BY_FIELD, saved_values, saved_version

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class _Kept:
    version: int
    settings: Settings
    checked_at: float


def merged_settings(base: Settings, values: Mapping[str, str | None]) -> Settings:
    """`base` with these settings (by field; None: the environment's default), validated as the environment is.

    Raises SettingsError naming the first bad setting.
    """
    unknown = set(values) - set(SETTABLE_BY_FIELD)
    if unknown:
        raise SettingsError(f"Not a setting that can be changed in Slack: {', '.join(sorted(unknown))}")
    fields = {name: _as_input(value) for name, value in base.model_dump().items()}
    for field, value in values.items():
        fields[field] = value if value else type(base).model_fields[field].default
    return load_settings(**fields)


def _as_input(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class WorkspaceSettingsCache:
    """Per process: each workspace's merged settings, re-checked against the saved version every second."""

    def __init__(self, *, every: float = CHECK_EVERY_SECONDS, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}
        self._checking: set[str] = set()  # workspaces whose kept settings one request is checking right now

    def effective(self, base: Settings, session_factory: sessionmaker[Session], team_id: str) -> Settings:
        now = self._monotonic()
        with self._lock:
            kept = self._kept.get(team_id)
            if kept is not None and (now - kept.checked_at < self.every or team_id in self._checking):
                return kept.settings
            if kept is not None:
                self._checking.add(team_id)
        if kept is None:
            return self._read(base, session_factory, team_id, now)
        try:
            return self._checked(base, session_factory, team_id, kept, now)
        finally:
            with self._lock:
                self._checking.discard(team_id)

    def _checked(
        self, base: Settings, session_factory: sessionmaker[Session], team_id: str, kept: _Kept, now: float
    ) -> Settings:
        """The kept settings if the saved version is still theirs, else the saved ones read again."""
        with unit_of_work(session_factory) as session:
            if saved_version(session, team_id) == kept.version:
                with self._lock:  # unless this process saved (and forgot) them meanwhile
                    if self._kept.get(team_id) is kept:
                        self._kept[team_id] = _Kept(kept.version, kept.settings, now)
                return kept.settings
        return self._read(base, session_factory, team_id, now)

    def _read(self, base: Settings, session_factory: sessionmaker[Session], team_id: str, now: float) -> Settings:
        with unit_of_work(session_factory) as session:
            version, values = saved_values(session, team_id)
        settings = self._merged_or_base(base, values, team_id)
        self._keep(team_id, _Kept(version, settings, now))
        return settings

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._kept.pop(team_id, None)

    def _keep(self, team_id: str, kept: _Kept) -> None:
        with self._lock:
            self._kept[team_id] = kept

    @staticmethod
    def _merged_or_base(base: Settings, values: Mapping[str, str], team_id: str) -> Settings:
        if not values:
            return base
        try:
            return merged_settings(base, values)
        except SettingsError as exc:  # saved values were valid when saved; a new deployment may read them otherwise
            logger.error("Workspace %s settings are not valid any more (%s); using the environment's", team_id, exc)
            return base
