"""Files in the Slack emulator: file objects on messages, served bytes, files.info and threads."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit
from wsgiref.util import setup_testing_defaults

import pytest

from bot.sandbox.emulator import ManualClock, SlackEmulator
from bot.sandbox.emulator.state import JsonDict

REPORT = ("incident report.txt", "text/plain", b"checkout returns 502 since 10:02\n")
SCREENSHOT = ("screen.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(clock=ManualClock(1_700_000_000.0))
    emu.add_user("U1", "alice")
    emu.add_channel("general", id="CGENERAL", members=["U1", "UBOT"])
    emu.add_channel("secret", id="CSECRET", is_private=True, members=["U1"])
    server = emu.serve()
    yield emu
    server.stop()


def fetch(url: str, token: str | None = None) -> tuple[int, str, bytes, Message]:
    """GET ``url`` (optionally with a bearer token): status, content type, body and headers."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get_content_type(), response.read(), response.headers
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get_content_type(), exc.read(), exc.headers


def post_with_files(emulator: SlackEmulator, *files: tuple[str, str, bytes], thread_ts: str | None = None) -> JsonDict:
    return emulator.post_user_message("CGENERAL", "U1", "see attached", thread_ts=thread_ts, files=list(files))


# ------------------------------------------------------------------------------------------ file objects


def test_message_with_files_carries_slack_file_objects(emulator: SlackEmulator) -> None:
    message = post_with_files(emulator, REPORT, SCREENSHOT)

    assert message["upload"] is True
    report, screenshot = message["files"]
    base = emulator.base_url
    assert report["id"].startswith("F") and report["id"] != screenshot["id"]
    assert {k: report[k] for k in ("name", "title", "mimetype", "filetype", "size", "user")} == {
        "name": "incident report.txt",
        "title": "incident report.txt",
        "mimetype": "text/plain",
        "filetype": "text",
        "size": len(REPORT[2]),
        "user": "U1",
    }
    assert report["url_private"] == f"{base}/files/{report['id']}/incident%20report.txt"
    assert report["url_private_download"] == report["url_private"] + "?download=1"
    assert report["permalink"] == f"https://sandbox.slack.local/files/U1/{report['id']}/incident%20report.txt"
    assert screenshot["filetype"] == "png"
    assert emulator.message("CGENERAL", message["ts"]) == message


def test_message_without_files_is_unchanged(emulator: SlackEmulator) -> None:
    message = emulator.post_user_message("CGENERAL", "U1", "plain")

    assert "files" not in message and "upload" not in message


def test_malformed_file_is_rejected_before_anything_is_stored(emulator: SlackEmulator) -> None:
    with pytest.raises(ValueError):
        post_with_files(emulator, ("", "text/plain", b"x"))

    assert emulator.messages("CGENERAL") == []


def test_file_bytes_returns_content_or_none(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, SCREENSHOT)["files"][0]

    assert emulator.file_bytes(file["id"]) == SCREENSHOT[2]
    assert emulator.file_bytes("F404") is None


# ------------------------------------------------------------------------------------------ downloads


def test_file_is_served_with_its_mimetype_to_the_bot_token(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, SCREENSHOT)["files"][0]

    status, content_type, body, headers = fetch(file["url_private"], emulator.bot_token)

    assert (status, content_type, body) == (200, "image/png", SCREENSHOT[2])
    assert headers["Content-Length"] == str(len(SCREENSHOT[2]))


def test_download_url_serves_the_bytes_as_an_attachment(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, REPORT)["files"][0]

    status, _, body, headers = fetch(file["url_private_download"], emulator.bot_token)

    assert (status, body) == (200, REPORT[2])
    assert headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("token", [None, "xoxb-wrong"])
def test_file_without_the_bot_token_is_forbidden_with_an_html_page(emulator: SlackEmulator, token: str | None) -> None:
    file = post_with_files(emulator, REPORT)["files"][0]

    status, content_type, body, _ = fetch(file["url_private"], token)

    assert (status, content_type) == (403, "text/html")
    assert REPORT[2] not in body


def test_unknown_file_or_wrong_name_is_not_found(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, REPORT)["files"][0]

    assert fetch(f"{emulator.base_url}/files/F404/x.txt", emulator.bot_token)[0] == 404
    assert fetch(f"{emulator.base_url}/files/{file['id']}/other.txt", emulator.bot_token)[0] == 404


def test_file_with_a_non_ascii_name_is_served(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, ("résumé d'incident.txt", "text/plain", b"ok"))["files"][0]

    status, _, body, _ = fetch(file["url_private"], emulator.bot_token)

    assert (status, body) == (200, b"ok")


