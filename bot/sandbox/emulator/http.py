"""WSGI plumbing of the Slack emulator: request parsing and JSON response encoding."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl
from wsgiref.types import StartResponse, WSGIEnvironment

import bot.jsontext as jsontext
from bot.sandbox.emulator.state import JSON_ENCODED_FIELDS, ApiResult, JsonDict, RawResult, SlackApiFailure


def decoded_for_reading(args: JsonDict) -> JsonDict:
    """Logged arguments as `_decode_json_fields` leaves them, for any field it could decode."""
    try:
        return _decode_json_fields(args)
    except SlackApiFailure:
        return args


def _decode_json_fields(args: JsonDict) -> JsonDict:
    """JSON-decode string fields (``blocks``, ``view``...) the way Slack does for form bodies."""
    decoded = dict(args)
    for key in JSON_ENCODED_FIELDS:
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            try:
                decoded[key] = jsontext.decoded(value)
            except json.JSONDecodeError as exc:
                raise SlackApiFailure("invalid_blocks" if key == "blocks" else "invalid_arguments") from exc
    return decoded


def _json_response(start_response: StartResponse, result: ApiResult) -> list[bytes]:
    payload = result.encoded if result.encoded is not None else jsontext.encoded(result.body)
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(payload)))]
    start_response(f"{result.status} {_REASONS.get(result.status, 'Status')}", headers + result.headers)
    return [payload]


def _raw_response(start_response: StartResponse, result: RawResult) -> list[bytes]:
    headers = [("Content-Type", result.content_type), ("Content-Length", str(len(result.body)))]
    start_response(f"{result.status} {_REASONS.get(result.status, 'Status')}", headers + result.headers)
    return [result.body]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    429: "Too Many Requests",
    500: "Error",
}


def _request_path(environ: WSGIEnvironment) -> str:
    """PATH_INFO as text: WSGI hands it over percent-decoded as latin-1, URLs carry UTF-8."""
    return str(environ.get("PATH_INFO", "")).encode("latin-1", errors="replace").decode("utf-8", errors="replace")


def _bearer_token(environ: WSGIEnvironment) -> str | None:
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _read_args(environ: WSGIEnvironment) -> JsonDict:
    """Merge query-string and body (JSON or form) parameters."""
    query, body, _ = _read_request(environ)
    return {**query, **body}


def _read_request(environ: WSGIEnvironment) -> tuple[JsonDict, JsonDict, str | None]:
    """Query-string parameters, body parameters (JSON or form) and, when the body was JSON, its text."""
    query: JsonDict = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    raw = _read_body(environ).decode("utf-8", errors="replace")
    if "json" not in str(environ.get("CONTENT_TYPE", "")).lower():
        return query, dict(parse_qsl(raw, keep_blank_values=True)), None
    try:
        body = jsontext.decoded(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise SlackApiFailure("invalid_json") from exc
    if not isinstance(body, dict):
        raise SlackApiFailure("json_not_object")
    return query, body, raw if raw.strip() else "{}"
