"""`triage-bot sandbox` in a real browser: headless Debian Chromium driven by Playwright (never its own browsers).

One walk through the playbook's first minutes: `/triage`, a field error, the incident opened, the on-call page in
the thread, the clock fast-forwarded past the acknowledgement window, Acknowledge as the on-call engineer. It ends
by saving the README's screenshot (docs/sandbox.png) and checking that markup typed into a message stays text.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "sandbox.png"
STARTUP_SECONDS = 30.0
WAIT_MS = 10_000

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("Playwright is not installed (pip install -e '.[test]')", allow_module_level=True)
if not CHROMIUM.exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _triage_bot() -> str:
    beside_python = Path(sys.executable).with_name("triage-bot")
    found = str(beside_python) if beside_python.exists() else shutil.which("triage-bot")
    assert found, "the triage-bot command is not installed (pip install -e .)"
    return found


def _wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"triage-bot sandbox exited early: {process.communicate()}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"triage-bot sandbox did not serve {url} within {STARTUP_SECONDS} s")


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """`triage-bot sandbox` as a process in an empty directory; Ctrl-C (SIGINT) must stop it cleanly."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        [_triage_bot(), "sandbox", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"open {url}" in out and "stopped." in out
    assert (tmp_path / "sandbox.db").exists(), "the embedded SQLite database lives in the working directory"


@pytest.fixture
def page(sandbox_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC", locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{sandbox_url}/?user=U0AGENT&c=C0SUPPORT")
        yield page
        browser.close()


def _fill_new_incident(page: Page, *, file_size: str) -> None:
    dialog = page.get_by_role("dialog")
    deadline = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    dialog.get_by_label("Client / account").fill("Hartley & Moss LLP")
    dialog.get_by_label("Premium client").check()
    dialog.get_by_label("Incident title").fill("Exhibit upload fails at 99%")
    dialog.get_by_label("Severity").select_option("SEV1")
    dialog.get_by_label("Client's deadline (date and time)").fill(deadline)
    dialog.get_by_label("What the deadline is").fill("court filing")
    dialog.get_by_label("The blocker, in the client's words").fill(
        "The 250 MB exhibit bundle stops at 99% with 'Network error'."
    )
    dialog.get_by_label("Affected workflow").fill("document upload")
    dialog.get_by_label("Region").fill("eu-west")
    dialog.get_by_label("File size").fill(file_size)
    dialog.get_by_label("Browser and version").fill("Chrome 126")
    dialog.get_by_label("Operating system").fill("Windows 11")
    dialog.get_by_label("When it started").fill("today 09:40")
    dialog.get_by_label("How often it happens").select_option("every time")


def test_open_an_incident_acknowledge_it_and_take_the_screenshot(page: Page, tmp_path: Path) -> None:
    """The screenshot goes to a temporary file; `UPDATE_SCREENSHOT=1` writes the README's (docs/sandbox.png)."""
    composer = page.get_by_label("Message", exact=True)
    composer.fill("/triage")
    composer.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="New incident")).to_be_visible()

    _fill_new_incident(page, file_size="huge")
    dialog.get_by_role("button", name="Open incident").click()
    file_size = dialog.locator('.bk-input[data-block-id="file_size"]')
    expect(file_size.locator(".bk-error")).to_have_text("Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k.")
    expect(dialog.get_by_label("Incident title")).to_have_value("Exhibit upload fails at 99%")

    dialog.get_by_label("File size").fill("250 MB")
    dialog.get_by_role("button", name="Open incident").click()
    expect(dialog).to_be_hidden()

    root = page.locator("#main-body .msg", has_text="INC-1 · Exhibit upload fails at 99%")
    expect(root).to_contain_text("Hartley & Moss LLP · ⭐ Premium")
    expect(root).to_contain_text("Unassigned")
    root.locator(".thread-summary").click()
    thread = page.locator("#thread-body")
    expect(thread).to_contain_text("@Olu Adeyemi you are on call for INC-1.")

    page.get_by_role("button", name="+10 min").click()
    expect(thread).to_contain_text("INC-1 (SEV1) has not been acknowledged after")

    page.locator("#act-as").select_option("U0ONCALL")
    root.get_by_role("button", name="Acknowledge").click()
    expect(root.get_by_role("button", name="Take ownership")).to_be_visible()
    owner = root.locator(".bk-field", has_text="Owner")
    expect(owner).to_contain_text("@Olu Adeyemi")
    expect(root.locator(".bk-field", has_text="Status")).to_contain_text("Investigating")

    README_SCREENSHOT.parent.mkdir(exist_ok=True)
    screenshot = README_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "sandbox.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.read_bytes().startswith(b"\x89PNG")

    page.get_by_role("link", name="# eng-escalations").click()
    markup = '<img src=x onerror="window.injected=1"><script>window.injected=2</script>'
    composer.fill(markup)
    composer.press("Enter")
    expect(page.locator("#main-body .msg", has_text="<script>")).to_contain_text(
        '<img src=x onerror="window.injected=1">'
    )
    assert page.evaluate("window.injected") is None


