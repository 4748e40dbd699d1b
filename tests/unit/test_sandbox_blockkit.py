"""Block Kit as the sandbox page shows it: messages, controls, modal inputs with their errors, and escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)

import bot.sandbox.web as sandbox_web
from blocks.incident_modals import client_update_modal
from blocks.new_incident import new_incident_modal
from bot.domain.client_updates import draft_client_update
from bot.models import Severity
from bot.sandbox.web.blockkit import TEXTAREA_CHARS_PER_ROW, TEXTAREA_ROWS, BlockRenderer, textarea_rows
from bot.sandbox.web.messages import MessageView, render_message
from bot.sandbox.web.mrkdwn import RenderContext
from bot.sandbox.web.pages import modal_html
from tests.builders import an_incident
from tests.conftest import T0

CTX = RenderContext(
    users={"U0AGENT": "Sam Rivera", "U0ONCALL": "Olu Adeyemi", "UBOT": "triage-bot"},
    channels={"C0SUPPORT": "support", "C0ENGESC": "eng-escalations"},
    people=(("U0AGENT", "Sam Rivera"), ("U0ONCALL", "Olu Adeyemi")),
    now=datetime(2026, 11, 30, 14, 5, tzinfo=UTC),
    zone=ZoneInfo("UTC"),
)


class Elements(HTMLParser):
    """Start tags with attributes, and the text, of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def with_class(self, css_class: str) -> list[dict[str, str | None]]:
        return [attrs for _, attrs in self.tags if css_class in str(attrs.get("class", "")).split()]


def render(*blocks: Any, **options: Any) -> str:
    return BlockRenderer(CTX, **options).blocks([b if isinstance(b, dict) else b.to_dict() for b in blocks])


def test_header_section_fields_context_and_divider() -> None:
    html = render(
        HeaderBlock(text="🔴 INC-1 · <script>alert(1)</script>"),
        SectionBlock(
            text="*Blocker*\n>stops at 99%",
            fields=[MarkdownTextObject(text="*Owner*\n<@U0ONCALL>"), MarkdownTextObject(text="*Status*\nNew")],
        ),
        ContextBlock(elements=[MarkdownTextObject(text="Opened in <#C0SUPPORT>")]),
        DividerBlock(),
    )
    page = Elements(html)
    assert '<div class="bk-header">🔴 INC-1 · &lt;script&gt;alert(1)&lt;/script&gt;</div>' in html
    assert page.named("script") == []
    assert '<div class="bk-text"><b>Blocker</b><blockquote>stops at 99%</blockquote></div>' in html
    fields = page.with_class("bk-field")
    assert len(fields) == 2
    assert '<b>Owner</b><br><span class="mention" data-user="U0ONCALL">@Olu Adeyemi</span>' in html
    assert "#support</a>" in html and len(page.with_class("bk-divider")) == 1


def test_buttons_carry_their_action_and_style() -> None:
    html = render(
        ActionsBlock(
            block_id="incident_actions_1",
            elements=[
                ButtonElement(text="Acknowledge", action_id="incident_acknowledge", value="1", style="primary"),
                ButtonElement(text="Escalate", action_id="incident_escalate", value="1", style="danger"),
                ButtonElement(text="Runbook", action_id="runbook", url="https://runbooks.example/upload"),
            ],
        )
    )
    buttons = Elements(html).named("button")
    assert [b["data-action-id"] for b in buttons] == ["incident_acknowledge", "incident_escalate", "runbook"]
    assert buttons[0]["class"] == "bk-button bk-button-primary" and buttons[0]["data-value"] == "1"
    assert buttons[1]["class"] == "bk-button bk-button-danger"
    assert buttons[2]["data-url"] == "https://runbooks.example/upload"
    assert all("disabled" not in b for b in buttons)


def test_a_button_linking_elsewhere_than_the_web_gets_no_url() -> None:
    html = render(
        {"type": "actions", "elements": [{"type": "button", "text": "x", "action_id": "a", "url": "javascript:x"}]}
    )
    assert "data-url" not in html


def test_static_select_and_overflow_in_a_message() -> None:
    severity = [Option(value=s, text=f"{s} — level") for s in ("SEV1", "SEV2")]
    html = render(
        SectionBlock(
            text="Severity",
            accessory=StaticSelectElement(action_id="pick", options=severity, initial_option=severity[1]),
        ),
        ActionsBlock(
            elements=[OverflowMenuElement(action_id="more", options=[Option(value="close", text="Close <it>")])]
        ),
    )
    page = Elements(html)
    assert page.with_class("bk-action")[0]["data-action-id"] == "pick"
    options = page.named("option")
    assert [o["value"] for o in options] == ["", "SEV1", "SEV2"]
    assert "selected" in options[2] and "selected" not in options[0]
    overflow = page.with_class("bk-overflow")[0]
    assert overflow["data-action-id"] == "more" and overflow["data-type"] == "overflow"
    assert page.with_class("bk-overflow-item")[0]["data-value"] == "close"
    assert "Close &lt;it&gt;" in html


