"""Reading a submitted `view.state.values`: every input's action_id equals its block_id in this app."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

E = TypeVar("E", bound=enum.Enum)


def state(values: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The element state of one input block, or {} when it is missing."""
    return values.get(block_id, {}).get(block_id, {}) or {}


def raw_text(values: dict[str, Any], block_id: str) -> str | None:
    """What was typed, exactly (None when nothing was)."""
    value = state(values, block_id).get("value")
    return value if isinstance(value, str) else None


def text(values: dict[str, Any], block_id: str) -> str:
    """What was typed, stripped ("" when nothing was)."""
    return (raw_text(values, block_id) or "").strip()


def choice(values: dict[str, Any], block_id: str) -> str | None:
    """The value of the selected option of a select or radio group."""
    option = state(values, block_id).get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def block_errors(problems: Mapping[str, str], blocks: Mapping[str, str]) -> dict[str, str]:
    """The domain's problems with a form (field -> message) keyed by the input block that shows each field, as
    `response_action: errors` wants them; `blocks` names the block of every field the validator may name."""
    return {str(blocks[field]): message for field, message in problems.items()}


class UnreadableInput(Exception):
    """A submitted value no Slack element could have sent; answered on its block (`response_action: errors`)."""

    def __init__(self, block_id: str, message: str) -> None:
        super().__init__(message)
        self.block_id = block_id
        self.message = message


def whole_number(typed: str) -> int | None:
    """A non-negative whole number of at most 9 digits (a database integer), else None: `²` or `1e3` are not."""
    typed = typed.strip()
    return int(typed) if typed.isdecimal() and len(typed) <= 9 else None


def number(values: dict[str, Any], block_id: str) -> int | None:
    typed = raw_text(values, block_id)
    return whole_number(typed) if typed is not None else None


def member(cls: type[E], value: str | None) -> E | None:
    """The enum member with this value, or None for a missing or unknown value."""
    try:
        return cls(value) if value is not None else None
    except ValueError:
        return None
