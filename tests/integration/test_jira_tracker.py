"""JiraTracker against FakeJira over real HTTP: tickets exactly once, updates, and error classification."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bot.integrations.jira_tracker import JiraTracker, TicketRequest, TrackerError, severity_priority
from bot.sandbox.fake_jira import FakeJira
from bot.sandbox.wsgi_server import RunningServer, start_background_server

USER = "bot@example.com"
TOKEN = "jira-token-s3cr3t-value"
TIMEOUT = 1.0


@pytest.fixture(params=["Cloud", "Server"])
def fake(request: pytest.FixtureRequest) -> FakeJira:
    return FakeJira(user=USER, token=TOKEN, deployment_type=request.param)


@pytest.fixture
def server(fake: FakeJira) -> Iterator[RunningServer]:
    with start_background_server(fake) as running:
        yield running
    fake.clear_faults()


@pytest.fixture
def tracker(server: RunningServer) -> JiraTracker:
    return JiraTracker(server.url, USER, TOKEN, timeout=TIMEOUT, max_retries=0)


def ticket_request(
    label: str = "triage-inc-7-engineering", *, project: str = "ENG", priority: str | None = "High"
) -> TicketRequest:
    return TicketRequest(
        project=project,
        summary="Checkout fails for EU clients",
        description="Payments time out since 09:12 UTC.",
        priority=priority,
        labels=("triage", "client-acme"),
        dedupe_label=label,
    )


def creates(fake: FakeJira) -> int:
    return fake.requests().count(("POST", "/rest/api/2/issue"))


def expect_error(call: object, *args: object) -> TrackerError:
    with pytest.raises(TrackerError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# --- tickets -----------------------------------------------------------------------------------


def test_constructing_the_tracker_makes_no_request(fake: FakeJira, server: RunningServer) -> None:
    JiraTracker(server.url, USER, TOKEN, timeout=TIMEOUT)
    assert fake.requests() == []


def test_create_ticket_files_the_issue_with_every_field(fake: FakeJira, tracker: JiraTracker) -> None:
    ticket = tracker.create_ticket(ticket_request())

    assert ticket.key == "ENG-1"
    assert ticket.url == f"{tracker.url}/browse/ENG-1"
    stored = fake.issue("ENG-1")
    assert stored["summary"] == "Checkout fails for EU clients"
    assert stored["description"] == "Payments time out since 09:12 UTC."
    assert stored["issuetype"] == "Bug"
    assert stored["priority"] == "High"
    assert stored["labels"] == ["triage", "client-acme", "triage-inc-7-engineering"]
    assert stored["status"] == "To Do"


def test_create_ticket_twice_returns_the_first_issue(fake: FakeJira, tracker: JiraTracker) -> None:
    first = tracker.create_ticket(ticket_request())
    again = tracker.create_ticket(ticket_request())
    other = tracker.create_ticket(ticket_request("triage-inc-7-product", project="PROD"))

    assert again.key == first.key == "ENG-1"
    assert again.status == "To Do"
    assert other.key == "PROD-1"
    assert creates(fake) == 2
    assert len(fake.issues("ENG")) == 1


def test_create_that_timed_out_after_jira_filed_it_is_not_filed_twice(fake: FakeJira, tracker: JiraTracker) -> None:
    fake.set_delay(5.0, path_contains="/rest/api/2/issue", method="POST")
    error = expect_error(tracker.create_ticket, ticket_request())
    assert error.retryable
    assert [i["key"] for i in fake.issues()] == ["ENG-1"]  # Jira filed it; the answer never arrived
    fake.clear_faults()

    ticket = tracker.create_ticket(ticket_request())

    assert ticket.key == "ENG-1"
    assert creates(fake) == 1
    assert len(fake.issues()) == 1


def test_unknown_priority_falls_back_to_no_priority(fake: FakeJira, tracker: JiraTracker) -> None:
    ticket = tracker.create_ticket(ticket_request(priority="Blocker"))

    stored = fake.issue(ticket.key)
    assert stored["priority"] is None
    assert stored["summary"] == "Checkout fails for EU clients"
    assert creates(fake) == 2
    assert len(fake.issues()) == 1


def test_severity_maps_to_priority() -> None:
    assert [severity_priority(s) for s in ("SEV1", "SEV2", "SEV3", "sev4")] == ["Highest", "High", "Medium", "Low"]
    with pytest.raises(ValueError):
        severity_priority("SEV9")


def test_labels_with_spaces_are_refused_before_any_call(fake: FakeJira, tracker: JiraTracker) -> None:
    error = expect_error(tracker.create_ticket, ticket_request("triage inc 7"))
    assert not error.retryable
    assert "triage inc 7" in str(error)
    assert fake.requests() == []


# --- updates -----------------------------------------------------------------------------------


def test_comment_attachment_and_remote_link(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_ticket(ticket_request()).key
    content = b"09:12 alerts\r\n09:15 \x00\xff binary--\r\n"

    tracker.add_comment(key, "Customer impact confirmed by *Acme*.")
    tracker.attach(key, "timeline é incident 7.txt", content)
    tracker.add_remote_link(key, "https://acme.slack.com/archives/C1/p123", "Slack incident thread")
    tracker.add_remote_link(key, "https://acme.slack.com/archives/C1/p123", "Slack incident thread")

    assert [c["body"] for c in fake.comments(key)] == ["Customer impact confirmed by *Acme*."]
    [attachment] = fake.attachments(key)
    assert (attachment["filename"], attachment["content"]) == ("timeline é incident 7.txt", content)
    [link] = fake.remote_links(key)  # linking the same URL again updates the one link
    assert (link["url"], link["title"]) == ("https://acme.slack.com/archives/C1/p123", "Slack incident thread")


def test_plain_text_fields_go_to_jira_as_one_line(fake: FakeJira, tracker: JiraTracker) -> None:
    """Jira refuses a summary with a line break; a file name in a link title is plain text too."""
    request = TicketRequest(
        project="ENG",
        summary="Checkout\nfails\r\n\tfor EU\x00 clients",
        description="Payments time out.",
        dedupe_label="triage-inc-8-engineering",
    )
    key = tracker.create_ticket(request).key
    tracker.add_remote_link(key, "https://files.slack.com/f/1", "Slack file: report\n[~admin].pdf")

    assert fake.issue(key)["summary"] == "Checkout fails for EU clients"
    assert fake.remote_links(key)[0]["title"] == "Slack file: report [~admin].pdf"


def test_get_status_follows_engineering(fake: FakeJira, tracker: JiraTracker) -> None:
    key = tracker.create_ticket(ticket_request()).key
    assert tracker.get_status(key) == "To Do"

    fake.set_status(key, "In Progress")

    assert tracker.get_status(key) == "In Progress"


def test_empty_attachment_is_refused_without_a_call(fake: FakeJira, tracker: JiraTracker) -> None:
    error = expect_error(tracker.attach, "ENG-1", "empty.txt", b"")
    assert not error.retryable
    assert fake.requests() == []


def test_client_is_built_once_across_threads(fake: FakeJira, server: RunningServer, tracker: JiraTracker) -> None:
    key = tracker.create_ticket(ticket_request()).key
    fresh = JiraTracker(server.url, USER, TOKEN, timeout=TIMEOUT)
    fake.set_delay(0.2, path_contains="serverInfo")  # keep the first build in flight while the others arrive
    start = threading.Barrier(4)
    statuses: list[str] = []

    def read_status() -> None:
        start.wait()
        statuses.append(fresh.get_status(key))

    threads = [threading.Thread(target=read_status) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == ["To Do"] * 4
    assert fake.requests().count(("GET", "/rest/api/2/serverInfo")) == 2  # one per tracker


# --- errors ------------------------------------------------------------------------------------


def test_503_is_retryable(fake: FakeJira, tracker: JiraTracker) -> None:
    fake.fail_next(503)
    error = expect_error(tracker.get_status, "ENG-1")
    assert (error.retryable, error.status) == (True, 503)


def test_429_carries_retry_after(fake: FakeJira, tracker: JiraTracker) -> None:
    tracker.create_ticket(ticket_request())
    fake.fail_next(429, retry_after=7, path_contains="/comment")

    error = expect_error(tracker.add_comment, "ENG-1", "update")

    assert (error.retryable, error.status, error.retry_after) == (True, 429, 7.0)
    assert "retry after 7s" in str(error)
    tracker.add_comment("ENG-1", "update")
    assert len(fake.comments("ENG-1")) == 1


def test_timeout_is_retryable_and_returns_within_the_timeout(fake: FakeJira, tracker: JiraTracker) -> None:
    tracker.create_ticket(ticket_request())
    fake.set_delay(5.0)

    started = time.monotonic()
    error = expect_error(tracker.get_status, "ENG-1")
    elapsed = time.monotonic() - started

    assert error.retryable
    assert "did not answer within 1s" in str(error)
    assert elapsed < TIMEOUT + 0.5


def test_down_then_recovered(fake: FakeJira, tracker: JiraTracker) -> None:
    fake.set_down(True)
    error = expect_error(tracker.create_ticket, ticket_request())  # fails while building the client
    assert (error.retryable, error.status) == (True, 503)
    assert creates(fake) == 0

    fake.set_down(False)

    assert tracker.create_ticket(ticket_request()).key == "ENG-1"


def test_unreachable_jira_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracker = JiraTracker(f"http://127.0.0.1:{port}", USER, TOKEN, timeout=TIMEOUT)

    error = expect_error(tracker.get_status, "ENG-1")

    assert error.retryable
    assert error.status is None


def test_bad_project_is_not_retryable_and_named(fake: FakeJira, tracker: JiraTracker) -> None:
    error = expect_error(tracker.create_ticket, ticket_request(project="NOPE"))

    assert (error.retryable, error.status) == (False, 400)
    assert "NOPE" in str(error)
    assert "project" in str(error)
    assert "\n" not in str(error)
    assert fake.issues() == []


def test_wrong_token_is_not_retryable_and_never_shown(
    fake: FakeJira, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-do-not-print"
    tracker = JiraTracker(server.url, USER, wrong, timeout=TIMEOUT)
    caplog.set_level(logging.DEBUG)

    error = expect_error(tracker.create_ticket, ticket_request())

    assert (error.retryable, error.status) == (False, 401)
    assert "JIRA_USER/JIRA_API_TOKEN" in str(error)
    for text in (str(error), repr(error), repr(tracker), caplog.text):
        assert wrong not in text
    assert error.__cause__ is None and error.__suppress_context__
    assert fake.requests() == [("GET", "/rest/api/2/serverInfo")]


def test_missing_issue_is_not_retryable(tracker: JiraTracker) -> None:
    error = expect_error(tracker.add_comment, "ENG-404", "hello")
    assert (error.retryable, error.status) == (False, 404)
    assert "ENG-404" in str(error)


def test_no_permission_names_the_project(fake: FakeJira, tracker: JiraTracker) -> None:
    tracker.create_ticket(ticket_request())
    fake.fail_next(403, path_contains="/remotelink")

    error = expect_error(tracker.add_remote_link, "ENG-1", "https://example.com", "x")

    assert (error.retryable, error.status) == (False, 403)
    assert "no permission for project ENG" in str(error)
