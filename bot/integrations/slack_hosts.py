"""Where the bot may send what: `respond()` posts only to Slack's response-URL hosts, the bot token only to Slack's
file hosts, both over https; plus the origin of SLACK_API_URL when it points at a Slack emulator.

Slack's response URLs are `https://hooks.slack.com/...`; shared files are served from `https://files.slack.com/...`.
GovSlack runs the same services on `slack-gov.com`. A remote file's `url_private` is its `external_url`, which can
name any host (Slack's docs: don't send tokens to it), so a file's URL alone says nothing about where it lives.

The emulator (the sandbox, the tests) serves response URLs and files on its own http origin, the one SLACK_API_URL
names; that origin is allowed exactly (scheme, host and port) and only when SLACK_API_URL is not Slack's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SLACK_RESPONSE_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
SLACK_FILE_HOSTS = frozenset({"files.slack.com", "files.slack-gov.com"})
SLACK_API_HOSTS = frozenset({"slack.com", "slack-gov.com"})  # Slack's own Web API: no extra origin to allow
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int


def origin_of(url: str) -> Origin | None:
    """The URL's origin, or None for anything that is not a plain http(s) URL one can trust the host of.

    Refused: other schemes, user info (`https://hooks.slack.com@evil/`), backslashes, spaces and control or
    non-ASCII characters (parsers disagree about where such a host ends), and unreadable ports.
    """
    if not url.isascii() or not url.isprintable() or "\\" in url or " " in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return Origin(parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme])


def emulator_origin(api_url: str) -> Origin | None:
    """The origin of SLACK_API_URL when it is not Slack's own Web API (the emulator's), else None."""
    origin = origin_of(api_url)
    if origin is None or origin.host in SLACK_API_HOSTS:
        return None
    return origin


@dataclass(frozen=True)
class SlackHosts:
    """Where the bot may post a response URL and send its token for a file download."""

    extra: Origin | None = None

    @classmethod
    def for_api_url(cls, api_url: str) -> SlackHosts:
        return cls(emulator_origin(api_url))

    def allows_response_url(self, url: str) -> bool:
        return self._allows(url, SLACK_RESPONSE_HOSTS)

    def allows_file_url(self, url: str) -> bool:
        return self._allows(url, SLACK_FILE_HOSTS)

    def _allows(self, url: str, slack_hosts: frozenset[str]) -> bool:
        origin = origin_of(url)
        if origin is None:
            return False
        if origin == self.extra:
            return True
        return origin.scheme == "https" and origin.port == 443 and origin.host in slack_hosts


def host_of(url: str) -> str:
    """The host a URL names, for a log line (never the path or query, which may carry secrets)."""
    origin = origin_of(url)
    return origin.host if origin is not None else "an unreadable URL"