def test_option_groups_become_optgroups() -> None:
    element = {
        "type": "static_select",
        "action_id": "grouped",
        "option_groups": [
            {
                "label": {"type": "plain_text", "text": "Web"},
                "options": [{"text": {"type": "plain_text", "text": "Chrome"}, "value": "chrome"}],
            }
        ],
    }
    html = render({"type": "actions", "elements": [element]})
    assert Elements(html).named("optgroup") == [{"label": "Web"}]


def test_images_are_links_and_only_to_web_addresses() -> None:
    html = render(
        ImageBlock(image_url="https://charts.example/week.png", alt_text="incidents per week"),
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "bad"},
    )
    page = Elements(html)
    assert page.named("img") == []
    links = page.named("a")
    assert [link["href"] for link in links] == ["https://charts.example/week.png"]
    assert "🖼 bad" in html


def test_unknown_blocks_are_named_not_dropped() -> None:
    assert "[unsupported block: video]" in render({"type": "video", "title": {"type": "plain_text", "text": "x"}})


def test_the_new_incident_modal_renders_every_input_with_a_label() -> None:
    view = {**new_incident_modal(channel_id="C0SUPPORT"), "id": "V1"}
    html = modal_html(view, CTX, errors={"file_size": "Enter a size such as 250 MB."}, depth=1)
    page = Elements(html)
    inputs = page.with_class("bk-input")
    assert [i["data-block-id"] for i in inputs][:4] == ["client", "premium", "title", "severity"]
    labels = {str(attrs["for"]) for attrs in page.named("label") if attrs.get("for")}
    controls = {str(attrs["id"]) for _, attrs in page.tags if str(attrs.get("id") or "").startswith("m")}
    assert labels <= controls, "every label points at its control"
    assert [i["data-type"] for i in inputs if i["data-block-id"] == "deadline"] == ["datetimepicker"]
    file_size = next(i for i in inputs if i["data-block-id"] == "file_size")
    assert "has-error" in str(file_size["class"])
    assert '<div class="bk-error" data-error-for="file_size">Enter a size such as 250 MB.</div>' in html
    assert '<div class="bk-error" data-error-for="client"></div>' in html
    assert "Open incident</button>" in html and "Cancel</button>" in html
    assert page.with_class("modal-back") == [], "a first modal has nothing to go back to"
    assert page.with_class("modal")[0]["data-view-id"] == "V1"


def test_a_pushed_modal_has_a_back_button() -> None:
    view = {"id": "V2", "type": "modal", "title": {"type": "plain_text", "text": "Details"}, "blocks": []}
    html = modal_html(view, CTX, errors={}, depth=2)
    assert len(Elements(html).with_class("modal-back")) == 1
    assert 'type="submit"' not in html, "no submit button without `submit`"


def test_input_controls_take_their_initial_values() -> None:
    blocks = [
        InputBlock(
            block_id="note",
            label="Note",
            optional=True,
            hint="Keep it short",
            element=PlainTextInputElement(action_id="note", initial_value='He said "<hi>"', multiline=True),
        ).to_dict(),
        {
            "type": "input",
            "block_id": "when",
            "label": {"type": "plain_text", "text": "When"},
            "element": {"type": "datetimepicker", "action_id": "when", "initial_date_time": 1796036750},
        },
        {
            "type": "input",
            "block_id": "day",
            "label": {"type": "plain_text", "text": "Day"},
            "element": {"type": "datepicker", "action_id": "day", "initial_date": "2026-12-01"},
        },
        {
            "type": "input",
            "block_id": "at",
            "label": {"type": "plain_text", "text": "At"},
            "element": {"type": "timepicker", "action_id": "at", "initial_time": "09:30"},
        },
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Who"},
            "element": {"type": "users_select", "action_id": "who", "initial_user": "U0ONCALL"},
        },
        {
            "type": "input",
            "block_id": "where",
            "label": {"type": "plain_text", "text": "Where"},
            "element": {"type": "conversations_select", "action_id": "where"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "radio_buttons",
                "action_id": "kind",
                "options": [
                    {
                        "text": {"type": "mrkdwn", "text": "*Retry*"},
                        "value": "retry",
                        "description": {"type": "plain_text", "text": "every 10 min"},
                    }
                ],
                "initial_option": {"text": {"type": "mrkdwn", "text": "*Retry*"}, "value": "retry"},
            },
        },
    ]
    html = BlockRenderer(CTX).blocks(blocks)
    page = Elements(html)
    assert "He said &quot;&lt;hi&gt;&quot;</textarea>" in html
    assert "(optional)" in html and "Keep it short" in html
    inputs = {attrs.get("type"): attrs for attrs in page.named("input")}
    assert inputs["datetime-local"]["data-epoch"] == "1796036750"
    assert inputs["date"]["value"] == "2026-12-01"
    assert inputs["time"]["value"] == "09:30"
    assert inputs["radio"]["value"] == "retry" and "checked" in inputs["radio"]
    assert "<b>Retry</b>" in html and "every 10 min" in html
    selected = [o["value"] for o in page.named("option") if "selected" in o]
    assert "U0ONCALL" in selected
    assert [o["value"] for o in page.named("option")][-2:] == ["C0SUPPORT", "C0ENGESC"]