def test_links_stay_in_the_sandbox_charts_fit_and_the_update_box_shows_the_draft(page: Page, sandbox_url: str) -> None:
    """Works on any machine: no host the browser can't reach, nothing wider than its pane, no hidden draft."""
    composer = page.get_by_label("Message", exact=True)
    composer.fill("/triage")
    composer.press("Enter")
    dialog = page.get_by_role("dialog")
    _fill_new_incident(page, file_size="250 MB")
    dialog.get_by_role("button", name="Open incident").click()
    expect(dialog).to_be_hidden()
    root = page.locator("#main-body .msg", has_text="INC-1 · Exhibit upload fails at 99%")
    expect(root.locator(".bk-header")).to_have_text(re.compile(r"^🔴 SEV1 · INC-1 · "))

    root.get_by_role("button", name="Client update").click()
    draft = dialog.locator("textarea")
    expect(draft).to_have_value(re.compile("We will update you again by"))
    assert draft.evaluate("box => box.scrollHeight <= box.clientHeight"), "the whole draft shows without scrolling"
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    root.get_by_role("button", name="Escalate").click()
    dialog.get_by_label("Internal notice").check()
    dialog.get_by_role("button", name="Next").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("link", name="# eng-escalations").click()
    page.locator("#main-body a", has_text="the incident thread").click()
    expect(page.locator("#thread-body")).to_contain_text("you are on call for INC-1")
    expect(page.locator("#main-header")).to_contain_text("support")
    assert page.url.startswith(f"{sandbox_url}/?") and "thread=" in page.url, page.url

    page.locator("#act-as").select_option("U0LEAD")
    composer.fill("/triage report 30d")
    composer.press("Enter")
    page.get_by_role("button", name="Post in this channel").click()
    report = page.locator("#main-body .msg", has_text="Key learnings & patterns")
    report.locator(".thread-summary").click()
    charts = page.locator("#thread-body img.file-image")
    expect(charts.first).to_be_visible()
    pane = page.locator("#thread-body").bounding_box()
    assert pane is not None
    for index in range(charts.count()):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        expect(chart).to_have_js_property("complete", True)
        box = chart.bounding_box()
        assert box is not None and box["x"] >= pane["x"] and box["x"] + box["width"] <= pane["x"] + pane["width"]


SLACK_IDS = re.compile(r"\b[UCGS]0[A-Z0-9]{3,}\b")  # the demo workspace's ids: U0AGENT, C0SUPPORT, …


def _choose_path(page: Page, root: Any, value: str, then: str | None = None) -> None:
    """Escalate on one path; `then` is the heading of the form that follows (None: nothing more to ask)."""
    root.get_by_role("button", name="Escalate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Escalate")).to_be_visible()
    dialog.locator(f'input[type=radio][value="{value}"]').check()
    dialog.get_by_role("button", name="Next").click()
    if then is None:
        expect(dialog).to_be_hidden()
    else:
        expect(dialog.get_by_role("heading", name=then)).to_be_visible()


