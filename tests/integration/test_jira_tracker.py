"""JiraTracker against FakeJira over real HTTP: tickets exactly once, updates, error classification, and the
Jira Cloud that the fake plays by default (enhanced search, search lag, per-project issue types and priorities)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from jira import JIRA

from bot.integrations.jira_tracker import JiraTracker, TicketRequest, TrackerError
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


def test_unknown_priority_is_left_out_before_jira_refuses_it(fake: FakeJira, tracker: JiraTracker) -> None:
    ticket = tracker.create_ticket(ticket_request(priority="Blocker"))

    stored = fake.issue(ticket.key)
    assert stored["priority"] is None
    assert stored["summary"] == "Checkout fails for EU clients"
    assert ticket.note == (
        "Jira project ENG has no priority 'Blocker' (it has Highest, High, Medium, Low, Lowest); "
        "filed without a priority — set JIRA_PRIORITIES"
    )
    assert creates(fake) == 1, "the scheme was read first: no create refused with a 400"
    assert len(fake.issues()) == 1


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

    assert (error.retryable, error.status) == (False, 404)
    assert str(error) == "Jira has no project NOPE the bot may file in; set JIRA_PROJECT"
    assert fake.issues() == []
    assert creates(fake) == 0


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


# --- Jira Cloud: the fake behaves like it ------------------------------------------------------


@pytest.fixture
def cloud() -> FakeJira:
    return FakeJira(user=USER, token=TOKEN)


@pytest.fixture
def cloud_url(cloud: FakeJira) -> Iterator[str]:
    with start_background_server(cloud) as running:
        yield running.url
    cloud.clear_faults()


@pytest.fixture
def on_cloud(cloud_url: str) -> JiraTracker:
    return JiraTracker(cloud_url, USER, TOKEN, timeout=TIMEOUT, max_retries=0)


def rest(url: str, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{url}{path}", auth=(USER, TOKEN), timeout=5, **kwargs)  # type: ignore[arg-type]


def test_the_fake_says_it_is_jira_cloud_and_the_old_search_is_gone(cloud_url: str) -> None:
    assert rest(cloud_url, "GET", "/rest/api/2/serverInfo").json()["deploymentType"] == "Cloud"
    for version in ("2", "3"):
        for method in ("GET", "POST"):
            gone = rest(cloud_url, method, f"/rest/api/{version}/search", params={"jql": "project = ENG"})
            assert gone.status_code == 410
            assert gone.json()["errorMessages"][0].startswith(
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
            )


def test_the_enhanced_search_returns_ids_pages_with_a_token_and_has_no_total(
    cloud: FakeJira, cloud_url: str, on_cloud: JiraTracker
) -> None:
    keys = [on_cloud.create_ticket(ticket_request(f"triage-inc-{n}-engineering")).key for n in range(5)]
    ids = [cloud.issue(key)["id"] for key in keys]

    seen: list[str] = []
    token = None
    for _ in range(3):
        params = {
            "jql": "labels = triage ORDER BY key ASC",
            "maxResults": 2,
            **({"nextPageToken": token} if token else {}),
        }
        page = rest(cloud_url, "GET", "/rest/api/3/search/jql", params=params).json()
        assert "total" not in page and "startAt" not in page
        assert all(set(issue) == {"id"} for issue in page["issues"]), "only ids unless fields are asked for"
        seen += [issue["id"] for issue in page["issues"]]
        token = page.get("nextPageToken")
        assert page["isLast"] == (token is None)
        if token is None:
            break
    assert seen == ids

    with_fields = rest(
        cloud_url, "POST", "/rest/api/2/search/jql", json={"jql": "labels = triage", "fields": ["summary", "status"]}
    ).json()
    assert set(with_fields["issues"][0]["fields"]) == {"summary", "status"}
    unbounded = rest(cloud_url, "GET", "/rest/api/3/search/jql", params={"jql": "ORDER BY created DESC"})
    assert unbounded.status_code == 400 and "Unbounded JQL" in unbounded.json()["errorMessages"][0]
    bad_token = rest(
        cloud_url, "GET", "/rest/api/3/search/jql", params={"jql": "labels = triage", "nextPageToken": "x"}
    )
    assert bad_token.status_code == 400


def test_the_tracker_searches_jira_cloud_through_the_enhanced_search(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    on_cloud.create_ticket(ticket_request())

    assert on_cloud.find_by_label("triage-inc-7-engineering") is not None
    searches = [path for method, path in cloud.requests() if "/search" in path]
    assert searches and all(path == "/rest/api/2/search/jql" for path in searches)


def test_a_new_issue_is_missing_from_a_lagging_search_unless_reconciled(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.set_search_lag(searches=5)
    ticket = on_cloud.create_ticket(ticket_request())
    assert ticket.id == cloud.issue(ticket.key)["id"], "the create's answer carries the id to reconcile"

    assert on_cloud.find_by_label("triage-inc-7-engineering") is None, "eventually consistent: not there yet"
    found = on_cloud.find_by_label("triage-inc-7-engineering", reconcile=[ticket.id or ""])

    assert found is not None and found.key == ticket.key and found.status == "To Do"


def test_search_lag_can_follow_the_tests_clock() -> None:
    now = [1000.0]
    fake = FakeJira(user=USER, token=TOKEN, clock=lambda: now[0])
    fake.set_search_lag(seconds=30)
    with start_background_server(fake) as running:
        tracker = JiraTracker(running.url, USER, TOKEN, timeout=TIMEOUT)
        tracker.create_ticket(ticket_request())
        assert tracker.find_by_label("triage-inc-7-engineering") is None
        now[0] += 31
        assert tracker.find_by_label("triage-inc-7-engineering") is not None


def test_an_old_jira_library_on_jira_cloud_is_refused_in_one_line(
    cloud: FakeJira, on_cloud: JiraTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jira < 3.10 has no enhanced search and would call the removed endpoint for every handoff."""
    monkeypatch.delattr(JIRA, "enhanced_search_issues")

    error = expect_error(on_cloud.find_by_label, "triage-inc-7-engineering")

    assert not error.retryable and error.kind == "old_library"
    assert "cannot search Jira Cloud" in str(error) and str(error).endswith("install jira>=3.10")


