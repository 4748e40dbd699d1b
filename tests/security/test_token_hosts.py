"""Finding 2: the bot token goes only to Slack's file hosts, never to the host a file's `url_private` names.

A remote file (`files.remote.add` by any app, shared in the incident's thread) has the `url_private` its app chose;
the engineering handoff used to fetch it with `Authorization: Bearer <bot token>`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.clock import ManualClock
from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client
from tests.e2e.conftest import AGENT, SUPPORT
from tests.e2e.test_escalation import Escalating, _stack, choose_path
from tests.e2e.test_triage_workflow import open_incident, wait_for_reply
from tests.security.attacker import Attacker, listening_attacker


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    with listening_attacker() as running:
        yield running


@pytest.fixture
def esc(database_url: str, clean_db: Engine, clock: ManualClock) -> Iterator[Escalating]:
    yield from _stack(database_url, clean_db, clock)


def test_the_handoff_skips_a_file_hosted_elsewhere_and_says_so(esc: Escalating, attacker: Attacker) -> None:
    stack, jira = esc.stack, esc.jira
    _, ts = open_incident(stack)
    stack.emulator.post_user_message(
        SUPPORT, AGENT, "console log", thread_ts=ts, files=[("console.log", "text/plain", b"ERROR upload 99%")]
    )
    stack.emulator.post_remote_file(SUPPORT, AGENT, "evil.png", f"{attacker.url}/files-pri/T1-F1/evil.png", ts)

    choose_path(stack, ts, "engineering")
    form = stack.emulator.current_modal(AGENT)
    stack.platform.submit_view(form["id"], AGENT, {"reproduction": "1. Upload it"})

    note = wait_for_reply(stack, ts, "Files from this thread")
    key = jira.issues("ENG")[0]["key"]
    assert f"went to Jira {key}: attached 1; 1 file skipped: not on Slack's file host" in note
    assert attacker.seen() == [], "no request, and so no token, went to the file's host"
    assert [a["filename"] for a in jira.attachments(key)] == ["console.log"]
    assert all(attacker.url not in link["url"] for link in jira.remote_links(key)), "nor is its URL linked"


@pytest.mark.parametrize("scheme_path", ["/files-pri/T1-F1/a.png", "/files/F1/a.txt"])
def test_a_download_from_another_host_sends_nothing_there(attacker: Attacker, scheme_path: str) -> None:
    gateway = SlackGateway(build_web_client(token="xoxb-s3cr3t", base_url="https://slack.com/api/"))

    with pytest.raises(SlackCallError) as raised:
        gateway.download(f"{attacker.url}{scheme_path}")

    assert not raised.value.retryable
    assert attacker.seen() == []
