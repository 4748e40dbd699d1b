"""Where the bot may post a response URL and send its token: Slack's hosts over https, and the emulator's origin."""

from __future__ import annotations

import pytest

from bot.config import SLACK_API_DEFAULT
from bot.integrations.slack_hosts import Origin, SlackHosts, emulator_origin, host_of, origin_of

SLACK = SlackHosts.for_api_url(SLACK_API_DEFAULT)
EMULATED = SlackHosts.for_api_url("http://127.0.0.1:8123/api/")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/commands/T1/123/abc",
        "https://hooks.slack.com/actions/T1/123/abc",
        "https://HOOKS.SLACK.COM/actions/T1/1/x",
        "https://hooks.slack.com:443/actions/T1/1/x",
        "https://hooks.slack-gov.com/commands/T1/1/x",
    ],
)
def test_response_urls_on_slacks_hooks_hosts_are_allowed(url: str) -> None:
    assert SLACK.allows_response_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.slack.com/actions/T1/1/x",  # not https
        "https://hooks.slack.com:8443/actions/T1/1/x",  # another port
        "https://hooks.slack.com.evil.example/actions",  # a longer name
        "https://evil.example/hooks.slack.com/actions",
        "https://hooks.slack.com@evil.example/actions",  # user info: the host is evil.example
        "https://evil.example\\@hooks.slack.com/actions",  # parsers disagree where this host ends
        "https://hooks.slack.com./actions",
        "https://slack.com/api/chat.postMessage",  # Slack, but not where response URLs live
        "https://files.slack.com/files-pri/T1-F1/a.png",
        "https://hooks.slack.com/actions/é",
        "https://hooks.slack.com/actions/\n",
        "http://127.0.0.1:8123/response/abc",  # the emulator's origin, but SLACK_API_URL is Slack's
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "not a url",
        "",
    ],
)
def test_any_other_response_url_is_refused(url: str) -> None:
    assert not SLACK.allows_response_url(url)


def test_the_emulators_origin_is_allowed_exactly_when_slack_api_url_points_at_it() -> None:
    assert EMULATED.allows_response_url("http://127.0.0.1:8123/response/abc")
    assert EMULATED.allows_file_url("http://127.0.0.1:8123/files/F1/a.txt")
    assert EMULATED.allows_response_url("https://hooks.slack.com/actions/T1/1/x"), "Slack's hosts stay allowed"
    assert not EMULATED.allows_response_url("http://127.0.0.1:8124/response/abc"), "another port"
    assert not EMULATED.allows_response_url("https://127.0.0.1:8123/response/abc"), "another scheme"
    assert not EMULATED.allows_response_url("http://localhost:8123/response/abc"), "another name for the host"


@pytest.mark.parametrize("api_url", [SLACK_API_DEFAULT, "https://slack-gov.com/api/", "https://SLACK.com/api/"])
def test_slacks_own_web_api_adds_no_origin(api_url: str) -> None:
    assert emulator_origin(api_url) is None


def test_another_web_api_url_adds_its_origin() -> None:
    assert emulator_origin("http://127.0.0.1:8123/api/") == Origin("http", "127.0.0.1", 8123)
    assert emulator_origin("https://slack-proxy.internal/api/") == Origin("https", "slack-proxy.internal", 443)


@pytest.mark.parametrize(
    "url", ["https://files.slack.com/files-pri/T1-F1/a.png", "https://files.slack-gov.com/files-pri/T1-F1/a.png"]
)
def test_files_on_slacks_file_hosts_may_carry_the_token(url: str) -> None:
    assert SLACK.allows_file_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://files.slack.com/files-pri/T1-F1/a.png",  # plain http: the token would travel in clear
        "https://files.slack.com.evil.example/a.png",
        "https://evil.example/files-pri/T1-F1/a.png",  # a remote file's url_private: whatever its app said
        "https://slack-files.com/T1-F1-abc",  # public links: no token needed or wanted
        "https://hooks.slack.com/files-pri/a.png",
        "https://files.slack.com@evil.example/a.png",
    ],
)
def test_files_anywhere_else_never_get_the_token(url: str) -> None:
    assert not SLACK.allows_file_url(url)


def test_origin_of_reads_scheme_host_and_default_port() -> None:
    assert origin_of("https://Files.Slack.com/x") == Origin("https", "files.slack.com", 443)
    assert origin_of("http://[::1]:9/x") == Origin("http", "::1", 9)
    assert origin_of("https://hooks.slack.com:99999/x") is None


def test_host_of_names_only_the_host_for_logs() -> None:
    assert host_of("https://evil.example/collect?token=secret") == "evil.example"
    assert host_of("gopher://x") == "an unreadable URL"
