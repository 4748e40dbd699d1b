"""What people type reaches Jira as text: inside `{noformat}` blocks only we can end, never as wiki markup."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.domain.handoff import (
    HandoffForm,
    feedback_description,
    feedback_summary,
    follow_up_description,
    follow_up_summary,
    resolution_comment,
    ticket_description,
    ticket_summary,
)
from bot.domain.jira_text import EMPTY, link_line, literal_block, plain_line, readable
from bot.models import Client, ClientTier, FollowUp
from tests.builders import an_incident
from tests.conftest import T0
from tests.wiki_markup import UnclosedBlock, split_blocks

RENDERERS = ("cloud", "server")
PERMALINK = "https://acme.slack.com/archives/CSUPPORT/p1764493200000100"

# Each would be structure, a link, a mention, an image or a macro if Jira read it as wiki markup.
PAYLOADS = {
    "heading": "h3. Slack thread\nhttps://evil.example/login",
    "labelled link": "[Open the Slack thread|https://evil.example/login]",
    "mention": "[~admin] please approve",
    "account mention": "[~accountid:5b10a2844c20165700ede21g]",
    "image": "!https://evil.example/pixel.png!",
    "html macro": "{html}<script>alert(1)</script>{html}",
    "code macro": "{code:title=x}rm -rf /{code}",
    "bold": "*bold* _italic_ -struck- +under+ ^sup^ ~sub~ ??cite?? {{mono}}",
    "ruler": "before\n----\nafter",
    "table": "||head||head||\n|cell|cell|",
    "line break": "one\\\\two",
    "bullet list": "* first\n** second",
    "numbered list": "# first\n## second",
    "quote": "bq. quoted\n{quote}quoted{quote}",
    "colour panel": "{color:red}red{color}{panel:title=x}p{panel}",
    "anchor link": "[#anchor] [^attachment.txt] [mailto:a@evil.example]",
    "noformat breakout": "x\n{noformat}\nh1. Owned [~admin] !https://evil.example/p.png!\n{noformat}\ny",
    "noformat upper case": "{NOFORMAT}\nh1. Owned\n{NoFormat}",
    "noformat escaped name": "{no\\format}\nh1. Owned",
    "noformat split by a line": "{no\nformat}\nh1. Owned",
    "noformat empty params": "{noformat:}\nh1. Owned",
    "noformat escaped brace": "\\{noformat}\nh1. Owned",
    "trailing backslash": "ends with a backslash\\",
    "trailing brace": "ends with a brace {",
    "control characters": "a\x00b\x1bc\x07d\r\ne\u2028f",
}


# The order of the handoff's sections in the description.
SECTIONS = ["impact", "reproduction", "expected", "actual", "environment", "evidence"]


def a_form(**changes: str) -> HandoffForm:
    values = {
        "reproduction": "1. Upload the bundle",
        "expected": "It uploads.",
        "actual": "It stops at 99%.",
        "environment": "Browser: Chrome 126",
        "evidence": "https://logs.example/abc",
        "impact": "Blocked before a court filing.",
    }
    values.update(changes)
    return HandoffForm(**values)


def outside_and_blocks(wiki: str, renderer: str) -> tuple[str, list[str]]:
    split = split_blocks(wiki, renderer)
    return "\u241e".join(split.outside), split.blocks


def shown(block: str) -> str:
    """A block's body as the person typed it: without the space that keeps a `{noformat}` from ending it."""
    return block.strip("\n").replace("{ ", "{")


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("field", ["reproduction", "expected", "actual", "environment", "evidence", "impact"])
def test_a_typed_payload_stays_text_in_the_handoff_ticket(field: str, name: str, renderer: str) -> None:
    incident = an_incident()
    benign = ticket_description(incident, a_form(), PERMALINK)
    hostile = ticket_description(incident, a_form(**{field: PAYLOADS[name]}), PERMALINK)

    outside, blocks = outside_and_blocks(hostile, renderer)

    assert outside == outside_and_blocks(benign, renderer)[0], "our headings and link only, nothing typed"
    assert shown(blocks[SECTIONS.index(field)]) == shown(readable(PAYLOADS[name]).strip("\n"))


@pytest.mark.parametrize("renderer", RENDERERS)
def test_our_own_structure_stays_structure(renderer: str) -> None:
    description = ticket_description(an_incident(), a_form(), PERMALINK)
    outside, blocks = outside_and_blocks(description, renderer)
    headings = [line for line in outside.replace("\u241e", "\n").splitlines() if line.startswith("h3. ")]
    assert headings == [
        "h3. Business impact and deadline",
        "h3. Steps to reproduce",
        "h3. Expected",
        "h3. Actual",
        "h3. Environment",
        "h3. Logs and screenshots",
        "h3. Slack thread",
    ]
    assert outside.endswith(f"h3. Slack thread\n{PERMALINK}"), "the thread link is a link Jira makes clickable"
    assert [shown(b) for b in blocks] == [
        "Blocked before a court filing.",
        "1. Upload the bundle",
        "It uploads.",
        "It stops at 99%.",
        "Browser: Chrome 126",
        "https://logs.example/abc",
    ]


def test_a_noformat_typed_by_the_client_shows_with_a_space_and_nothing_else_changes() -> None:
    assert literal_block("see {noformat} and {NoFormat:x} and {code}") == (
        "{noformat}\nsee { noformat} and { NoFormat:x} and {code}\n{noformat}"
    )


def test_blank_text_is_said_to_be_empty_rather_than_an_empty_block() -> None:
    assert literal_block(" \n\t") == EMPTY
    assert "h3. Logs and screenshots\nNone attached yet; see the Slack thread." in ticket_description(
        an_incident(), a_form(evidence=""), PERMALINK
    )


