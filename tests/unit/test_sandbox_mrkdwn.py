"""The sandbox's mrkdwn renderer: Slack's formatting, mentions and dates, and nothing a message can smuggle in."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.web.mrkdwn import RenderContext, format_date_token, render_mrkdwn, render_plain

NOW = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
CTX = RenderContext(
    users={"U0AGENT": "Sam Rivera"},
    channels={"C0SUPPORT": "support"},
    usergroups={"S0ONCALL": "oncall"},
    now=NOW,
    zone=ZoneInfo("UTC"),
)
ALLOWED_TAGS = {"b", "i", "s", "code", "pre", "blockquote", "br", "a", "span", "time"}


class TagCollector(HTMLParser):
    """Every start tag and its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


def assert_inert(html: str) -> None:
    """Only the renderer's own tags, no event handlers, and links only to http(s) and mailto."""
    for tag, attrs in parsed_tags(html):
        assert tag in ALLOWED_TAGS, html
        assert not any(name.startswith("on") for name in attrs), html
        if tag == "a" and "href" in attrs and attrs["href"] != "#":
            assert str(attrs["href"]).startswith(("http://", "https://", "mailto:")), html


def test_a_raw_script_tag_is_shown_as_text() -> None:
    html = render_mrkdwn("<script>alert(1)</script>", CTX)
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert parsed_tags(html) == []


def test_slack_escaped_markup_is_unescaped_once_and_shown_as_text() -> None:
    assert render_mrkdwn("&lt;script&gt; &amp; co", CTX) == "&lt;script&gt; &amp; co"
    assert render_mrkdwn("&amp;lt;b&amp;gt;", CTX) == "&amp;lt;b&amp;gt;", (
        "a doubly escaped text stays visible as typed"
    )


def test_an_escaped_mention_is_text_not_a_ping() -> None:
    assert render_mrkdwn("&lt;!channel&gt; &lt;@U0AGENT&gt;", CTX) == "&lt;!channel&gt; &lt;@U0AGENT&gt;"


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*Status*\nNew", "<b>Status</b><br>New"),
        ("_Unassigned_", "<i>Unassigned</i>"),
        ("~gone~", "<s>gone</s>"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
        ("* not bold *", "* not bold *"),
        ("*bold* and _it_ ~s~", "<b>bold</b> and <i>it</i> <s>s</s>"),
        ("`<b>*x*</b>`", "<code>&lt;b&gt;*x*&lt;/b&gt;</code>"),
        ("```\nline *1*\n<tag>```", "<pre>line *1*\n&lt;tag&gt;</pre>"),
        ("*Blocker*\n>first\n&gt; second\nafter", "<b>Blocker</b><blockquote>first<br>second</blockquote>after"),
    ],
)
def test_formatting(text: str, html: str) -> None:
    assert render_mrkdwn(text, CTX) == html


def test_links_only_for_web_and_mail_addresses() -> None:
    assert render_mrkdwn("<https://example.com/a?b=1&amp;c=2|the docs>", CTX) == (
        '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the docs</a>'
    )
    assert ">mail@example.com</a>" in render_mrkdwn("<mailto:mail@example.com>", CTX)
    assert render_mrkdwn("<javascript:alert(1)|click me>", CTX) == "&lt;javascript:alert(1)|click me&gt;"
    quoted = render_mrkdwn('<https://example.com/"onmouseover="alert(1)|x>', CTX)
    assert_inert(quoted)
    assert parsed_tags(quoted)[0][1]["href"] == 'https://example.com/"onmouseover="alert(1)'


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8080", "https://sandbox.slack.local", "https://acme.slack.com"], ids=str
)
def test_a_link_to_a_message_of_this_workspace_opens_it_in_the_page(host: str) -> None:
    root = render_mrkdwn(f"<{host}/archives/C0SUPPORT/p1796029200000100|the incident thread>", CTX)
    assert root == (
        '<a href="/?c=C0SUPPORT&amp;thread=1796029200.000100" class="message-link" data-channel="C0SUPPORT" '
        'data-thread="1796029200.000100" data-ts="1796029200.000100">the incident thread</a>'
    )
    reply = render_mrkdwn(
        f"<{host}/archives/C0SUPPORT/p1796029300000200?thread_ts=1796029200.000100&amp;cid=C0SUPPORT|a reply>", CTX
    )
    assert 'data-thread="1796029200.000100" data-ts="1796029300.000200"' in reply, "opens the thread it replies in"


def test_a_link_to_a_channel_the_sandbox_does_not_have_stays_an_ordinary_link() -> None:
    html = render_mrkdwn("<https://acme.slack.com/archives/C0ELSEWHERE/p1796029200000100|elsewhere>", CTX)
    assert 'target="_blank"' in html and "message-link" not in html
    assert "message-link" not in render_mrkdwn("<https://example.com/archives/C0SUPPORT/notamessage|x>", CTX)


