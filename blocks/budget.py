"""Block Kit's size limits, and lists of lines cut into pages that fit them.

A list that can grow (incidents, workarounds, rotations) is shown one page at a time: every entry is on exactly
one page, every page fits a message, and a page that is not the last says how many more there are and which
command shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from bot.domain.errors import DomainError

MESSAGE_BLOCKS = 50  # blocks in a message
VIEW_BLOCKS = 100  # blocks in a modal or the Home tab
SECTION_TEXT = 3000  # characters in a section's text (slack_sdk refuses more)
SECTION_SAFE = 2900
# Slack refuses a message whose blocks hold much more than about 12,000 characters of text in all
# (`msg_blocks_too_long`; not documented, not checked by slack_sdk). A page of a list stays well under it.
PAGE_TEXT = 6000


@dataclass(frozen=True)
class Page:
    """One page of a list: its lines, its number (from 1), how many pages there are and how many entries follow."""

    lines: Sequence[str]
    number: int
    count: int
    after: int

    @property
    def is_last(self) -> bool:
        return self.number >= self.count


def paged(lines: Sequence[str], *, max_lines: int, max_chars: int = PAGE_TEXT) -> list[list[str]]:
    """The lines in order, as pages of at most `max_lines` lines and `max_chars` characters (never an empty page)."""
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        if pages[-1] and (len(pages[-1]) >= max_lines or used + len(line) > max_chars):
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line)
    return pages


def page_of(lines: Sequence[str], number: int, *, max_lines: int, max_chars: int = PAGE_TEXT) -> Page:
    """Page `number` of the lines (the last one when fewer pages exist)."""
    pages = paged(lines, max_lines=max_lines, max_chars=max_chars)
    number = max(1, min(number, len(pages)))
    after = sum(len(page) for page in pages[number:])
    return Page(lines=pages[number - 1], number=number, count=len(pages), after=after)


def page_number(args: str, command: str) -> int:
    """The page a command asks for (`2` in `/triage list 2`; 1 when none is given)."""
    typed = args.strip()
    if not typed:
        return 1
    if not typed.isdecimal() or len(typed) > 6 or int(typed) < 1:
        raise DomainError(f"The page is a number: `{command} 2`.")
    return int(typed)


def more_note(page: Page, command: str, *, noun: str = "more") -> ContextBlock | None:
    """`…and 17 more — `/triage list 3`` under a page that is not the last; None under the last."""
    if page.is_last:
        return None
    where = f"page {page.number} of {page.count}"
    return ContextBlock(
        elements=[MarkdownTextObject(text=f"…and {page.after} {noun} — `{command} {page.number + 1}` ({where})")]
    )


def lines_within(lines: Sequence[str], limit: int, *, separator: str = "\n", most: int | None = None) -> str:
    """As many whole lines as fit in `limit` characters (and at most `most`), then `…and N more` for those left
    out (never a cut line)."""
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        left = len(lines) - index - 1
        reserve = len(f"{separator}…and {left} more") if left else 0
        if index == most or used + len(separator) * bool(shown) + len(line) + reserve > limit:
            break
        shown.append(line)
        used += len(separator) * (len(shown) > 1) + len(line)
    left = len(lines) - len(shown)
    more = f"…and {left} more" if left else ""
    return separator.join([*shown, more] if more else shown)
