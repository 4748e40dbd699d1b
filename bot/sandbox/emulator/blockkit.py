"""Block Kit checked the way Slack checks it: every limit of docs.slack.dev's Block Kit reference, element by
element, plus slack_sdk's model validation (each block parsed with ``Block.parse``, each view with ``View``).

Pure: no emulator state. :func:`check_message` and :func:`check_view` return the problems Slack would answer
with, each carrying Slack's error code and a JSON pointer to the offending value, in Slack's own words
(``[ERROR] must be less than 3001 characters [json-pointer:/blocks/3/text/text]``). An empty list means Slack
would take the payload.

Message size: Slack answers ``msg_too_long`` for a ``text`` over 40,000 characters, and ``msg_blocks_too_long``
when the blocks hold too much text in all. That second limit is not documented: reports put it near 13,300
characters for markdown blocks (slackapi/bolt-js#2509), a message of 11,341 characters of text in rich_text,
section, header and divider blocks was refused (slackapi/bolt-js#2867), and Slack's engineers speak of 12,000
characters of text plus a buffer for the blocks around it. The emulator refuses more than
:data:`MAX_BLOCK_TEXT` (11,000) characters of text in a message's blocks, counted as the sum of every ``text``
string in them; the same reports say messages sent through a ``response_url`` are not held to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = [
    "MAX_BLOCK_TEXT",
    "MAX_MESSAGE_BLOCKS",
    "MAX_MESSAGE_TEXT",
    "MAX_VIEW_BLOCKS",
    "Problem",
    "block_text_length",
    "check_blocks",
    "check_message",
    "check_view",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCK_TEXT = 11_000
MAX_ID = 255  # block_id, action_id, callback_id, external_id
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_SELECT_OPTIONS = 100
MAX_OVERFLOW_OPTIONS = 5
MAX_CHOICE_OPTIONS = 10  # radio buttons, checkboxes
MAX_PLACEHOLDER = 150
MAX_INPUT_LENGTH = 3000
MAX_LABEL = 2000
MAX_VIEW_TEXT = 24  # modal title, submit, close
MAX_PRIVATE_METADATA = 3000

_SELECTS_WITH_OPTIONS = ("static_select", "multi_static_select")
_TEXT_INPUTS = ("plain_text_input",)
_CONFIRM_LIMITS = {"title": 100, "text": 300, "confirm": 30, "deny": 30}


@dataclass(frozen=True)
class Problem:
    """One thing Slack would refuse: its error code, where (a JSON pointer) and why."""

    error: str  # invalid_blocks, invalid_arguments, msg_too_long or msg_blocks_too_long
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"[ERROR] {self.message} [json-pointer:{self.pointer}]"


# ---------------------------------------------------------------- public checks


def check_message(text: Any = None, blocks: Any = None, *, via_response_url: bool = False) -> list[Problem]:
    """What Slack would refuse in a message's ``text`` and ``blocks`` (chat.postMessage, chat.update, ...)."""
    problems: list[Problem] = []
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        problems.append(Problem("msg_too_long", "/text", f"must be less than {MAX_MESSAGE_TEXT + 1} characters"))
    if blocks is None:
        return problems
    found = check_blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS, error="invalid_blocks")
    problems.extend(found)
    if not found and not via_response_url and block_text_length(blocks) > MAX_BLOCK_TEXT:
        total = block_text_length(blocks)
        problems.append(
            Problem("msg_blocks_too_long", "/blocks", f"{total} characters of text: more than {MAX_BLOCK_TEXT}")
        )
    return problems


def check_view(view: Any, pointer: str = "/view") -> list[Problem]:
    """What Slack would refuse in a modal or Home tab view (views.open / push / update / publish, response_action)."""
    error = "invalid_arguments"
    if not isinstance(view, Mapping):
        return [Problem(error, pointer, "must provide an object")]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [Problem(error, f"{pointer}/type", "must be one of modal, home")]
    problems = list(check_blocks(view.get("blocks"), f"{pointer}/blocks", MAX_VIEW_BLOCKS, error=error))
    problems.extend(_view_fields(view, pointer, error))
    if not problems:
        problems.extend(_sdk_view(view, pointer, error))
    return problems


def check_blocks(blocks: Any, pointer: str, max_blocks: int, *, error: str) -> list[Problem]:
    """Every problem in a blocks array, element by element, then slack_sdk's model validation per block."""
    if not isinstance(blocks, Sequence) or isinstance(blocks, str):
        return [Problem(error, pointer, "must provide an array")]
    problems: list[Problem] = []
    if len(blocks) > max_blocks:
        problems.append(Problem(error, pointer, f"no more than {max_blocks} items allowed"))
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        found = list(_block(block, where, seen))
        if not found:
            found = list(_sdk_block(block, where))
        problems.extend(Problem(error, p, m) for p, m in found)
    return problems


def block_text_length(blocks: Any) -> int:
    """Characters of text in blocks: the sum of every ``text`` string at any depth (how size is measured here)."""
    if isinstance(blocks, Mapping):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else block_text_length(value)
            for key, value in blocks.items()
        )
    if isinstance(blocks, Sequence) and not isinstance(blocks, str):
        return sum(block_text_length(item) for item in blocks)
    return 0


# ---------------------------------------------------------------- blocks

Found = Iterator[tuple[str, str]]  # (json pointer, message)


def _block(block: Any, where: str, seen: set[str]) -> Found:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        yield where, "must provide an object with a type"
        return
    block_id = block.get("block_id")
    if block_id is not None:
        yield from _max_length(block_id, f"{where}/block_id", MAX_ID)
        if isinstance(block_id, str) and block_id in seen:
            yield f"{where}/block_id", f"duplicate block_id {block_id!r}"
        seen.add(str(block_id))
    check = _BLOCK_CHECKS.get(block["type"])
    if check is not None:
        yield from check(block, where)


def _header(block: Mapping[str, Any], where: str) -> Found:
    yield from _text_object(block.get("text"), f"{where}/text", MAX_HEADER, plain_only=True)


def _section(block: Mapping[str, Any], where: str) -> Found:
    if block.get("text") is None and block.get("fields") is None:
        yield where, "must provide text or fields"
    if block.get("text") is not None:
        yield from _text_object(block["text"], f"{where}/text", MAX_SECTION_TEXT)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            yield f"{where}/fields", "must provide an array"
            return
        if len(fields) > MAX_FIELDS:
            yield f"{where}/fields", f"no more than {MAX_FIELDS} items allowed"
        for index, field in enumerate(fields):
            yield from _text_object(field, f"{where}/fields/{index}", MAX_FIELD_TEXT)
    if block.get("accessory") is not None:
        yield from _element(block["accessory"], f"{where}/accessory")


def _context(block: Mapping[str, Any], where: str) -> Found:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        yield f"{where}/elements", "must provide a non-empty array"
        return
    if len(elements) > MAX_CONTEXT_ELEMENTS:
        yield f"{where}/elements", f"no more than {MAX_CONTEXT_ELEMENTS} items allowed"
    for index, element in enumerate(elements):
        path = f"{where}/elements/{index}"
        if isinstance(element, Mapping) and element.get("type") == "image":
            continue
        yield from _text_object(element, path, MAX_SECTION_TEXT)


def _actions(block: Mapping[str, Any], where: str) -> Found:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        yield f"{where}/elements", "must provide a non-empty array"
        return
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        yield f"{where}/elements", f"no more than {MAX_ACTIONS_ELEMENTS} items allowed"
    action_ids: set[str] = set()
    for index, element in enumerate(elements):
        yield from _element(element, f"{where}/elements/{index}")
        action_id = element.get("action_id") if isinstance(element, Mapping) else None
        if isinstance(action_id, str):
            if action_id in action_ids:
                yield f"{where}/elements/{index}/action_id", f"duplicate action_id {action_id!r}"
            action_ids.add(action_id)


def _input(block: Mapping[str, Any], where: str) -> Found:
    yield from _text_object(block.get("label"), f"{where}/label", MAX_LABEL, plain_only=True)
    if block.get("hint") is not None:
        yield from _text_object(block["hint"], f"{where}/hint", MAX_LABEL, plain_only=True)
    if not isinstance(block.get("element"), Mapping):
        yield f"{where}/element", "must provide an object"
        return
    yield from _element(block["element"], f"{where}/element")


_BLOCK_CHECKS = {
    "header": _header,
    "section": _section,
    "context": _context,
    "actions": _actions,
    "input": _input,
}


# ---------------------------------------------------------------- elements


def _element(element: Any, where: str) -> Found:
    if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
        yield where, "must provide an object with a type"
        return
    if element.get("action_id") is not None:
        yield from _max_length(element["action_id"], f"{where}/action_id", MAX_ID)
    kind = element["type"]
    if element.get("placeholder") is not None:
        yield from _text_object(element["placeholder"], f"{where}/placeholder", MAX_PLACEHOLDER, plain_only=True)
    if element.get("confirm") is not None:
        yield from _confirm(element["confirm"], f"{where}/confirm")
    if kind == "button":
        yield from _text_object(element.get("text"), f"{where}/text", MAX_BUTTON_TEXT, plain_only=True)
        if element.get("value") is not None:
            yield from _max_length(element["value"], f"{where}/value", MAX_BUTTON_VALUE)
        if element.get("url") is not None:
            yield from _max_length(element["url"], f"{where}/url", MAX_URL)
    elif kind in _SELECTS_WITH_OPTIONS:
        yield from _select_options(element, where)
    elif kind == "overflow":
        yield from _options(element.get("options"), f"{where}/options", MAX_OVERFLOW_OPTIONS, plain_only=True)
    elif kind in ("radio_buttons", "checkboxes"):
        yield from _options(element.get("options"), f"{where}/options", MAX_CHOICE_OPTIONS, plain_only=False)
    elif kind in _TEXT_INPUTS:
        yield from _text_input(element, where)


def _select_options(element: Mapping[str, Any], where: str) -> Found:
    groups = element.get("option_groups")
    if groups is not None:
        if not isinstance(groups, list):
            yield f"{where}/option_groups", "must provide an array"
            return
        if len(groups) > MAX_SELECT_OPTIONS:
            yield f"{where}/option_groups", f"no more than {MAX_SELECT_OPTIONS} items allowed"
        for index, group in enumerate(groups):
            path = f"{where}/option_groups/{index}"
            options = group.get("options") if isinstance(group, Mapping) else None
            yield from _options(options, f"{path}/options", MAX_SELECT_OPTIONS, plain_only=True)
        return
    yield from _options(element.get("options"), f"{where}/options", MAX_SELECT_OPTIONS, plain_only=True)
    for key in ("initial_option",):
        if element.get(key) is not None:
            yield from _option(element[key], f"{where}/{key}", plain_only=True)


def _options(options: Any, where: str, limit: int, *, plain_only: bool) -> Found:
    if not isinstance(options, list) or not options:
        yield where, "must provide a non-empty array"
        return
    if len(options) > limit:
        yield where, f"no more than {limit} items allowed"
    for index, option in enumerate(options):
        yield from _option(option, f"{where}/{index}", plain_only=plain_only)


def _option(option: Any, where: str, *, plain_only: bool) -> Found:
    if not isinstance(option, Mapping):
        yield where, "must provide an object"
        return
    yield from _text_object(option.get("text"), f"{where}/text", MAX_OPTION_TEXT, plain_only=plain_only)
    if option.get("value") is not None:
        yield from _max_length(option["value"], f"{where}/value", MAX_OPTION_VALUE)
    if option.get("description") is not None:
        yield from _text_object(option["description"], f"{where}/description", MAX_OPTION_TEXT)


def _text_input(element: Mapping[str, Any], where: str) -> Found:
    max_length = element.get("max_length")
    for key in ("max_length", "min_length"):
        value = element.get(key)
        if value is not None and (not isinstance(value, int) or not 0 <= value <= MAX_INPUT_LENGTH):
            yield f"{where}/{key}", f"must be a number between 0 and {MAX_INPUT_LENGTH}"
    allowed = max_length if isinstance(max_length, int) and 0 < max_length <= MAX_INPUT_LENGTH else MAX_INPUT_LENGTH
    if element.get("initial_value") is not None:
        yield from _max_length(element["initial_value"], f"{where}/initial_value", allowed)


def _confirm(confirm: Any, where: str) -> Found:
    if not isinstance(confirm, Mapping):
        yield where, "must provide an object"
        return
    for key, limit in _CONFIRM_LIMITS.items():
        if confirm.get(key) is not None:
            yield from _text_object(confirm[key], f"{where}/{key}", limit, plain_only=key != "text")


# ---------------------------------------------------------------- text


def _text_object(obj: Any, where: str, limit: int, *, plain_only: bool = False) -> Found:
    if not isinstance(obj, Mapping):
        yield where, "must provide an object"
        return
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if obj.get("type") not in kinds:
        yield f"{where}/type", f"must be {' or '.join(kinds)}"
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield f"{where}/text", "must be more than 0 characters"
        return
    yield from _max_length(text, f"{where}/text", limit)


def _max_length(value: Any, where: str, limit: int) -> Found:
    if len(str(value)) > limit:
        yield where, f"must be less than {limit + 1} characters"


# ---------------------------------------------------------------- views


def _view_fields(view: Mapping[str, Any], pointer: str, error: str) -> Iterator[Problem]:
    def problem(path: str, message: str) -> Problem:
        return Problem(error, f"{pointer}/{path}", message)

    if view["type"] == "modal":
        if view.get("title") is None:
            yield problem("title", "must provide an object")
        for key in ("title", "submit", "close"):
            if view.get(key) is not None:
                for path, message in _text_object(view[key], f"{pointer}/{key}", MAX_VIEW_TEXT, plain_only=True):
                    yield Problem(error, path, message)
        raw = view.get("blocks")
        blocks = raw if isinstance(raw, list) else []
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            yield problem("submit", "must provide submit when the view has input blocks")
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        yield problem("private_metadata", f"must be less than {MAX_PRIVATE_METADATA + 1} characters")
    for key in ("callback_id", "external_id"):
        if view.get(key) is not None and len(str(view[key])) > MAX_ID:
            yield problem(key, f"must be less than {MAX_ID + 1} characters")


# ---------------------------------------------------------------- slack_sdk's model validation


def _sdk_block(block: Any, where: str) -> Found:
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            yield f"{where}/type", f"unsupported block type {block.get('type')!r}"
            return
        parsed.to_dict()  # runs every validator of the block and the objects in it
    except Exception as exc:  # slack_sdk raises SlackObjectFormationError, TypeError, KeyError... on bad input
        yield where, f"{type(exc).__name__}: {exc}"


def _sdk_view(view: Mapping[str, Any], pointer: str, error: str) -> Iterator[Problem]:
    try:
        View(**dict(view)).to_dict()
    except Exception as exc:
        yield Problem(error, pointer, f"{type(exc).__name__}: {exc}")