def test_mentions_show_names() -> None:
    html = render_mrkdwn("<@U0AGENT> <@U0NOBODY> <#C0SUPPORT> <#C0NEW|inc-7-upload> <!here> <!subteam^S0ONCALL>", CTX)
    assert '<span class="mention" data-user="U0AGENT">@Sam Rivera</span>' in html
    assert ">@U0NOBODY</span>" in html
    assert 'data-channel="C0SUPPORT">#support</a>' in html
    assert 'data-channel="C0NEW">#inc-7-upload</a>' in html
    assert '<span class="mention mention-special">@here</span>' in html
    assert ">@oncall</span>" in html


def test_a_mention_label_is_escaped() -> None:
    html = render_mrkdwn("<@U0AGENT|<img src=x onerror=alert(1)>>", CTX)
    assert_inert(html)
    assert "<img" not in html


def test_dates_are_shown_in_the_viewers_zone_relative_to_the_sandbox_clock() -> None:
    moment = int(datetime(2026, 11, 30, 16, 0, tzinfo=UTC).timestamp())
    html = render_mrkdwn(f"<!date^{moment}^{{date_short_pretty}} {{time}}|Mon 30 Nov 16:00 UTC>", CTX)
    assert html == '<time datetime="2026-11-30T16:00:00+00:00" title="Mon 30 Nov 16:00 UTC">today 16:00</time>'
    berlin = RenderContext(now=NOW, zone=ZoneInfo("Europe/Berlin"))
    assert ">today 17:00</time>" in render_mrkdwn(f"<!date^{moment}^{{date_short_pretty}} {{time}}|x>", berlin)


@pytest.mark.parametrize(
    ("template", "moment", "shown"),
    [
        ("{date_num}", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "2026-12-01"),
        ("{date_short_pretty}", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "tomorrow"),
        ("{date_short_pretty}", datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "yesterday"),
        ("{date_short_pretty}", datetime(2026, 12, 24, 9, 0, tzinfo=UTC), "Dec 24"),
        ("{date}", datetime(2026, 12, 22, 9, 0, tzinfo=UTC), "December 22nd, 2026"),
        ("{date_long}", datetime(2026, 12, 11, 9, 0, tzinfo=UTC), "Friday, December 11th, 2026"),
        ("{ago}", datetime(2026, 11, 30, 12, 5, tzinfo=UTC), "2 hours ago"),
        ("{ago}", datetime(2026, 11, 30, 14, 35, tzinfo=UTC), "in 30 minutes"),
        ("at {time_secs} {unknown}", datetime(2026, 11, 30, 9, 1, 2, tzinfo=UTC), "at 09:01:02 {unknown}"),
    ],
)
def test_date_tokens(template: str, moment: datetime, shown: str) -> None:
    assert format_date_token(template, moment, CTX) == shown


def test_a_malformed_date_falls_back_to_its_text() -> None:
    assert (
        render_mrkdwn("<!date^soon^{time}|<b>later</b>>", CTX) == "&lt;!date^soon^{time}|&lt;b&gt;later&lt;/b&gt;&gt;"
    )
    assert render_mrkdwn("<!date^notanumber^{time}|later>", CTX) == "later"


def test_plain_text_is_shown_as_typed() -> None:
    assert render_plain("*not bold* <b>\nnext") == "*not bold* &lt;b&gt;<br>next"


def test_placeholder_markers_in_the_input_cannot_pull_in_other_fragments() -> None:
    html = render_mrkdwn("\x000\x00 <@U0AGENT>", CTX)
    assert html == '0 <span class="mention" data-user="U0AGENT">@Sam Rivera</span>'


NASTY = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "<https://ok.example|<script>>",
    '<https://ok.example|" onclick="alert(1)>',
    "*<script>*",
    "_<iframe src=javascript:alert(1)>_",
    "```</pre><script>x</script>```",
    "`</code><svg onload=alert(1)>`",
    "<!date^1^{time}^javascript:alert(1)|x>",
    "<data:text/html,<script>alert(1)</script>|x>",
    "&lt;<script>&gt;",
    "> <b onmouseover=x>quote</b>",
]


@pytest.mark.parametrize("text", NASTY)
def test_nothing_a_message_contains_becomes_markup(text: str) -> None:
    assert_inert(render_mrkdwn(text, CTX))


def test_random_mixtures_of_mrkdwn_and_html_stay_inert() -> None:
    pieces = ["<", ">", "&", "*", "_", "~", "`", "```", "|", "\n", ">", "&lt;", "&gt;", "&amp;", '"', "'", "=", "!"]
    words = ["script", "img src=x onerror=alert(1)", "@U0AGENT", "#C0SUPPORT", "https://x.example", "javascript:x"]
    chooser = random.Random(7)
    for _ in range(500):
        text = "".join(chooser.choice(pieces + words) for _ in range(chooser.randint(1, 25)))
        assert_inert(render_mrkdwn(text, CTX))
