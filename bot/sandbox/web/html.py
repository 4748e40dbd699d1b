"""Tiny HTML building helpers: every piece of text and every attribute value is escaped on the way in."""

from __future__ import annotations

import html

__all__ = ["attrs", "esc", "tag"]

VOID_ELEMENTS = frozenset({"br", "hr", "img", "input", "meta", "link"})


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes included, so the result is safe in attribute values too)."""
    return html.escape(str(text), quote=True)


def attrs(**values: object) -> str:
    """`` name="value"`` pairs: ``class_`` becomes ``class``, ``data_x`` becomes ``data-x``; None/False are left out."""
    parts = []
    for key, value in values.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


def tag(element: str, content: str = "", /, **attributes: object) -> str:
    """An element whose ``content`` is already HTML (escape text with :func:`esc` first)."""
    opening = f"<{element}{attrs(**attributes)}>"
    return opening if element in VOID_ELEMENTS else f"{opening}{content}</{element}>"