def test_an_ephemeral_message_shows_to_its_reader_with_its_controls_working() -> None:
    message = {
        "ts": "1796036750.000100",
        "user": "UBOT",
        "text": "",
        "blocks": [ActionsBlock(elements=[ButtonElement(text="Do it", action_id="go")]).to_dict()],
    }
    html = render_message(message, CTX, MessageView("C0SUPPORT", "UBOT", ephemeral=True))
    page = Elements(html)
    assert "Only visible to you" in html
    assert page.with_class("msg")[0]["data-container"] == "ephemeral"
    assert "disabled" not in page.named("button")[0], "a button only you see works, as in Slack"


def test_a_message_shows_author_time_thread_and_files() -> None:
    message = {
        "ts": "1796040300.000200",
        "user": "U0AGENT",
        "text": "see <https://x.example|this> & the chart",
        "reply_count": 2,
        "thread_ts": "1796040300.000200",
        "latest_reply": "1796040360.000300",
        "edited": {"user": "U0AGENT", "ts": "1796040301.0"},
        "files": [
            {"id": "F1", "name": "weekly chart.png", "mimetype": "image/png"},
            {"id": "F2", "name": "notes.html", "mimetype": "text/html"},
        ],
    }
    html = render_message(message, CTX, MessageView("C0SUPPORT", "UBOT"))
    page = Elements(html)
    assert page.with_class("msg")[0] == {
        "class": "msg",
        "data-container": "message",
        "data-channel": "C0SUPPORT",
        "data-ts": "1796040300.000200",
    }
    assert '<span class="msg-author">Sam Rivera</span>' in html and "APP" not in html
    assert ">12:05</time>" in html and "(edited)" in html
    assert page.with_class("thread-summary")[0]["data-open-thread"] == "1796040300.000200"
    assert "2 replies" in html and "Last reply 12:06" in html
    assert page.named("img")[0]["src"] == "/files/F1/weekly%20chart.png"
    assert "📎 notes.html" in html and len(page.named("img")) == 1
    in_thread = render_message(message, CTX, MessageView("C0SUPPORT", "UBOT", in_thread=True))
    assert "thread-summary" not in in_thread


def test_a_bot_message_without_blocks_renders_its_text_as_mrkdwn() -> None:
    message = {
        "ts": "1796040300.000200",
        "user": "UBOT",
        "bot_id": "B1",
        "text": "📟 <@U0ONCALL> you are on call for *INC-1*.",
    }
    html = render_message(message, CTX, MessageView("C0SUPPORT", "UBOT"))
    assert '<span class="app-badge">APP</span>' in html and "avatar-bot" in html
    assert "@Olu Adeyemi</span> you are on call for <b>INC-1</b>." in html


def test_the_client_update_box_opens_tall_enough_for_the_whole_draft() -> None:
    incident = an_incident(deadline_context="court filing")
    events: list[Any] = []
    draft = draft_client_update(
        incident=incident,
        events=events,
        now=T0,
        zone=ZoneInfo("UTC"),
        cadence={s: timedelta(hours=1) for s in Severity},
    )
    view = client_update_modal(incident, draft, "10:00").to_dict()
    textarea = Elements(BlockRenderer(CTX).blocks(view["blocks"])).named("textarea")[0]
    wrapped = sum(-(-max(len(line), 1) // TEXTAREA_CHARS_PER_ROW) for line in draft.split("\n"))
    assert int(str(textarea["rows"])) > wrapped, "every line of the draft shows without scrolling"
    assert textarea_rows("") == TEXTAREA_ROWS[0] and textarea_rows("x\n" * 500) == TEXTAREA_ROWS[1]


def test_images_and_charts_never_overflow_the_pane_they_are_in() -> None:
    css = (Path(sandbox_web.__file__).parent / "static" / "app.css").read_text(encoding="utf-8")
    rule = re.search(r"\.file-image \{([^}]*)\}", css)
    assert rule is not None and "max-width: min(100%" in rule[1] and "height: auto" in rule[1]
