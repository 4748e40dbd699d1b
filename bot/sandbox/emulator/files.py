"""Files shared in messages: Slack file objects, ``files.info``, downloads through ``url_private``, and
uploads the way ``files_upload_v2`` makes them: ``files.getUploadURLExternal``, a POST of the bytes to the
returned URL, then ``files.completeUploadExternal`` (which shares the files in a channel or thread).

Downloads need ``Authorization: Bearer <bot token>``. Real Slack answers a request without a valid token
with its sign-in page (HTML, HTTP 200); the emulator deliberately answers 403 with an HTML body instead, so
a bot that forgets the header fails loudly rather than storing a sign-in page as the file.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote
from wsgiref.types import WSGIEnvironment

import bot.jsontext as jsontext
from bot.sandbox.emulator.http import _bearer_token, _read_body
from bot.sandbox.emulator.messages import MessageStore
from bot.sandbox.emulator.state import (
    JsonDict,
    RawResult,
    SlackApiFailure,
    _Channel,
    _PendingUpload,
    _StoredFile,
    json_copy,
)

FileSpec = tuple[str, str, bytes]  # (name, mimetype, content)

_FILE_TYPES = {
    "text/plain": "text",
    "text/csv": "csv",
    "text/html": "html",
    "application/json": "json",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/gzip": "gzip",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
}
_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head>"
    b"<body><p>Sign in to the sandbox workspace to view this file.</p></body></html>"
)
_TEXT = "text/plain; charset=utf-8"


def _filetype(name: str, mimetype: str) -> str:
    """Slack's short ``filetype``: from the mimetype, else the file extension, else ``binary``."""
    known = _FILE_TYPES.get(mimetype.split(";", 1)[0].strip().lower())
    if known:
        return known
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return extension if extension.isalnum() and len(extension) <= 10 else "binary"


def _check_file_specs(files: Iterable[FileSpec]) -> None:
    """Reject malformed ``(name, mimetype, content)`` tuples before anything is stored."""
    for name, mimetype, content in files:
        if not name or not mimetype:
            raise ValueError("a shared file needs a name and a mimetype")
        if not isinstance(content, bytes | bytearray):
            raise TypeError(f"content of {name!r} must be bytes")


