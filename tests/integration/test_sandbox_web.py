"""`triage-bot sandbox` in-process on free ports against a temporary SQLite file, driven over HTTP like its page.

Each action goes page -> sandbox -> signed request to the real Bolt app -> Web API calls to the emulator; the
tests read back what the page would show (`/api/state`).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.config import BOT_SCOPES
from bot.db import unit_of_work
from bot.models import Client, Incident, OncallTeam
from bot.sandbox.demo import AGENT, ESCALATIONS, LEAD, ONCALL, SUPPORT
from bot.sandbox.web.runtime import RunningSandbox, start_sandbox

JsonDict = dict[str, Any]
WAIT_SECONDS = 15.0


class Browser:
    """What the page's script does, as plain HTTP."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.url = sandbox.url

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()

    def post(self, path: str, body: JsonDict, content_type: str = "application/json") -> JsonDict:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                result: JsonDict = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                result = {"status": exc.code, **json.loads(exc.read())}
        return result

    def state(self, user: str = AGENT.id, place: str = SUPPORT.id, thread: str | None = None) -> JsonDict:
        query = {"user": user, "c": place, **({"thread": thread} if thread else {})}
        state: JsonDict = json.loads(self.get(f"/api/state?{urlencode(query)}")[2])
        return state

    def wait_for(self, predicate: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError("the page never showed it")

    def compose(self, text: str, user: str = AGENT.id, channel: str = SUPPORT.id, **extra: Any) -> JsonDict:
        return self.post("/api/compose", {"user": user, "channel": channel, "text": text, **extra})

    def modal(self, user: str = AGENT.id) -> JsonDict:
        modal: JsonDict = self.wait_for(lambda: self.state(user)["modal"])
        return modal


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    running = start_sandbox(port=0, database_url=f"sqlite:///{tmp_path / 'sandbox.db'}")
    yield running
    running.stop()


@pytest.fixture
def browser(sandbox: RunningSandbox) -> Browser:
    return Browser(sandbox)


def form(**values: Any) -> list[JsonDict]:
    types = {"premium": "checkboxes", "severity": "static_select", "frequency": "static_select"}
    return [
        {"block_id": key, "action_id": key, "type": types.get(key, "plain_text_input"), "value": value}
        for key, value in values.items()
    ]


GOOD_FORM = {
    "client": "Hartley & Moss LLP",
    "premium": ["premium"],
    "title": "Exhibit upload fails at 99%",
    "severity": "SEV1",
    "blocker": "The bundle stops at 99%",
    "file_size": "250 MB",
}


def open_incident(browser: Browser) -> str:
    """`/triage`, submit the form; returns the root message's ts once it is shown."""
    assert browser.compose("/triage")["ok"]
    modal = browser.modal()
    assert browser.post("/api/submit", {"user": AGENT.id, "view_id": modal["view_id"], "fields": form(**GOOD_FORM)})[
        "ok"
    ]
    browser.wait_for(lambda: "INC-1 · Exhibit upload fails at 99%" in browser.state()["body"])
    return str(browser.wait_for(lambda: _root_ts(browser)))


def _root_ts(browser: Browser) -> str | None:
    roots = [m for m in browser.sandbox.emulator.messages(SUPPORT.id) if m.get("bot_id")]
    return roots[0]["ts"] if roots else None


def test_the_page_lists_the_demo_workspace_and_is_locked_down(browser: Browser) -> None:
    status, headers, html = browser.get(f"/?user={AGENT.id}&c={SUPPORT.id}")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "Sam Rivera — Support agent" in html and "Olu Adeyemi — On-call engineer" in html
    assert "Priya Shah — Product manager" in html and "Lena Park — Incident lead" in html
    assert "# support" in html and "# eng-escalations" in html and "🤖 triage-bot" in html
    assert browser.get("/static/app.js")[1]["Content-Type"].startswith("text/javascript")
    refused = browser.post("/api/clock", {"minutes": 10}, content_type="text/plain")
    assert refused["status"] == 415
    assert browser.post("/api/compose", {"user": "U0INTRUDER", "channel": SUPPORT.id, "text": "hi"})["status"] == 400


def test_triage_opens_the_modal_field_errors_show_and_the_incident_opens(
    browser: Browser, sandbox: RunningSandbox
) -> None:
    modal = browser.modal() if browser.compose("/triage")["ok"] else None
    assert modal is not None and "New incident" in modal["html"]

    missing = browser.post("/api/submit", {"user": AGENT.id, "view_id": modal["view_id"], "fields": form(client="")})
    assert missing["errors"]["client"] == "Please complete this required field."
    assert browser.state()["modal"]["errors"]["client"] == "Please complete this required field."

    bad = form(**{**GOOD_FORM, "file_size": "huge"})
    answer = browser.post("/api/submit", {"user": AGENT.id, "view_id": modal["view_id"], "fields": bad})
    assert answer["errors"] == {"file_size": "Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k."}
    shown = browser.state()["modal"]
    assert shown["key"] == modal["key"], "errors leave the form (and what was typed) in place"
    assert '<div class="bk-error" data-error-for="file_size">Enter a size' in shown["html"]

    good = browser.post("/api/submit", {"user": AGENT.id, "view_id": modal["view_id"], "fields": form(**GOOD_FORM)})
    assert good == {"ok": True, "message": None, "errors": {}}
    assert browser.state()["modal"] is None
    body = browser.wait_for(lambda: (b := browser.state()["body"]) and "INC-1" in b and b)
    assert "Hartley &amp; Moss LLP · ⭐ Premium" in body and "<i>Unassigned</i>" in body
    root_ts = _root_ts(browser)
    thread = browser.wait_for(lambda: (t := browser.state(thread=root_ts)["thread"]) and "you are on call" in t and t)
    assert f'data-user="{ONCALL.id}">@Olu Adeyemi</span> you are on call for <b>INC-1</b>' in thread


def test_the_sandboxs_slack_is_as_strict_as_the_tests(browser: Browser, sandbox: RunningSandbox) -> None:
    """The manifest's scopes, Slack's rate limits and membership, and every payload checked as Slack checks it."""
    emulator = sandbox.emulator
    assert emulator.scopes == frozenset(BOT_SCOPES) and emulator.rate_limits.enabled
    lobby = emulator.add_channel("lobby", members=[AGENT.id])["id"]
    assert emulator.api("chat.postMessage", channel=lobby, text="hi")["error"] == "not_in_channel"
    modal = browser.modal() if browser.compose("/triage")["ok"] else None
    assert modal is not None
    browser.post("/api/submit", {"user": AGENT.id, "view_id": modal["view_id"], "fields": form(**GOOD_FORM)})
    browser.wait_for(lambda: "INC-1" in (browser.state()["body"] or ""))
    assert emulator.tally.validated >= 2 and emulator.tally.refused == 0


def test_fast_forward_escalates_and_acknowledge_changes_the_root(browser: Browser) -> None:
    root_ts = open_incident(browser)
    assert browser.post("/api/clock", {"user": AGENT.id, "minutes": 10})["ok"]
    assert "(+10 min)" in browser.state()["clock"]
    browser.wait_for(lambda: "has not been acknowledged after" in (browser.state(thread=root_ts)["thread"] or ""))

    clicked = browser.post(
        "/api/action", {"user": ONCALL.id, "action_id": "incident_acknowledge", "channel": SUPPORT.id, "ts": root_ts}
    )
    assert clicked["ok"]
    body = browser.wait_for(lambda: (b := browser.state(ONCALL.id)["body"]) and "Take ownership" in b and b)
    assert '<b>Owner</b><br><span class="mention" data-user="U0ONCALL">@Olu Adeyemi</span>' in body
    assert "<b>Status</b><br>Investigating" in body
    assert browser.post("/api/clock", {"user": AGENT.id, "minutes": 0})["message"].startswith("Fast-forward by")


def test_links_to_messages_open_them_in_the_page_never_at_another_host(
    browser: Browser, sandbox: RunningSandbox
) -> None:
    root_ts = open_incident(browser)

    def permalink() -> str | None:
        with unit_of_work(sandbox.services.session_factory) as session:
            return session.scalars(select(Incident.root_permalink)).one()

    link = str(browser.wait_for(permalink))
    assert link.startswith(f"{sandbox.url}/archives/{SUPPORT.id}/p"), "chat.getPermalink points at this page"
    with urllib.request.urlopen(link, timeout=30) as opened:  # a link opened in a new tab
        assert opened.status == 200
        assert opened.url == f"{sandbox.url}/?{urlencode({'c': SUPPORT.id, 'thread': root_ts})}"

    browser.post(
        "/api/action", {"user": AGENT.id, "action_id": "incident_escalate", "channel": SUPPORT.id, "ts": root_ts}
    )
    chooser = browser.modal()
    fields = [
        {"block_id": "escalation_path", "action_id": "escalation_path", "type": "radio_buttons", "value": "internal"}
    ]
    assert browser.post("/api/submit", {"user": AGENT.id, "view_id": chooser["view_id"], "fields": fields})["ok"]
    notice = browser.wait_for(
        lambda: (b := browser.state(AGENT.id, ESCALATIONS.id)["body"]) and "the incident thread" in b and b
    )
    in_page = (
        f'<a href="/?c={SUPPORT.id}&amp;thread={root_ts}" '
        f'class="message-link" data-channel="{SUPPORT.id}" data-thread="{root_ts}" data-ts="{root_ts}">'
        "the incident thread</a>"
    )
    assert in_page in notice
    assert "slack.local" not in notice and "slack.com" not in notice and 'target="_blank"' not in notice
    shown = browser.state(AGENT.id, SUPPORT.id, thread=root_ts)["thread"]
    assert shown and "INC-1" in shown, "the thread the link names opens"


def test_escalate_updates_the_modal_in_place_and_close_ends_it(browser: Browser) -> None:
    root_ts = open_incident(browser)
    browser.post(
        "/api/action", {"user": AGENT.id, "action_id": "incident_escalate", "channel": SUPPORT.id, "ts": root_ts}
    )
    chooser = browser.modal()
    assert "Which path?" in chooser["html"]
    fields = [
        {"block_id": "escalation_path", "action_id": "escalation_path", "type": "radio_buttons", "value": "engineering"}
    ]
    assert browser.post("/api/submit", {"user": AGENT.id, "view_id": chooser["view_id"], "fields": fields})["ok"]
    updated = browser.state()["modal"]
    assert updated["view_id"] == chooser["view_id"] and updated["key"] != chooser["key"], "response_action: update"
    assert "Engineering handoff" in updated["html"] and "Steps to reproduce" in updated["html"]
    assert browser.post("/api/close", {"user": AGENT.id, "view_id": updated["view_id"], "all": True})["ok"]
    assert browser.state()["modal"] is None


def test_a_pushed_modal_goes_back_then_closes(browser: Browser, sandbox: RunningSandbox) -> None:
    browser.compose("/triage")
    first = browser.modal()
    sandbox.emulator.push_modal(
        AGENT.id, {"type": "modal", "title": {"type": "plain_text", "text": "More"}, "blocks": [{"type": "divider"}]}
    )
    pushed = browser.state()["modal"]
    assert pushed["view_id"] != first["view_id"] and "modal-back" in pushed["html"]
    browser.post("/api/close", {"user": AGENT.id, "view_id": pushed["view_id"]})
    assert browser.state()["modal"]["view_id"] == first["view_id"], "Back returns to the view underneath"
    sandbox.emulator.push_modal(
        AGENT.id, {"type": "modal", "title": {"type": "plain_text", "text": "More"}, "blocks": [{"type": "divider"}]}
    )
    browser.post("/api/close", {"user": AGENT.id, "view_id": browser.state()["modal"]["view_id"], "all": True})
    assert browser.state()["modal"] is None and sandbox.emulator.modal_stack(AGENT.id) == []


def test_messages_are_posted_as_the_person_and_markup_stays_text(browser: Browser) -> None:
    before = browser.state()["version"]
    assert browser.compose("<script>alert(1)</script> @triage-bot hello")["ok"]
    assert json.loads(browser.get(f"/api/changes?since={before}")[2])["version"] > before, "open pages hear of it"
    body = browser.state()["body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert '<span class="msg-author">Sam Rivera</span>' in body
    answered = browser.wait_for(lambda: (b := browser.state()["body"]) and "1 reply" in b and b)
    assert "thread-summary" in answered, "the bot answers the mention in a thread"
    assert browser.compose("/deploy now")["message"].startswith("/deploy is not a valid command")


def test_ephemeral_answers_show_only_to_whoever_asked(browser: Browser) -> None:
    browser.compose("/triage help", channel=ESCALATIONS.id, user=LEAD.id)
    lead_view = browser.wait_for(
        lambda: (b := browser.state(LEAD.id, ESCALATIONS.id)["body"]) and "/triage list" in b and b
    )
    assert "Only visible to you" in lead_view
    assert "/triage list" not in browser.state(AGENT.id, ESCALATIONS.id)["body"]


def test_a_button_only_its_reader_sees_works_the_declarer_posts_the_report(browser: Browser) -> None:
    browser.compose("/triage report 7d", user=LEAD.id)
    offer = browser.wait_for(
        lambda: next(
            (e for e in browser.sandbox.emulator.ephemerals(SUPPORT.id, LEAD.id) if "Only you can see" in e["text"]),
            None,
        )
    )
    body = browser.state(LEAD.id)["body"]
    assert "Post in this channel" in body and 'data-container="ephemeral"' in body
    clicked = browser.post(
        "/api/action",
        {
            "user": LEAD.id,
            "action_id": "report_post_in_channel",
            "channel": SUPPORT.id,
            "ts": offer["ts"],
            "ephemeral": True,
        },
    )
    assert clicked["ok"]
    browser.wait_for(lambda: "Key learnings &amp; patterns" in browser.state(AGENT.id)["body"])


def test_app_home_renders_when_opened(browser: Browser) -> None:
    assert browser.post("/api/home", {"user": ONCALL.id})["ok"]
    home = browser.wait_for(lambda: (b := browser.state(ONCALL.id, "app-home")["body"]) and "home" in b and b)
    assert "My open incidents" in home and "On call now" in home
    assert f'data-user="{ONCALL.id}">@Olu Adeyemi</span>' in home, "the seeded rotation has the on-call engineer"
    assert browser.state(ONCALL.id, "app-home")["composer"] is None


def test_seeding_is_idempotent_across_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    for _run in range(2):
        running = start_sandbox(port=0, database_url=url)
        try:
            with unit_of_work(running.services.session_factory) as session:
                clients = session.scalar(select(func.count()).select_from(Client))
                teams = session.scalars(select(OncallTeam)).all()
                assert clients == 3
                assert [(t.name, t.escalation_channel_id) for t in teams] == [("platform", ESCALATIONS.id)]
        finally:
            running.stop()


def _deadline_counts(text: str) -> tuple[int, int, int]:
    """(met, missed, still ahead) from the report's deadlines line, as Slack or the terminal shows it."""
    found = re.search(r"(\d+) met[ ,·]+(?:❌ )?(\d+) missed[ ,·]+(?:⏳ )?(\d+) still ahead", text)
    assert found, text
    met, missed, ahead = (int(n) for n in found.groups())
    return met, missed, ahead


def test_after_fast_forward_the_cli_reads_the_sandbox_at_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`triage-bot sandbox`, +1 h past INC-1's deadline, then `triage-bot report` and `export` in the same directory:
    the CLI finds sandbox.db, agrees with `/triage report` that the deadline was missed, and its export is generated
    after the last thing it lists."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    running = start_sandbox(port=0)  # sandbox.db in the working directory, as `triage-bot sandbox` does
    try:
        browser = Browser(running)
        deadline = running.clock.now() + timedelta(minutes=30)
        assert browser.compose("/triage")["ok"]
        fields = form(**GOOD_FORM, deadline_context="court filing")
        fields.append(
            {
                "block_id": "deadline",
                "action_id": "deadline",
                "type": "datetimepicker",
                "value": str(int(deadline.timestamp())),
            }
        )
        assert browser.post("/api/submit", {"user": AGENT.id, "view_id": browser.modal()["view_id"], "fields": fields})[
            "ok"
        ]
        root_ts = str(browser.wait_for(lambda: _root_ts(browser)))
        assert browser.post("/api/clock", {"user": AGENT.id, "minutes": 60})["ok"]
        acknowledged = {"user": ONCALL.id, "action_id": "incident_acknowledge", "channel": SUPPORT.id, "ts": root_ts}
        assert browser.post("/api/action", acknowledged)["ok"]
        browser.wait_for(lambda: "Take ownership" in (browser.state(ONCALL.id)["body"] or ""))
        browser.compose("/triage report 7d", user=LEAD.id)
        answer = browser.wait_for(
            lambda: next((e for e in running.emulator.ephemerals(SUPPORT.id, LEAD.id) if "Deadlines" in str(e)), None)
        )
        bots_counts = _deadline_counts(json.dumps(answer["blocks"], ensure_ascii=False))
        sandbox_now = running.clock.now()
    finally:
        running.stop()

    env = {"DISPLAY_TIMEZONE": "UTC", "LOG_LEVEL": "WARNING"}
    report = CliRunner().invoke(cli_app, ["report", "--days", "7"], env=env)
    export = CliRunner().invoke(cli_app, ["export", "INC-1", "--format", "json"], env=env)

    assert report.exit_code == 0 and export.exit_code == 0, report.output + export.output
    assert "reading the sandbox's database ./sandbox.db" in report.stderr
    assert not (tmp_path / "triage-bot.db").exists()
    assert bots_counts == _deadline_counts(report.stdout) == (0, 1, 0), "both say: missed"
    summary = json.loads(export.stdout)
    generated = datetime.fromisoformat(summary["generated_at"])
    assert generated >= max(datetime.fromisoformat(entry["at"]) for entry in summary["timeline"])
    assert generated >= sandbox_now - timedelta(seconds=1)


def test_a_restarted_sandbox_keeps_its_fast_forwarded_clock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    first = start_sandbox(port=0, database_url=url)
    try:
        assert Browser(first).post("/api/clock", {"user": AGENT.id, "minutes": 120})["ok"]
    finally:
        first.stop()
    again = start_sandbox(port=0, database_url=url)
    try:
        assert again.clock.offset >= timedelta(hours=2), "nothing recorded after the jump: the offset itself was kept"
    finally:
        again.stop()