def test_long_text_is_cut_inside_the_block_so_the_block_still_ends() -> None:
    block = literal_block("{noformat}" * 1000, limit=3000)
    for renderer in RENDERERS:
        assert len(split_blocks(block, renderer).blocks) == 1
    assert len(block) < 3000 + 400 and block.endswith("…\n{noformat}")


def test_the_thread_link_is_a_link_only_when_it_is_a_plain_https_url() -> None:
    assert link_line(PERMALINK, fallback="-") == PERMALINK
    assert link_line(None, fallback="INC-7 in Slack (link pending)") == "INC-7 in Slack (link pending)"
    forged = "https://x.slack.com/a|https://evil.example]"
    assert link_line(forged, fallback="-") == f"{{noformat}}\n{forged}\n{{noformat}}"
    assert link_line("javascript:alert(1)", fallback="-").startswith("{noformat}")


@pytest.mark.parametrize("renderer", RENDERERS)
def test_feedback_follow_up_and_resolution_texts_keep_what_was_typed_in_blocks(renderer: str) -> None:
    payload = PAYLOADS["noformat breakout"] + "\n" + PAYLOADS["heading"]
    incident = an_incident(
        title=payload,
        blocker=payload,
        client=Client(name=payload, name_key="x", tier=ClientTier.PREMIUM, created_at=T0),
        root_cause=payload,
        resolution=payload,
        root_permalink=PERMALINK,
    )
    follow_up = FollowUp(description=payload, owner_id=payload, due_on=date(2026, 12, 1))
    texts = [
        feedback_description(incident, payload, PERMALINK),
        follow_up_description(incident, follow_up),
        resolution_comment(incident),
        follow_up_description(incident, follow_up, owner_name=payload),
    ]
    for text in texts:
        outside, blocks = outside_and_blocks(text, renderer)
        assert "evil" not in outside and "Owned" not in outside and "[~" not in outside
        assert blocks and all("h1. Owned" in shown(b) or "Due: 2026-12-01" in shown(b) for b in blocks)
    assert "h3. Slack thread\n" + PERMALINK in texts[1]


def test_a_follow_up_ticket_names_its_owner_when_the_bot_knows_the_name() -> None:
    follow_up = FollowUp(description="Alert on timeouts", owner_id="U0PM", due_on=None)
    assert "Owner: Priya Shah (Slack user U0PM)" in follow_up_description(an_incident(), follow_up, "Priya Shah")
    assert "Owner (Slack user): U0PM" in follow_up_description(an_incident(), follow_up)


def test_summaries_are_one_clean_line_that_jira_accepts() -> None:
    incident = an_incident(title="Upload\nfails\r\n\tat 99%\x00 " + "x" * 400)
    for summary in (
        ticket_summary(incident),
        feedback_summary(incident, "stability", "up\nloads"),
        follow_up_summary(incident, "Add\na check"),
    ):
        assert "\n" not in summary and "\r" not in summary and "\x00" not in summary and "\t" not in summary
        assert len(summary) <= 250
    assert ticket_summary(incident).startswith("[INC-7] SEV2 Hartley & Moss LLP: Upload fails at 99% xxx")
    assert follow_up_summary(incident, "Add\na check") == "[INC-7] Follow-up: Add a check"
    assert plain_line("a" * 300).endswith("…") and len(plain_line("a" * 300)) == 250


# --- properties ------------------------------------------------------------------------------------

# Fragments that matter to the two renderers, mixed with arbitrary text.
FRAGMENTS = st.sampled_from(
    [
        "{noformat}",
        "{NOFORMAT}",
        "{noformat:title=x}",
        "{noformat:}",
        "{no\\format}",
        "{no\nformat}",
        "{no\rformat}",
        "\\{noformat}",
        "{",
        "}",
        "}}",
        "\\",
        "\\\\",
        "\n",
        "\r\n",
        ":",
        "noformat",
        "format}",
        "h3. ",
        "[~admin]",
        "!x.png!",
        "----",
        "||",
        "{code}",
    ]
)
TYPED = st.lists(st.one_of(FRAGMENTS, st.text(max_size=6)), max_size=30).map("".join)


@given(TYPED)
def test_any_text_ends_up_in_exactly_one_block_that_only_we_close(text: str) -> None:
    """For any text: each renderer finds one noformat block and nothing outside it; the block holds the text,
    with control characters removed and a space added after `{` where it would spell an end tag."""
    wrapped = literal_block(text, limit=10_000)
    if not readable(text).strip():
        assert wrapped == EMPTY
        return
    for renderer in RENDERERS:
        split = split_blocks(wrapped, renderer)
        assert split.outside == ["", ""] and len(split.blocks) == 1
        assert shown(split.blocks[0]) == readable(text).strip("\n").replace("{ ", "{")


@given(st.fixed_dictionaries({f: TYPED for f in SECTIONS}))
@example({f: ("\x08" if f == "evidence" else "") for f in SECTIONS})  # only a control character: no evidence
def test_any_handoff_keeps_the_text_outside_blocks_ours(fields: dict[str, str]) -> None:
    """Whatever is typed in the handoff form, the text outside blocks is what harmless answers give."""
    incident = an_incident()
    harmless = {f: ("x" if readable(v).strip() else "") for f, v in fields.items()}
    expected = ticket_description(incident, a_form(**harmless), PERMALINK)
    hostile = ticket_description(incident, a_form(**fields), PERMALINK)
    for renderer in RENDERERS:
        try:
            outside, blocks = outside_and_blocks(hostile, renderer)
        except UnclosedBlock as exc:  # pragma: no cover - the failure this test exists to catch
            pytest.fail(f"{renderer}: a block never ends: {exc}")
        assert outside == outside_and_blocks(expected, renderer)[0]
        assert len(blocks) == sum(1 for v in harmless.values() if v)
