"""Pure argument helpers of the Slack emulator: flags, ids and pagination (Block Kit is checked in ``blockkit``)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from bot.sandbox.emulator.state import DEFAULT_PAGE_SIZE, JsonDict, SlackApiFailure, json_copy


def _truthy(value: Any) -> bool:
    """Interpret a form/JSON flag ("1", "true", True, 1) as a bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _required(args: JsonDict, key: str, error: str | None = None) -> Any:
    """Return ``args[key]`` or fail like Slack with ``error`` (default ``invalid_arguments``)."""
    value = args.get(key)
    if value is None or value == "":
        raise SlackApiFailure(error or "invalid_arguments", response_metadata={"messages": [f"missing {key}"]})
    return value


def _int_arg(args: JsonDict, key: str, default: int) -> int:
    try:
        return int(args.get(key) or default)
    except (TypeError, ValueError) as exc:
        raise SlackApiFailure("invalid_arguments") from exc


def _split_ids(value: Any) -> list[str]:
    """Accept "U1,U2" or ["U1", "U2"]."""
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v)]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise SlackApiFailure("invalid_cursor") from exc


def _paginate(items: Sequence[JsonDict], args: JsonDict, key: str) -> JsonDict:
    """Slice ``items`` using Slack's ``limit``/``cursor`` pagination."""
    limit = max(1, min(_int_arg(args, "limit", DEFAULT_PAGE_SIZE), 1000))
    start = _decode_cursor(args.get("cursor"))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return {
        key: json_copy(page),
        "has_more": more,
        "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
    }


def _text_of(obj: Any) -> str:
    """Text of a plain_text object (or a bare string)."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "")


def _iter_block_elements(block: JsonDict) -> Iterable[JsonDict]:
    """Interactive elements of a block (actions elements, section accessory, input element)."""
    btype = block.get("type")
    if btype == "actions":
        yield from (e for e in block.get("elements", []) if isinstance(e, dict))
    elif btype == "input" and isinstance(block.get("element"), dict):
        yield block["element"]
    elif btype == "section" and isinstance(block.get("accessory"), dict) and block["accessory"].get("type") != "image":
        yield block["accessory"]


def _in_range(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest
