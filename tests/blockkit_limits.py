"""What Slack refuses in a message or a view, checked on what the builders produce (docs/shared LIMITS.md).

slack_sdk's models check most limits when serialised (section text 3,000, options 100, option text 75 …); these
helpers parse every block back through them and add what slack_sdk does not check: 50 blocks in a message,
100 in a view, the total text of a message (Slack answers `msg_blocks_too_long` near 12,000 characters: we keep
well under), and that no typed text was cut inside an `&amp;`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from blocks.incident import Message

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 10_000  # comfortably under msg_blocks_too_long
SECTION_TEXT = 3000
HALF_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def _as_dict(block: Block | dict[str, Any]) -> dict[str, Any]:
    return block.to_dict() if isinstance(block, Block) else block


def _texts(value: object) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _mrkdwn_texts(value: object) -> Iterable[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from _mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _mrkdwn_texts(item)


def text_length(blocks: Sequence[Block | dict[str, Any]]) -> int:
    return sum(len(text) for block in blocks for text in _texts(_as_dict(block)))


def _check_blocks(blocks: Sequence[Block | dict[str, Any]]) -> list[dict[str, Any]]:
    dicts = [_as_dict(block) for block in blocks]
    for block in dicts:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack_sdk does not know this block: {block}"
        assert parsed.to_dict() is not None  # serialising validates every limit slack_sdk knows
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT, "section text over 3,000 characters"
    for text in (t for block in dicts for t in _mrkdwn_texts(block)):
        assert not HALF_ENTITY.search(text), f"text cut inside an entity: …{text[-40:]!r}"
    return dicts


def check_message_blocks(blocks: Sequence[Block | dict[str, Any]]) -> int:
    """Assert Slack would take these blocks as one message; their total text length."""
    _check_blocks(blocks)
    assert len(blocks) <= MESSAGE_BLOCKS, f"{len(blocks)} blocks in a message"
    total = text_length(blocks)
    assert total <= MESSAGE_TEXT, f"{total} characters of block text in one message"
    return total


def check_message(message: Message) -> int:
    assert len(message.text) <= 4000, "notification text beyond what Slack recommends"
    return check_message_blocks(message.blocks)


def check_view(view: View | dict[str, Any]) -> dict[str, Any]:
    """Assert Slack would take this modal or Home tab; its dict."""
    as_dict = view.to_dict() if isinstance(view, View) else view
    View(**{k: v for k, v in as_dict.items() if k not in ("id", "state", "hash")}).to_dict()
    assert len(as_dict["blocks"]) <= VIEW_BLOCKS, f"{len(as_dict['blocks'])} blocks in a view"
    _check_blocks(as_dict["blocks"])
    return as_dict