def test_file_in_a_private_channel_without_the_bot_is_hidden(emulator: SlackEmulator) -> None:
    message = emulator.post_user_message("CSECRET", "U1", "secret", files=[REPORT])
    file = message["files"][0]

    assert fetch(file["url_private"], emulator.bot_token)[0] == 404
    assert emulator.api("files.info", file=file["id"]) == {"ok": False, "error": "file_not_found"}


def call_wsgi(emulator: SlackEmulator, url: str, method: str = "GET") -> tuple[str, bytes]:
    """Run one request through the WSGI app in-process (no server): status line and body."""
    path = unquote(urlsplit(url).path, "latin-1")  # as a WSGI server passes PATH_INFO on
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    environ["HTTP_AUTHORIZATION"] = f"Bearer {emulator.bot_token}"
    setup_testing_defaults(environ)
    started: list[str] = []
    body = b"".join(emulator.wsgi_app(environ, lambda status, headers, exc_info=None: started.append(status)))
    return started[0], body


def test_unserved_emulator_serves_files_in_process() -> None:
    emu = SlackEmulator()
    emu.add_user("U1", "alice")
    emu.add_channel("general", id="CGENERAL", members=["U1", "UBOT"])
    file = emu.post_user_message("CGENERAL", "U1", "log", files=[REPORT])["files"][0]

    assert file["url_private"].startswith("https://files.sandbox.slack.local/files/")
    assert call_wsgi(emu, file["url_private"]) == ("200 OK", REPORT[2])
    assert call_wsgi(emu, file["url_private"], method="POST")[0] == "405 Method Not Allowed"


# ------------------------------------------------------------------------------------------ Web API


def test_files_info_returns_the_file_object(emulator: SlackEmulator) -> None:
    file = post_with_files(emulator, REPORT)["files"][0]

    assert emulator.api("files.info", file=file["id"]) == {"ok": True, "file": file}


@pytest.mark.parametrize("args", [{"file": "F404"}, {}])
def test_files_info_of_an_unknown_file_fails(emulator: SlackEmulator, args: JsonDict) -> None:
    assert emulator.api("files.info", **args) == {"ok": False, "error": "file_not_found"}


def test_replies_include_the_files_of_parent_and_replies(emulator: SlackEmulator) -> None:
    parent = post_with_files(emulator, REPORT)
    emulator.post_user_message("CGENERAL", "U1", "no file", thread_ts=parent["ts"])
    reply = post_with_files(emulator, SCREENSHOT, thread_ts=parent["ts"])

    messages = emulator.api("conversations.replies", channel="CGENERAL", ts=parent["ts"])["messages"]

    assert [m.get("files") for m in messages] == [parent["files"], None, reply["files"]]
    assert all(m.get("upload") for m in (messages[0], messages[2]))


# --- files upload v2 (files.getUploadURLExternal, POST to the URL, files.completeUploadExternal) ---------------


def test_files_upload_v2_from_slack_sdk_shares_the_files_in_a_thread(emulator: SlackEmulator) -> None:
    from slack_sdk import WebClient

    client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    root = client.chat_postMessage(channel="CGENERAL", text="INC-1")
    uploaded = client.files_upload_v2(
        channel="CGENERAL",
        thread_ts=root["ts"],
        initial_comment="Report charts",
        file_uploads=[
            {"content": SCREENSHOT[2], "filename": "incidents.png", "title": "Incidents per week"},
            {"content": REPORT[2], "filename": "report.txt"},
        ],
    )
    assert [f["title"] for f in uploaded["files"]] == ["Incidents per week", "report.txt"]
    reply = emulator.replies("CGENERAL", root["ts"])[-1]
    assert reply["text"] == "Report charts" and reply["upload"] is True
    assert [(f["name"], f["mimetype"], f["size"]) for f in reply["files"]] == [
        ("incidents.png", "image/png", len(SCREENSHOT[2])),
        ("report.txt", "text/plain", len(REPORT[2])),
    ]
    assert emulator.file_bytes(uploaded["files"][0]["id"]) == SCREENSHOT[2]


def test_an_upload_is_refused_when_its_bytes_do_not_match_or_never_arrived(emulator: SlackEmulator) -> None:
    announced = emulator.api("files.getUploadURLExternal", filename="a.png", length="4")
    request = urllib.request.Request(announced["upload_url"], data=b"12345", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400
    completed = emulator.api("files.completeUploadExternal", files=f'[{{"id": "{announced["file_id"]}"}}]')
    assert completed == {"ok": False, "error": "file_not_found"}
    assert emulator.api("files.getUploadURLExternal", filename="", length="4")["error"] == "invalid_arguments"
