"""The sandbox clock's offset, kept in the sandbox's database so that the CLI reads it at the sandbox's time.

`triage-bot sandbox` fast-forwards its clock (the page's "+10 min", "+1 h"): what it records happens at real time
plus that offset. A report or an export read from the same database at real time would disagree with the bot's own
(`Generated 03:57` above entries at 06:17). The sandbox stores the offset on every move; the CLI adds it to real
time when the database has one. The offset only grows, so a late, smaller write never undoes a larger one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db import insert_once
from bot.models import SandboxClockState

__all__ = ["store_offset", "stored_offset"]

ROW_ID = 1
MICROSECOND = timedelta(microseconds=1)


def stored_offset(session: Session) -> timedelta | None:
    """How far ahead of real time the sandbox's clock is; None in a database no sandbox has run on."""
    row = session.get(SandboxClockState, ROW_ID)
    return None if row is None else row.offset_us * MICROSECOND


def store_offset(session: Session, offset: timedelta, *, now: datetime) -> None:
    """Keep `offset` unless a larger one is stored already (the clock never goes back)."""
    micros = max(offset // MICROSECOND, 0)
    if _raise_to(session, micros, now):
        return
    _, created = insert_once(
        session, SandboxClockState(id=ROW_ID, offset_us=micros, updated_at=now), match=SandboxClockState.id == ROW_ID
    )
    if not created:  # stored meanwhile by another move: keep the larger
        _raise_to(session, micros, now)


def _raise_to(session: Session, micros: int, now: datetime) -> bool:
    """Raise the stored offset to `micros`; False when there is no row or it holds as much already."""
    statement = (
        update(SandboxClockState)
        .where(SandboxClockState.id == ROW_ID, SandboxClockState.offset_us < micros)
        .values(offset_us=micros, updated_at=now)
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
