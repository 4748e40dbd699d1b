"""What a person is told when the bot cannot do what they asked because the database is out of reach."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

DATABASE_UNREACHABLE = (
    "I can't reach the database right now, so nothing was changed. Please try again in a minute — "
    "everything recorded before is safe."
)


def is_database_outage(error: BaseException) -> bool:
    """A database error (connection lost or refused, pool exhausted) rather than a bug in what was asked."""
    return isinstance(error, SQLAlchemyError)
