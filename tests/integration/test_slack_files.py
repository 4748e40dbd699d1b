"""SlackGateway.thread_files_page / download against the served Slack emulator and small stand-in servers."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.integrations.slack import SlackCallError, SlackGateway, build_web_client
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.wsgi_server import RunningServer, start_background_server

TOKEN = "xoxb-files-s3cr3t-token"
REPORT = ("report.txt", "text/plain", b"checkout returns 502\n" * 10)
TRACE = ("trace.json", "application/json", b'{"trace": "abc"}')
SCREENSHOT = ("screen shot.png", "image/png", bytes(range(256)) * 8)

StartResponse = Callable[..., Any]


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(bot_token=TOKEN)
    emu.add_user("U1", "alice")
    emu.add_channel("incidents", id="CINC", members=["U1", "UBOT"])
    server = emu.serve()
    yield emu
    server.stop()


@pytest.fixture
def gateway(emulator: SlackEmulator) -> SlackGateway:
    return SlackGateway(build_web_client(token=emulator.bot_token, base_url=emulator.api_url))


def gateway_with_token(emulator: SlackEmulator, token: str | None) -> SlackGateway:
    return SlackGateway(build_web_client(token=token, base_url=emulator.api_url))


def gateway_at(origin: str) -> SlackGateway:
    """A gateway whose SLACK_API_URL is on `origin`, as the emulator's is: downloads may send the token there."""
    return SlackGateway(build_web_client(token=TOKEN, base_url=f"{origin}/api/"))


@dataclass
class StandIn:
    """A tiny WSGI server: answers every request with ``reply`` and records the Authorization headers."""

    reply: Callable[[dict[str, Any]], tuple[str, list[tuple[str, str]], Iterable[bytes]]]
    authorizations: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.authorizations.append(str(environ.get("HTTP_AUTHORIZATION", "")))
        status, headers, body = self.reply(environ)
        start_response(status, headers)
        return body