class FilesApi(MessageStore):
    """File storage for shared files, the ``files.info`` handler and the ``/files/<id>/<name>`` route."""

    def _file_base_url(self) -> str:
        """Where ``url_private`` points: the served emulator, else a placeholder host (same paths)."""
        return self.base_url.rstrip("/") if self.base_url else f"https://files.{self.team_domain}.slack.local"

    def _share_files(self, channel: _Channel, user_id: str, files: Iterable[FileSpec]) -> list[JsonDict]:
        """Store each file and return the file objects to put on the message."""
        return [self._store_file(channel, user_id, name, mimetype, content) for name, mimetype, content in files]

    def _store_file(
        self,
        channel: _Channel | None,
        user_id: str,
        name: str,
        mimetype: str,
        content: bytes,
        file_id: str | None = None,
    ) -> JsonDict:
        """Store a file shared in `channel` (None: uploaded by the bot without sharing it, private to the bot)."""
        file_id = file_id or self._new_id("F")
        url = f"{self._file_base_url()}/files/{file_id}/{quote(name, safe='')}"
        record: JsonDict = {
            "id": file_id,
            "created": int(self.clock()),
            "timestamp": int(self.clock()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": _filetype(name, mimetype),
            "user": user_id,
            "mode": "hosted",
            "is_external": False,
            "size": len(content),
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            "permalink": f"{self.workspace_url}files/{user_id}/{file_id}/{quote(name, safe='')}",
        }
        self._files[file_id] = _StoredFile(record, bytes(content), channel.id if channel else "")
        return json_copy(record)

    def _accessible_file(self, file_id: object) -> _StoredFile | None:
        """A stored file the bot may see: shared in a public channel or one the bot belongs to."""
        stored = self._files.get(str(file_id or ""))
        if stored is None:
            return None
        if not stored.channel_id:  # the bot's own unshared upload
            return stored
        channel = self._channels.get(stored.channel_id)
        if channel is None or (channel.is_private and self.bot_user_id not in channel.members):
            return None
        return stored

    def _files_info(self, args: JsonDict) -> JsonDict:
        stored = self._accessible_file(args.get("file"))
        if stored is None:
            raise SlackApiFailure("file_not_found")
        return {"file": json_copy(stored.record)}

    # ---------------------------------------------------------------- files upload v2

    def _files_get_upload_url_external(self, args: JsonDict) -> JsonDict:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length <= 0:
            raise SlackApiFailure("invalid_arguments")
        file_id = self._new_id("F")
        alt_txt = args.get("alt_txt")
        self._uploads[file_id] = _PendingUpload(filename, length, str(alt_txt) if alt_txt else None)
        return {"upload_url": f"{self._file_base_url()}/upload/v1/{file_id}", "file_id": file_id}

    def _receive_upload(self, environ: WSGIEnvironment, file_id: str) -> RawResult:
        """``POST /upload/v1/<file id>``: the bytes of an announced upload (no token, as Slack's upload URLs)."""
        if str(environ.get("REQUEST_METHOD", "GET")).upper() != "POST":
            return RawResult(405, _TEXT, b"method not allowed", [("Allow", "POST")])
        content = _read_body(environ)
        with self._lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                return RawResult(404, _TEXT, b"upload not found")
            if len(content) != pending.length:
                return RawResult(400, _TEXT, f"expected {pending.length} bytes, got {len(content)}".encode())
            pending.content = content
        return RawResult(200, _TEXT, f"OK - {len(content)}".encode())

    def _files_complete_upload_external(self, args: JsonDict) -> JsonDict:
        """Turn uploaded files into Slack files; with ``channel_id``, share them in one message (or thread reply)."""
        requested = _file_list(args.get("files"))
        pending = [(item, self._uploads.get(str(item.get("id")))) for item in requested]
        if not requested or any(upload is None or upload.content is None for _, upload in pending):
            raise SlackApiFailure("file_not_found")
        channel = self._postable_channel(args["channel_id"]) if args.get("channel_id") else None
        records = []
        for item, upload in pending:
            assert upload is not None and upload.content is not None
            mimetype = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
            record = self._store_file(
                channel, self.bot_user_id, upload.filename, mimetype, upload.content, file_id=str(item["id"])
            )
            record["title"] = str(item.get("title") or upload.filename)
            self._files[record["id"]].record["title"] = record["title"]
            del self._uploads[record["id"]]
            records.append(record)
        if channel is not None:
            self._share_uploaded(channel, records, args)
        return {"files": [{"id": r["id"], "title": r["title"]} for r in records]}

    def _share_uploaded(self, channel: _Channel, records: list[JsonDict], args: JsonDict) -> None:
        message = self._new_bot_message({"text": str(args.get("initial_comment") or "")})
        message["files"], message["upload"] = records, True
        if args.get("thread_ts"):
            self._add_reply(channel, str(args["thread_ts"]), message, broadcast=False)
        else:
            self._add_top_level(channel, message)

    def _serve_file(self, environ: WSGIEnvironment, rest: str) -> RawResult:
        """``GET /files/<id>/<name>``: the bytes with the file's mimetype, for the bot token only."""
        if str(environ.get("REQUEST_METHOD", "GET")).upper() != "GET":
            return RawResult(405, _TEXT, b"method not allowed", [("Allow", "GET")])
        if _bearer_token(environ) != self.bot_token:
            return RawResult(403, "text/html; charset=utf-8", _LOGIN_PAGE)
        file_id, _, name = rest.partition("/")
        with self._lock:
            stored = self._accessible_file(file_id)
        if stored is None or stored.record["name"] != name:
            return RawResult(404, _TEXT, b"file not found")
        return RawResult(200, stored.record["mimetype"], stored.content, _disposition(environ, name))


def _file_list(value: Any) -> list[JsonDict]:
    """``files`` of files.completeUploadExternal: a JSON array of ``{"id", "title"}`` (a string when form-encoded)."""
    try:
        parsed = jsontext.decoded(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        raise SlackApiFailure("invalid_arguments") from exc
    if not isinstance(parsed, list) or not all(isinstance(item, dict) and item.get("id") for item in parsed):
        raise SlackApiFailure("invalid_arguments")
    return parsed


def _disposition(environ: WSGIEnvironment, name: str) -> list[tuple[str, str]]:
    """``Content-Disposition: attachment`` for ``url_private_download`` (``?download=1``)."""
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", ""))))
    if query.get("download") != "1":
        return []
    return [("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name, safe='')}")]