def _shown_text(page: Page) -> str:
    return page.locator("#main-body").inner_text() + page.locator("#thread-body").inner_text()


def test_a_whole_incident_as_a_new_user_names_people_ends_resolved_and_stays_in_the_sandbox(
    page: Page, sandbox_url: str, tmp_path: Path
) -> None:
    """Open, acknowledge, escalate on all four paths, a workaround with a check-in, a client update, resolve, then
    the summary, the report and the export: names and never ids, no live countdown once resolved, and every link
    on the page inside the sandbox."""
    composer = page.get_by_label("Message", exact=True)
    dialog = page.get_by_role("dialog")
    composer.fill("/triage")
    composer.press("Enter")
    _fill_new_incident(page, file_size="250 MB")
    dialog.get_by_role("button", name="Open incident").click()
    expect(dialog).to_be_hidden()
    root = page.locator("#main-body .msg", has_text="INC-1 · Exhibit upload fails at 99%")
    root.locator(".thread-summary").click()
    thread = page.locator("#thread-body")
    expect(thread).to_contain_text("@Olu Adeyemi you are on call for INC-1.")

    page.locator("#act-as").select_option("U0ONCALL")
    root.get_by_role("button", name="Acknowledge").click()
    expect(root.locator(".bk-field", has_text="Owner")).to_contain_text("@Olu Adeyemi")

    _choose_path(page, root, "internal")
    _choose_path(page, root, "engineering", "Engineering handoff")
    dialog.get_by_label("Steps to reproduce").fill("1. Upload the 250 MB bundle in Chrome 126\n2. It stops at 99%")
    dialog.get_by_role("button", name="Record handoff").click()
    expect(dialog).to_be_hidden()
    _choose_path(page, root, "product_feedback", "Product feedback")
    dialog.get_by_label("Messaging — confusing UI or error text").check()
    dialog.get_by_label("Product area").select_option(label="document-upload")
    dialog.get_by_role("button", name="File feedback").click()
    expect(dialog).to_be_hidden()
    page.locator("#act-as").select_option("U0LEAD")
    _choose_path(page, root, "incident_management", "Incident management")
    dialog.get_by_label("Incident lead").select_option(label="Lena Park")
    dialog.get_by_role("button", name="Declare").click()
    expect(dialog).to_be_hidden()
    expect(root).to_contain_text("Incident management in #inc-1-exhibit-upload-fails-at-99 · incident lead @Lena Park")
    expect(root).to_contain_text("Internal notice: posted in #eng-escalations")

    page.locator("#act-as").select_option("U0ONCALL")
    root.get_by_role("button", name="Start a workaround").click()
    expect(dialog.get_by_role("heading", name="Start a workaround")).to_be_visible()
    dialog.get_by_label("What exactly").fill("Retry the upload from Chrome")
    dialog.get_by_label("What the client was told to expect").fill("We retry every 10 minutes")
    dialog.get_by_role("button", name="Start").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="+10 min").click()
    checkin = thread.locator(".msg", has_text="Retry #1 for INC-1 is due")
    checkin.get_by_role("button", name="Still failing").click()
    expect(checkin).to_contain_text("Still failing")
    expect(checkin.get_by_role("button", name="Still failing")).to_have_count(0)

    root.get_by_role("button", name="Client update").click()
    expect(dialog.get_by_role("heading", name=re.compile("update", re.IGNORECASE))).to_be_visible()
    dialog.get_by_role("button", name="Record update").click()
    expect(dialog).to_be_hidden()
    expect(thread).to_contain_text("@Olu Adeyemi recorded a client update")

    root.get_by_role("button", name="Resolve").click()
    expect(dialog.get_by_role("heading", name="Resolve incident")).to_be_visible()
    dialog.get_by_label("Root cause").fill("The upload proxy timed out bundles over 200 MB")
    dialog.get_by_label("Resolution").fill("Proxy timeout raised; the bundle uploaded")
    dialog.get_by_role("button", name="Resolve").click()
    expect(dialog).to_be_hidden()
    expect(root.locator(".bk-field", has_text="Status")).to_contain_text("Resolved")
    deadline = root.locator(".bk-field", has_text=re.compile(r"^Deadline"))
    expect(deadline).to_contain_text("met")
    assert not re.search(r"\(in \d", deadline.inner_text()), "no live countdown once resolved"
    expect(root).not_to_contain_text("Next check-in")

    composer.fill("/triage summary INC-1")
    composer.press("Enter")
    expect(page.locator("#main-body")).to_contain_text("Only visible to you")
    composer.fill("/triage report 30d")
    composer.press("Enter")
    expect(page.locator("#main-body .msg", has_text="Key learnings & patterns").last).to_be_visible()

    shown = _shown_text(page)
    assert SLACK_IDS.findall(shown) == [], "people and channels are shown by name"
    for href in page.locator("a[href]").evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith(sandbox_url), f"a link leaves the sandbox: {href}"

    exported = subprocess.run(
        [_triage_bot(), "export", "INC-1", "--format", "md"],
        cwd=tmp_path,
        env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    assert "Olu Adeyemi" in exported.stdout and "Lena Park" in exported.stdout
    without_links = re.sub(r"\(https?://[^)\s]*\)", "(link)", exported.stdout)  # a link's address may hold an id
    leftover = [line for line in without_links.splitlines() if SLACK_IDS.search(line)]
    assert leftover == [], "the export names people and channels too"


def test_an_incident_from_the_clients_message_and_the_update_sent_back_to_the_client(page: Page) -> None:
    """Where support teams work: "Open incident" on the client's message in its Slack Connect channel opens the form
    prefilled; the incident lives in #support; the recorded update goes to the client's channel on Send to client."""
    page.on("dialog", lambda confirm: confirm.accept())  # Slack's confirm dialog before sending to the client
    page.get_by_role("link", name="# hartley-shared").click()
    message = page.locator("#main-body .msg", has_text="stops at 99% in Chrome")
    message.hover()
    message.get_by_role("button", name="Open incident").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="New incident")).to_be_visible()
    expect(dialog).to_contain_text("shared with another organisation")
    expect(dialog.get_by_label("Client / account")).to_have_value("Hartley & Moss LLP")
    expect(dialog.get_by_label("The blocker, in the client's words")).to_have_value(re.compile("stops at 99% in Chrome"))
    dialog.get_by_label("Post the incident in").select_option(label="#support")
    dialog.get_by_label("Incident title").fill("Exhibit upload fails at 99%")
    dialog.get_by_role("button", name="Open incident").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("link", name="# support").click()
    root = page.locator("#main-body .msg", has_text="INC-1 · Exhibit upload fails at 99%")
    root.locator(".thread-summary").click()
    thread = page.locator("#thread-body")
    expect(thread).to_contain_text("INC-1 was opened from this message by @Dana Hartley (Hartley & Moss)")

    root.get_by_role("button", name="Client update").click()
    expect(dialog.get_by_role("heading", name=re.compile("update", re.IGNORECASE))).to_be_visible()
    dialog.get_by_role("button", name="Record update").click()
    expect(dialog).to_be_hidden()
    recorded = thread.locator(".msg", has_text="recorded a client update")
    recorded.get_by_role("button", name="Send to client").click()
    expect(thread).to_contain_text("sent the client update to #hartley-shared")
    page.get_by_role("link", name="# hartley-shared").click()
    sent = page.locator("#main-body .msg", has_text="Hartley & Moss LLP team")
    expect(sent).to_be_visible()
    expect(sent).not_to_contain_text("INC-1")