@pytest.fixture
def serve() -> Iterator[Callable[[StandIn], RunningServer]]:
    servers: list[RunningServer] = []

    def start(app: StandIn) -> RunningServer:
        servers.append(start_background_server(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def assert_secret_free(exc: SlackCallError, caplog: pytest.LogCaptureFixture, token: str) -> None:
    assert token not in str(exc) and token not in repr(exc)
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert all(token not in record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------------------------------ thread_files_page


def test_a_thread_page_lists_files_of_parent_and_replies_in_order(
    emulator: SlackEmulator, gateway: SlackGateway
) -> None:
    parent = emulator.post_user_message("CINC", "U1", "checkout down", files=[REPORT])
    emulator.post_user_message("CINC", "U1", "looking", thread_ts=parent["ts"])
    first = emulator.post_user_message(
        "CINC", "U1", "trace + screen", thread_ts=parent["ts"], files=[TRACE, SCREENSHOT]
    )
    emulator.post_user_message("CINC", "U1", "elsewhere", files=[REPORT])  # another thread: not included

    page = gateway.thread_files_page("CINC", parent["ts"])

    assert page.files == [*parent["files"], *first["files"]]
    assert [f["name"] for f in page.files] == ["report.txt", "trace.json", "screen shot.png"]
    assert (page.replies, page.cursor) == (2, "")


def test_a_long_thread_is_read_a_page_at_a_time_from_the_cursor(emulator: SlackEmulator, gateway: SlackGateway) -> None:
    parent = emulator.post_user_message("CINC", "U1", "long thread", files=[REPORT])
    for n in range(250):
        emulator.post_user_message("CINC", "U1", f"reply {n}", thread_ts=parent["ts"])
    last = emulator.post_user_message("CINC", "U1", "found it", thread_ts=parent["ts"], files=[TRACE])

    first = gateway.thread_files_page("CINC", parent["ts"])
    second = gateway.thread_files_page("CINC", parent["ts"], first.cursor)

    assert [f["id"] for f in first.files + second.files] == [parent["files"][0]["id"], last["files"][0]["id"]]
    assert (first.replies, second.replies, second.cursor) == (199, 52, "")
    calls = emulator.calls("conversations.replies")
    assert [str(c.args["limit"]) for c in calls] == ["200", "200"]
    assert "cursor" not in calls[0].args and calls[1].args["cursor"] == first.cursor


def test_a_thread_page_without_files_is_empty(emulator: SlackEmulator, gateway: SlackGateway) -> None:
    parent = emulator.post_user_message("CINC", "U1", "no attachments")

    assert gateway.thread_files_page("CINC", parent["ts"]).files == []


def test_thread_files_of_an_unknown_thread_raises(gateway: SlackGateway) -> None:
    with pytest.raises(SlackCallError) as raised:
        gateway.thread_files_page("CINC", "1.000001")

    assert raised.value.error == "thread_not_found" and not raised.value.retryable


# ------------------------------------------------------------------------------------------ download


@pytest.mark.parametrize("key", ["url_private", "url_private_download"])
def test_download_returns_the_exact_bytes(emulator: SlackEmulator, gateway: SlackGateway, key: str) -> None:
    file = emulator.post_user_message("CINC", "U1", "shot", files=[SCREENSHOT])["files"][0]

    content = gateway.download(file[key])

    assert content == SCREENSHOT[2] == emulator.file_bytes(file["id"])


def test_download_of_exactly_max_bytes_succeeds(emulator: SlackEmulator, gateway: SlackGateway) -> None:
    file = emulator.post_user_message("CINC", "U1", "log", files=[REPORT])["files"][0]

    assert gateway.download(file["url_private"], max_bytes=len(REPORT[2])) == REPORT[2]


def test_download_larger_than_max_bytes_is_file_too_large(emulator: SlackEmulator, gateway: SlackGateway) -> None:
    file = emulator.post_user_message("CINC", "U1", "log", files=[REPORT])["files"][0]

    with pytest.raises(SlackCallError) as raised:
        gateway.download(file["url_private"], max_bytes=len(REPORT[2]) - 1)

    assert raised.value.error == "file_too_large" and not raised.value.retryable


def test_download_without_content_length_stops_after_max_bytes(serve: Callable[[StandIn], RunningServer]) -> None:
    sent: list[int] = []

    def endless(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        def body() -> Iterator[bytes]:
            for _ in range(1000):  # ~64 MB if read to the end
                sent.append(1)
                yield b"x" * 65536

        return "200 OK", [("Content-Type", "application/octet-stream")], body()

    server = serve(StandIn(endless))

    with pytest.raises(SlackCallError) as raised:
        gateway_at(server.url).download(f"{server.url}/files/F1/big.bin", max_bytes=100_000)

    assert raised.value.error == "file_too_large"
    assert len(sent) < 1000


@pytest.mark.parametrize("token", ["xoxb-wrong-s3cr3t", None])
def test_download_with_a_wrong_or_missing_token_fails_without_leaking_it(
    emulator: SlackEmulator, caplog: pytest.LogCaptureFixture, token: str | None
) -> None:
    file = emulator.post_user_message("CINC", "U1", "log", files=[REPORT])["files"][0]
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SlackCallError) as raised:
        gateway_with_token(emulator, token).download(file["url_private"])

    assert raised.value.error == "file_download_failed" and not raised.value.retryable
    assert_secret_free(raised.value, caplog, token or TOKEN)


def test_download_of_an_unknown_file_fails_without_retry(emulator: SlackEmulator, gateway: SlackGateway) -> None:
    with pytest.raises(SlackCallError) as raised:
        gateway.download(f"{emulator.base_url}/files/F404/gone.txt")

    assert raised.value.error == "file_download_failed" and not raised.value.retryable


def test_download_server_error_is_retryable(serve: Callable[[StandIn], RunningServer]) -> None:
    server = serve(StandIn(lambda _env: ("503 Service Unavailable", [("Retry-After", "7")], [b"busy"])))

    with pytest.raises(SlackCallError) as raised:
        gateway_at(server.url).download(f"{server.url}/files/F1/a.txt")

    assert raised.value.error == "file_download_failed"
    assert raised.value.retryable and raised.value.retry_after == 7.0


def test_download_connection_failure_is_retryable(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there

    with pytest.raises(SlackCallError) as raised:
        gateway_at(f"http://127.0.0.1:{port}").download(f"http://127.0.0.1:{port}/files/F1/a.txt")

    assert raised.value.error == "file_download_failed" and raised.value.retryable
    assert_secret_free(raised.value, caplog, TOKEN)


def test_download_follows_a_redirect_on_the_same_host_with_the_token(serve: Callable[[StandIn], RunningServer]) -> None:
    def reply(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        if environ["PATH_INFO"] == "/old":
            return "302 Found", [("Location", "/new")], [b""]
        return "200 OK", [("Content-Type", "text/plain")], [b"moved content"]

    app = StandIn(reply)
    server = serve(app)

    assert gateway_at(server.url).download(f"{server.url}/old") == b"moved content"
    assert app.authorizations == [f"Bearer {TOKEN}"] * 2


def test_download_refuses_a_redirect_to_another_host(
    serve: Callable[[StandIn], RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere = StandIn(lambda _env: ("200 OK", [("Content-Type", "text/html")], [b"<html>sign in</html>"]))
    other = serve(elsewhere)
    server = serve(StandIn(lambda _env: ("302 Found", [("Location", f"{other.url}/login")], [b""])))

    with pytest.raises(SlackCallError) as raised:
        gateway_at(server.url).download(f"{server.url}/files/F1/a.txt")

    assert raised.value.error == "file_download_failed" and not raised.value.retryable
    assert elsewhere.authorizations == []
    assert_secret_free(raised.value, caplog, TOKEN)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.txt", "not a url"])
def test_download_refuses_urls_that_are_not_http(gateway: SlackGateway, url: str) -> None:
    with pytest.raises(SlackCallError) as raised:
        gateway.download(url)

    assert raised.value.error == "file_download_failed" and not raised.value.retryable