# --- projects differ: issue types, priorities, required fields -----------------------------------


def test_a_project_without_the_issue_type_is_named_with_what_to_set(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.add_project("ENG", "Engineering", issue_types=("Task", "Story"))

    error = expect_error(on_cloud.create_ticket, ticket_request())

    assert (error.retryable, error.kind) == (False, "missing_issue_type")
    assert str(error) == "Jira project ENG has no issue type 'Bug' (it has Task, Story); set JIRA_ISSUE_TYPE"
    assert creates(cloud) == 0, "no create sent to be refused with a 400"
    assert ("GET", "/rest/api/2/issue/createmeta/ENG/issuetypes") in cloud.requests()


def test_fixing_the_project_in_jira_is_enough(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.add_project("ENG", "Engineering", issue_types=("Task",))
    expect_error(on_cloud.create_ticket, ticket_request())

    cloud.add_project("ENG", "Engineering", issue_types=("Task", "Bug"))

    assert on_cloud.create_ticket(ticket_request()).key == "ENG-1"


def test_a_priority_the_scheme_lacks_is_left_out_and_said(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.add_project("ENG", "Engineering", priorities=("P1", "P2", "P3"))

    ticket = on_cloud.create_ticket(ticket_request(priority="Highest"))

    assert cloud.issue(ticket.key)["priority"] is None
    assert ticket.note == (
        "Jira project ENG has no priority 'Highest' (it has P1, P2, P3); filed without a priority — set JIRA_PRIORITIES"
    )
    assert creates(cloud) == 1
    named = on_cloud.create_ticket(ticket_request("triage-inc-8-engineering", priority="p2"))
    assert cloud.issue(named.key)["priority"] == "P2" and named.note is None, "matched as the scheme spells it"


def test_a_project_without_a_priority_field_files_without_one(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.add_project("ENG", "Engineering", priorities=())

    ticket = on_cloud.create_ticket(ticket_request(priority="High"))

    assert cloud.issue(ticket.key)["priority"] is None
    assert ticket.note == "Jira project ENG has no priority field on Bug; filed without a priority"


def test_a_required_field_the_bot_does_not_fill_is_named(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    cloud.add_project("ENG", "Engineering", required_fields={"customfield_10020": "Team"})

    error = expect_error(on_cloud.create_ticket, ticket_request())

    assert (error.retryable, error.kind) == (False, "missing_field")
    assert str(error) == (
        "Jira project ENG requires Team on a Bug, which the bot does not fill; "
        "make it optional there or set JIRA_ISSUE_TYPE to a type that does not require it"
    )
    assert creates(cloud) == 0


def test_the_create_screen_is_read_once_per_project_and_issue_type(cloud: FakeJira, on_cloud: JiraTracker) -> None:
    for n in range(3):
        on_cloud.create_ticket(ticket_request(f"triage-inc-{n}-engineering"))
    on_cloud.create_ticket(ticket_request("triage-inc-1-product", project="PROD"))

    meta = [path for method, path in cloud.requests() if "/createmeta/" in path]
    assert meta == [
        "/rest/api/2/issue/createmeta/ENG/issuetypes",
        "/rest/api/2/issue/createmeta/ENG/issuetypes/1",
        "/rest/api/2/issue/createmeta/PROD/issuetypes",
        "/rest/api/2/issue/createmeta/PROD/issuetypes/1",
    ]


def test_a_scheme_changed_after_it_was_read_still_files_without_the_priority(
    cloud: FakeJira, on_cloud: JiraTracker
) -> None:
    on_cloud.create_ticket(ticket_request())
    cloud.add_project("ENG", "Engineering", priorities=("P1", "P2"))

    ticket = on_cloud.create_ticket(ticket_request("triage-inc-8-engineering"))

    assert cloud.issue(ticket.key)["priority"] is None
    assert ticket.note == "Jira project ENG refused priority 'High'; filed without a priority"


def test_the_fake_refuses_what_the_project_does_not_have_with_jira_clouds_400(cloud: FakeJira, cloud_url: str) -> None:
    cloud.add_project(
        "OPS", "Operations", issue_types=("Task",), priorities=("P1",), required_fields={"customfield_1": "Team"}
    )
    fields = {"project": {"key": "OPS"}, "summary": "s", "issuetype": {"name": "Bug"}, "priority": {"name": "High"}}

    refused = rest(cloud_url, "POST", "/rest/api/2/issue", json={"fields": fields})

    assert refused.status_code == 400
    assert refused.json() == {
        "errorMessages": [],
        "errors": {
            "issuetype": "Specify a valid issue type",
            "priority": "The priority selected is invalid.",
            "customfield_1": "Team is required.",
        },
    }
    types = rest(cloud_url, "GET", "/rest/api/2/issue/createmeta/OPS/issuetypes").json()
    assert [t["name"] for t in types["issueTypes"]] == ["Task"] and types["total"] == 1
    screen = rest(cloud_url, "GET", f"/rest/api/2/issue/createmeta/OPS/issuetypes/{types['issueTypes'][0]['id']}")
    by_id = {f["fieldId"]: f for f in screen.json()["fields"]}
    assert [v["name"] for v in by_id["priority"]["allowedValues"]] == ["P1"]
    assert by_id["customfield_1"]["required"] is True
    assert "P1" in [p["name"] for p in rest(cloud_url, "GET", "/rest/api/2/priority").json()]


def test_data_center_keeps_the_classic_search(server: RunningServer, fake: FakeJira, tracker: JiraTracker) -> None:
    tracker.create_ticket(ticket_request())
    searched = [path for method, path in fake.requests() if "/search" in path]
    expected = "/rest/api/2/search/jql" if fake.deployment_type == "Cloud" else "/rest/api/2/search"
    assert searched == [expected]
