"""Block Kit to HTML: the blocks of messages, App Home tabs and modals.

Interactive elements carry ``data-action-id`` (and ``data-type``) so the page can send a ``block_actions`` for
them; inputs of a modal carry ``data-block-id`` / ``data-action-id`` on their ``.bk-input`` wrapper so the
page can collect the form. All text goes through :mod:`bot.sandbox.web.mrkdwn` or :func:`esc`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.sandbox.web.html import esc, tag
from bot.sandbox.web.mrkdwn import RenderContext, render_mrkdwn, render_plain

__all__ = ["BlockRenderer", "text_object"]

JsonDict = dict[str, Any]
TEXT_INPUT_TYPES = {
    "plain_text_input": "text",
    "email_text_input": "email",
    "url_text_input": "url",
    "number_input": "number",
    "rich_text_input": "text",
}
SELECT_TYPES = {"static_select", "external_select", "multi_static_select", "multi_external_select"}
USER_SELECT_TYPES = {"users_select", "multi_users_select"}
CHANNEL_SELECT_TYPES = {
    "conversations_select",
    "channels_select",
    "multi_conversations_select",
    "multi_channels_select",
}
CHANNEL_INITIAL_KEYS = ("initial_conversation", "initial_channel", "initial_conversations", "initial_channels")
# A multiline input opens tall enough for what is in it (a drafted client update), within these many rows.
TEXTAREA_ROWS = (4, 24)
TEXTAREA_CHARS_PER_ROW = 64  # about what a modal's input holds in a line


def textarea_rows(text: str) -> int:
    """Rows that show all of `text` (lines wrapped at about a modal's width) and one more, within TEXTAREA_ROWS."""
    fewest, most = TEXTAREA_ROWS
    needed = sum(max(1, -(-len(line) // TEXTAREA_CHARS_PER_ROW)) for line in text.split("\n")) + 1 if text else 0
    return max(fewest, min(most, needed))


def text_object(obj: Any, ctx: RenderContext) -> str:
    """A text object (``plain_text`` / ``mrkdwn``) or a bare string, as HTML."""
    if isinstance(obj, str):
        return render_plain(obj)
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return render_mrkdwn(text, ctx) if obj.get("type") == "mrkdwn" else render_plain(text)


def _plain(obj: Any) -> str:
    """The raw text of a text object (for places that only take plain text, like ``<option>``)."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _options(element: JsonDict) -> list[tuple[str | None, list[JsonDict]]]:
    """Options as (group label, options) pairs; ungrouped options have no label."""
    if element.get("option_groups"):
        return [(_plain(g.get("label")), list(g.get("options", []))) for g in element["option_groups"]]
    return [(None, list(element.get("options", [])))]


def _initial_values(element: JsonDict) -> set[str]:
    chosen: list[Any] = []
    for key in ("initial_option", "initial_options"):
        value = element.get(key)
        chosen.extend(value if isinstance(value, list) else [value] if value else [])
    values = {str(option.get("value")) for option in chosen if isinstance(option, dict)}
    for key in ("initial_user", "initial_users", *CHANNEL_INITIAL_KEYS):
        value = element.get(key)
        values.update(str(v) for v in (value if isinstance(value, list) else [value] if value else []))
    return values


@dataclass
class BlockRenderer:
    """Renders blocks for one surface.

    ``interactive`` False disables every control; ``errors`` are a modal's
    ``response_action: errors`` by block_id.
    """

    ctx: RenderContext
    interactive: bool = True
    errors: Mapping[str, str] = field(default_factory=dict)
    id_prefix: str = "bk"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _new_id(self) -> str:
        """A page-unique element id (labels point at their control with it)."""
        return f"{self.id_prefix}{next(self._ids)}"

    # ------------------------------------------------------------------ blocks

    def blocks(self, blocks: Iterable[JsonDict]) -> str:
        return "".join(self.block(block) for block in blocks if isinstance(block, dict))

    def block(self, block: JsonDict) -> str:
        renderers: dict[str, Callable[[JsonDict], str]] = {
            "header": self._header,
            "section": self._section,
            "context": self._context,
            "divider": lambda _b: tag("hr", class_="bk-divider"),
            "actions": self._actions,
            "image": self._image_block,
            "input": self._input,
            "rich_text": self._rich_text,
            "file": lambda b: tag("div", esc(f"📎 File {b.get('file_id', '')}"), class_="bk-context"),
        }
        renderer = renderers.get(str(block.get("type")))
        if renderer is None:
            return tag("div", esc(f"[unsupported block: {block.get('type')}]"), class_="bk-unsupported")
        return renderer(block)

    def _header(self, block: JsonDict) -> str:
        return tag("div", text_object(block.get("text"), self.ctx), class_="bk-header")

    def _section(self, block: JsonDict) -> str:
        parts = []
        if block.get("text"):
            parts.append(tag("div", text_object(block["text"], self.ctx), class_="bk-text"))
        if block.get("fields"):
            fields = "".join(tag("div", text_object(f, self.ctx), class_="bk-field") for f in block["fields"])
            parts.append(tag("div", fields, class_="bk-fields"))
        body = tag("div", "".join(parts), class_="bk-section-body")
        accessory = block.get("accessory")
        side = tag("div", self.action_element(accessory), class_="bk-accessory") if accessory else ""
        return tag("div", body + side, class_="bk-section", data_block_id=block.get("block_id"))

    def _context(self, block: JsonDict) -> str:
        items = []
        for element in block.get("elements", []):
            if element.get("type") == "image":
                items.append(self._image_link(element.get("image_url"), element.get("alt_text")))
            else:
                items.append(tag("span", text_object(element, self.ctx)))
        return tag("div", "".join(items), class_="bk-context")

    def _actions(self, block: JsonDict) -> str:
        elements = "".join(self.action_element(e) for e in block.get("elements", []))
        return tag("div", elements, class_="bk-actions", data_block_id=block.get("block_id"))

    def _image_block(self, block: JsonDict) -> str:
        title = _plain(block.get("title")) or block.get("alt_text")
        return tag("div", self._image_link(block.get("image_url"), title), class_="bk-image")

    def _image_link(self, url: Any, label: Any) -> str:
        text = f"🖼 {label or 'image'}"
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return tag("a", esc(text), href=url, target="_blank", rel="noopener noreferrer", class_="bk-image-link")
        return tag("span", esc(text), class_="bk-image-link")

    def _rich_text(self, block: JsonDict) -> str:
        def walk(node: Any) -> str:
            if isinstance(node, dict):
                if node.get("type") == "text":
                    return esc(node.get("text", ""))
                if node.get("type") == "link":
                    return esc(node.get("text") or node.get("url", ""))
                return "".join(walk(child) for child in node.get("elements", []))
            return ""

        return tag("div", walk(block).replace("\n", "<br>"), class_="bk-text")

    def _input(self, block: JsonDict) -> str:
        element = block.get("element") or {}
        control_id = self._new_id()
        optional = tag("span", "(optional)", class_="bk-optional") if block.get("optional") else ""
        label = tag("label", esc(_plain(block.get("label"))) + " " + optional, for_=control_id, class_="bk-label")
        hint = tag("div", text_object(block.get("hint"), self.ctx), class_="bk-hint") if block.get("hint") else ""
        block_id = str(block.get("block_id", ""))
        error = tag("div", esc(self.errors.get(block_id, "")), class_="bk-error", data_error_for=block_id)
        return tag(
            "div",
            label + self.control(element, control_id) + hint + error,
            class_="bk-input" + (" has-error" if self.errors.get(block_id) else ""),
            data_block_id=block_id,
            data_action_id=element.get("action_id"),
            data_type=element.get("type"),
            data_optional="true" if block.get("optional") else "false",
        )

    # ------------------------------------------------------------------ elements

    def action_element(self, element: JsonDict) -> str:
        """An element that sends ``block_actions`` when used (buttons, selects and pickers outside inputs)."""
        etype = str(element.get("type"))
        if etype == "button":
            return self._button(element)
        if etype == "overflow":
            return self._overflow(element)
        if etype == "image":
            return self._image_link(element.get("image_url"), element.get("alt_text"))
        control = self.control(element, self._new_id())
        return tag("span", control, class_="bk-action", data_action_id=element.get("action_id"), data_type=etype)

    def _disabled(self) -> bool:
        return not self.interactive

    def _button(self, element: JsonDict) -> str:
        style = element.get("style")
        classes = "bk-button" + (f" bk-button-{style}" if style in ("primary", "danger") else "")
        confirm = element.get("confirm")
        return tag(
            "button",
            esc(_plain(element.get("text"))),
            type="button",
            class_=classes,
            data_action_id=element.get("action_id"),
            data_type="button",
            data_value=element.get("value"),
            data_url=element.get("url") if str(element.get("url", "")).startswith(("http://", "https://")) else None,
            data_confirm=_plain((confirm or {}).get("text")) if confirm else None,
            disabled=self._disabled(),
        )

    def _overflow(self, element: JsonDict) -> str:
        items = "".join(
            tag(
                "button",
                esc(_plain(o.get("text"))),
                type="button",
                class_="bk-overflow-item",
                data_value=o.get("value"),
            )
            for o in element.get("options", [])
        )
        toggle = tag(
            "button",
            "⋯",
            type="button",
            class_="bk-overflow-toggle",
            aria_label="More actions",
            disabled=self._disabled(),
        )
        menu = tag("div", items, class_="bk-overflow-menu", hidden=True)
        return tag(
            "span", toggle + menu, class_="bk-overflow", data_action_id=element.get("action_id"), data_type="overflow"
        )

    def control(self, element: JsonDict, control_id: str) -> str:
        """The form control for an input or picker element."""
        etype = str(element.get("type"))
        if etype in TEXT_INPUT_TYPES:
            return self._text_input(element, control_id)
        if etype in SELECT_TYPES | USER_SELECT_TYPES | CHANNEL_SELECT_TYPES:
            return self._select(element, control_id)
        if etype in ("checkboxes", "radio_buttons"):
            return self._choices(element, control_id)
        if etype in ("datepicker", "timepicker", "datetimepicker"):
            return self._picker(element, control_id)
        return tag("span", esc(f"[unsupported element: {etype}]"), class_="bk-unsupported", id=control_id)

    def _text_input(self, element: JsonDict, control_id: str) -> str:
        etype = str(element.get("type"))
        common: dict[str, object] = {
            "id": control_id,
            "class_": "bk-control",
            "placeholder": _plain(element.get("placeholder")) or None,
            "maxlength": element.get("max_length"),
            "minlength": element.get("min_length"),
            "disabled": self._disabled(),
        }
        initial = element.get("initial_value")
        if etype == "rich_text_input" and isinstance(initial, dict):
            initial = _rich_text_plain(initial)
        if element.get("multiline") or etype == "rich_text_input":
            return tag("textarea", esc(initial or ""), rows=textarea_rows(initial or ""), **common)
        step = "any" if element.get("is_decimal_allowed") else None
        return tag("input", type=TEXT_INPUT_TYPES[etype], value=initial, step=step, **common)

    def _select(self, element: JsonDict, control_id: str) -> str:
        etype = str(element.get("type"))
        chosen = _initial_values(element)
        multiple = etype.startswith("multi_")
        placeholder = _plain(element.get("placeholder")) or ("Select options" if multiple else "Select an option")
        body = "" if multiple else tag("option", esc(placeholder), value="", selected=not chosen)
        for group, options in self._select_options(element):
            rendered = "".join(
                tag("option", esc(text), value=value, selected=value in chosen) for value, text in options
            )
            body += tag("optgroup", rendered, label=group) if group is not None else rendered
        return tag(
            "select",
            body,
            id=control_id,
            class_="bk-control bk-select",
            multiple=multiple,
            disabled=self._disabled(),
            data_placeholder=placeholder,
        )

    def _select_options(self, element: JsonDict) -> list[tuple[str | None, list[tuple[str, str]]]]:
        etype = str(element.get("type"))
        if etype in USER_SELECT_TYPES:
            return [(None, [(user_id, name) for user_id, name in self.ctx.people])]
        if etype in CHANNEL_SELECT_TYPES:
            return [(None, [(channel_id, f"#{name}") for channel_id, name in self.ctx.channels.items()])]
        return [
            (group, [(str(o.get("value")), _plain(o.get("text"))) for o in options])
            for group, options in _options(element)
        ]

    def _choices(self, element: JsonDict, control_id: str) -> str:
        kind = "checkbox" if element.get("type") == "checkboxes" else "radio"
        chosen = _initial_values(element)
        rows = []
        for index, option in enumerate(element.get("options", [])):
            value = str(option.get("value"))
            box = tag(
                "input",
                type=kind,
                name=control_id,
                value=value,
                checked=value in chosen,
                disabled=self._disabled(),
                id=control_id if index == 0 else None,
            )
            description = option.get("description")
            extra = tag("div", text_object(description, self.ctx), class_="bk-hint") if description else ""
            text = tag("span", text_object(option.get("text"), self.ctx) + extra, class_="bk-choice-text")
            rows.append(tag("label", box + text, class_="bk-choice"))
        return tag("div", "".join(rows), class_="bk-choices")

    def _picker(self, element: JsonDict, control_id: str) -> str:
        etype = element.get("type")
        common: dict[str, object] = {"id": control_id, "class_": "bk-control", "disabled": self._disabled()}
        if etype == "datepicker":
            initial = element.get("initial_date")
            valid = isinstance(initial, str) and _is_iso_date(initial)
            return tag("input", type="date", value=initial if valid else None, **common)
        if etype == "timepicker":
            return tag("input", type="time", value=element.get("initial_time"), **common)
        return tag("input", type="datetime-local", data_epoch=element.get("initial_date_time"), **common)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _rich_text_plain(value: JsonDict) -> str:
    def walk(node: Any) -> str:
        if isinstance(node, dict):
            return str(node.get("text", "")) + "".join(walk(c) for c in node.get("elements", []))
        return ""

    return walk(value)
