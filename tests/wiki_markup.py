"""Models of how Jira finds `{noformat}` blocks in wiki markup, to check that typed text stays inside them.

Two renderers read a REST v2 description:
- Jira Cloud's wiki-to-ADF transformer (@atlaskit/editor-wikimarkup-transformer, `common-macro`): a block opens at
  `{noformat}` or `{noformat:params}` (any case) and ends at the next `{noformat}` spelled as it was opened;
- Jira Server / Data Center's atlassian-renderer (`WikiMarkupParser`, `MacroTag`): a tag is `{` + name [+ `:` params]
  + `}`, where a backslash, CR or LF is dropped and makes the next character part of the name; a `{` that a
  backslash escapes is not a tag; a `}` followed by an odd number of `}` does not close one; the block ends at the
  first later tag with the same name and no parameters.

`split_blocks` returns what is outside the blocks and what is inside, as each renderer sees it. An unclosed
block fails the check: the renderer would then read the rest of the text as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Split", "UnclosedBlock", "split_blocks"]

_CLOUD_OPENING = re.compile(r"\{(noformat)(?::([^{\n}]*))?\}", re.IGNORECASE)
_FORMATTING_AFTER_BRACE = "{*?^_-+~"


class UnclosedBlock(AssertionError):
    """A noformat block that never ends."""


@dataclass(frozen=True)
class Split:
    outside: list[str]
    blocks: list[str]


def split_blocks(wiki: str, renderer: str) -> Split:
    """The text outside noformat blocks and each block's body, as `renderer` ("cloud" or "server") reads `wiki`."""
    if renderer == "cloud":
        return _cloud(wiki)
    if renderer == "server":
        return _server(wiki)
    raise ValueError(renderer)


def _cloud(wiki: str) -> Split:
    outside: list[str] = []
    blocks: list[str] = []
    position = 0
    while True:
        opening = _CLOUD_OPENING.search(wiki, position)
        if opening is None:
            outside.append(wiki[position:])
            return Split(outside, blocks)
        outside.append(wiki[position : opening.start()])
        closing = "{" + opening.group(1) + "}"
        end = wiki.find(closing, opening.end())
        if end == -1:
            raise UnclosedBlock(wiki[opening.start() :][:80])
        blocks.append(wiki[opening.end() : end])
        position = end + len(closing)


@dataclass(frozen=True)
class _Tag:
    start: int
    end: int  # index of the closing `}`
    name: str
    params: str


def _tag_at(wiki: str, start: int) -> _Tag | None:
    if wiki[start] != "{" or start + 3 > len(wiki):
        return None
    name: list[str] = []
    params: list[str] = []
    in_name, literal_next = True, False
    for i in range(start + 1, len(wiki)):
        ch = wiki[i]
        if not literal_next:
            if ch == "}":
                return _finish_tag(wiki, start, i, "".join(name), "".join(params))
            if ch in "\\\r\n":
                literal_next = True
                continue
            if ch == "{":
                return None
            if ch == ":" and in_name:
                in_name = False
                continue
        else:
            literal_next = False
        (name if in_name else params).append(ch)
    return None


def _finish_tag(wiki: str, start: int, close: int, name: str, params: str) -> _Tag | None:
    if not name.strip() or name.startswith("$"):
        return None
    run = len(wiki[close:]) - len(wiki[close:].lstrip("}"))
    if close + run < len(wiki) and run % 2 == 0:
        return None
    return _Tag(start, close, name, params)


def _server_end(wiki: str, opening: _Tag) -> _Tag | None:
    escaped = False
    for i in range(opening.end + 1, len(wiki)):
        if escaped:
            escaped = False
            continue
        if wiki[i] == "\\":
            escaped = True
        elif wiki[i] == "{":
            tag = _tag_at(wiki, i)
            if tag is not None and tag.name == opening.name and not tag.params:
                return tag
    return None


def _server(wiki: str) -> Split:
    outside: list[str] = []
    blocks: list[str] = []
    last, i, escaped = 0, 0, False
    while i < len(wiki):
        ch = wiki[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "{" and i + 1 < len(wiki) and wiki[i + 1] in _FORMATTING_AFTER_BRACE:
            i += 1
        elif ch == "{":
            tag = _tag_at(wiki, i)
            if tag is not None and tag.name.lower() == "noformat":
                end = _server_end(wiki, tag)
                if end is None:
                    raise UnclosedBlock(wiki[i:][:80])
                outside.append(wiki[last:i])
                blocks.append(wiki[tag.end + 1 : end.start])
                last = i = end.end + 1
                continue
        i += 1
    outside.append(wiki[last:])
    return Split(outside, blocks)
