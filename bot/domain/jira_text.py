"""Text for Jira (REST v2 wiki markup): what people typed is shown as they typed it, never read as markup.

The rule: every value a person typed — or that came back from Slack, where anyone can forge it — goes into
a `{noformat}` block (`literal_block`); everything outside those blocks is text we wrote. Inside a noformat
block Jira renders nothing: no headings (`h3.`), links (`[label|url]`), mentions (`[~admin]`), images
(`!url!`), macros (`{html}`, `{code}`), effects (`*bold*`), rules (`----`), tables (`||`), breaks (`\\\\`) or
list markers. So the one thing to neutralise is what would end the block early — an end tag:

- Jira Cloud (the wiki-to-ADF transformer) ends a noformat block at the next `{noformat}`, exactly;
- Jira Server / Data Center (the atlassian-renderer) at the next `{` whose name reads `noformat` once every
  backslash, CR and LF in it is dropped (each of those makes the next character literal), with no parameters.

`literal_block` puts a space after every `{` that starts such a spelling (any case), so `{noformat}` typed by a
client shows as `{ noformat}` and the block ends only where we end it. A value is cut *before* it is wrapped:
cutting a finished description could drop the closing tag, and an unclosed block is rendered as wiki markup.

Summaries and remote-link titles are plain-text fields (Jira refuses a summary with a line break):
`plain_line` makes them one clean line.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["EMPTY", "END_TAG_START", "SUMMARY_LIMIT", "link_line", "literal_block", "plain_line", "readable"]

NOFORMAT = "{noformat}"
EMPTY = "(none given)"
SUMMARY_LIMIT = 250  # Jira refuses 255 and more
_ESCAPES = r"[\\\r\n]*"
# A `{` followed by the letters of "noformat", each maybe preceded by characters a renderer drops.
END_TAG_START = re.compile(r"\{(?=" + "".join(_ESCAPES + letter for letter in "noformat") + ")", re.IGNORECASE)
# A link we put in a ticket (a Slack permalink): https, and no character wiki markup would read.
_PLAIN_URL = re.compile(r"https://[A-Za-z0-9.\-/:?=&%]+")
_LINE_SEPARATORS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"})


def readable(text: str) -> str:
    """The text with control characters removed (line breaks and tabs kept, every line break as `\\n`)."""
    unified = text.replace("\r\n", "\n").translate(_LINE_SEPARATORS)
    return "".join(ch for ch in unified if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def literal_block(text: str, *, limit: int = 3000) -> str:
    """`text` (cut to `limit` characters) in a `{noformat}` block that only our closing tag can end.

    Blank text gives `EMPTY` instead of an empty block.
    """
    body = readable(text).strip("\n")
    if not body.strip():
        return EMPTY
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    return f"{NOFORMAT}\n{END_TAG_START.sub('{ ', body)}\n{NOFORMAT}"


def plain_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line for a plain-text field: no control characters, whitespace runs as one space, at most `limit`."""
    line = " ".join(readable(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def link_line(url: str | None, *, fallback: str) -> str:
    """A URL we got from Slack on a line of its own (Jira links it); anything else as a literal block."""
    if url is None:
        return fallback
    return url if _PLAIN_URL.fullmatch(url) else literal_block(url, limit=500)
