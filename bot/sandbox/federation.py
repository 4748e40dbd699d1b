"""``SlackFederation``: several emulated workspaces behind one Slack URL, with Slack's OAuth v2 install.

Real Slack serves every workspace from one Web API URL and tells them apart by the token of each call;
an app reaches a new workspace through OAuth: the user clicks *Allow* on the authorize page, Slack
redirects to the app's redirect URL with a single-use ``code``, and the app exchanges it with
``oauth.v2.access`` for the workspace's bot token. The federation plays that part for tests of multi-workspace
distribution (Bolt's ``/slack/install`` and ``/slack/oauth_redirect``):

* ``/api/oauth.v2.access`` exchanges a code issued by :meth:`SlackFederation.approve` for a bot token;
* any other ``/api/<method>`` goes, unchanged, to the workspace whose bot token it carries
  (``Authorization: Bearer``): only tokens issued through OAuth and not revoked are accepted;
* ``/w/<team id>/<rest>`` reaches that workspace's emulator at ``/<rest>``: each emulator's ``base_url``
  points there, so the response URLs, file URLs and upload URLs it generates route back through here.

Each workspace is a :class:`SlackEmulator` built by the caller with its own ``team_id`` and ``bot_token``;
installing the app in a workspace issues exactly that emulator's bot token.

An app installed through OAuth is distributed: unless ``marketplace_approved``, every workspace holds it to Slack's
history limits for such apps (one conversations.history / conversations.replies call a minute, 15 messages each).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit
from wsgiref.types import StartResponse, WSGIEnvironment

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.emulator.http import _bearer_token, _json_response, _read_args
from bot.sandbox.emulator.state import ApiResult, JsonDict, SlackApiFailure
from bot.sandbox.wsgi_server import start_background_server

if TYPE_CHECKING:
    from bot.sandbox.wsgi_server import RunningServer

__all__ = ["SlackFederation"]

logger = logging.getLogger("bot.sandbox.federation")

_OAUTH_ACCESS_PATH = "/api/oauth.v2.access"
_WORKSPACE_PREFIX = "/w/"


@dataclass(frozen=True)
class _AuthorizeRequest:
    """The query of an authorize URL, as the authorize page reads it."""

    state: str | None
    client_id: str
    scopes: str
    redirect_uri: str | None


@dataclass(frozen=True)
class _Grant:
    """What a code stands for: who allowed the install, where, with which scopes and redirect_uri."""

    team_id: str
    user_id: str
    scopes: str
    redirect_uri: str | None


class SlackFederation:
    """Several emulated workspaces behind one Web API URL, as Slack is: routed by bot token, installed by OAuth v2."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        app_id: str = "A0TRIAGEBOT",
        redirect_url: str | None = None,
        marketplace_approved: bool = False,
    ) -> None:
        self.client_id = client_id
        self.marketplace_approved = marketplace_approved
        self.app_id = app_id
        self.redirect_url = redirect_url
        self._client_secret = client_secret
        self._base_url: str | None = None
        self._lock = threading.Lock()
        self._workspaces: dict[str, SlackEmulator] = {}
        self._grants: dict[str, _Grant] = {}
        self._installed: dict[str, str] = {}  # team id -> issued bot token

    def __repr__(self) -> str:
        return f"SlackFederation(client_id={self.client_id!r}, teams={sorted(self._workspaces)!r})"

    # ---------------------------------------------------------------- workspaces

    def add_workspace(self, emulator: SlackEmulator) -> SlackEmulator:
        """Put a workspace behind the federation (keyed by its team_id) and return it."""
        with self._lock:
            if emulator.team_id in self._workspaces:
                raise ValueError(f"workspace {emulator.team_id} is already in the federation")
            if any(other.bot_token == emulator.bot_token for other in self._workspaces.values()):
                raise ValueError(f"workspace {emulator.team_id} needs a bot token of its own")
            self._workspaces[emulator.team_id] = emulator
            emulator.rate_limits.distributed = not self.marketplace_approved
            if self._base_url:
                emulator.base_url = self._workspace_url(emulator.team_id)
        return emulator

    def workspace(self, team_id: str) -> SlackEmulator:
        """The workspace emulator of ``team_id`` (KeyError if it is not in the federation)."""
        with self._lock:
            return self._workspaces[team_id]

    def token_of(self, team_id: str) -> str:
        """The bot token issued for ``team_id`` (KeyError if the app is not installed there)."""
        with self._lock:
            return self._installed[team_id]

    def revoke(self, team_id: str) -> None:
        """Invalidate the workspace's bot token, as uninstalling the app does."""
        with self._lock:
            self._installed.pop(team_id, None)
        logger.info("app uninstalled from workspace %s", team_id)

    # ---------------------------------------------------------------- urls and serving

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
        """Serve all workspaces in a background thread and point each emulator's base_url through it."""
        server = start_background_server(self.wsgi_app, host=host, port=port)
        with self._lock:
            self._base_url = server.url
            for team_id, emulator in self._workspaces.items():
                emulator.base_url = self._workspace_url(team_id)
        return server

    @property
    def base_url(self) -> str:
        """Where the federation is served, e.g. ``http://127.0.0.1:PORT``; requires :meth:`serve`."""
        if not self._base_url:
            raise RuntimeError("SlackFederation is not served: call serve() first")
        return self._base_url.rstrip("/")

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    @property
    def authorize_url(self) -> str:
        """The authorize page, for Bolt's ``OAuthSettings(authorization_url=...)``."""
        return f"{self.base_url}/oauth/v2/authorize"

    def _workspace_url(self, team_id: str) -> str:
        """The base URL of one workspace behind the federation."""
        return f"{self.base_url}{_WORKSPACE_PREFIX}{team_id}"

    # ---------------------------------------------------------------- the authorize page

    def approve(self, authorize_url: str, *, team_id: str, user_id: str) -> str:
        """Click *Allow* as ``user_id`` of ``team_id``: issue a code and return the redirect URL carrying it."""
        request = _parse_authorize_url(authorize_url, self.client_id)
        redirect = self._redirect_target(request)
        with self._lock:
            if team_id not in self._workspaces:
                raise ValueError(f"{team_id} is not a workspace of the federation")
            code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._grants[code] = _Grant(team_id, user_id, request.scopes, request.redirect_uri)
        return _with_query(redirect, {"code": code, "state": request.state})

    def deny(self, authorize_url: str) -> str:
        """Click *Cancel*: return the redirect URL carrying ``error=access_denied``."""
        request = _parse_authorize_url(authorize_url, self.client_id)
        return _with_query(self._redirect_target(request), {"error": "access_denied", "state": request.state})

    def _redirect_target(self, request: _AuthorizeRequest) -> str:
        """The redirect_uri of the request, else the app's configured redirect URL."""
        target = request.redirect_uri or self.redirect_url
        if not target:
            raise ValueError("no redirect_uri in the authorize URL and no redirect_url configured")
        return target

    # ---------------------------------------------------------------- WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """WSGI entry point: ``/api/oauth.v2.access``, ``/api/<method>`` and ``/w/<team id>/<rest>``."""
        try:
            return self._route(environ, start_response)
        except Exception:  # a federation bug must surface as Slack's internal_error, not a dropped socket
            logger.exception("slack federation failed")
            return _json_response(start_response, ApiResult(500, {"ok": False, "error": "internal_error"}))

    def _route(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Dispatch one request by its path."""
        path = str(environ.get("PATH_INFO", ""))
        if path == _OAUTH_ACCESS_PATH:
            return _json_response(start_response, self._oauth_v2_access(environ))
        if path.startswith("/api/"):
            return self._forward_api(environ, start_response)
        if path.startswith(_WORKSPACE_PREFIX):
            return self._forward_to_workspace(environ, start_response, path[len(_WORKSPACE_PREFIX) :])
        if path in ("", "/", "/health"):
            return _json_response(start_response, ApiResult(200, {"ok": True, "service": "slack-federation"}))
        return _json_response(start_response, ApiResult(404, {"ok": False, "error": "not_found"}))

    def _forward_api(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Hand a Web API call, unread, to the workspace its bearer token was issued for."""
        token = _bearer_token(environ)
        if token is None:
            return _json_response(start_response, ApiResult(200, {"ok": False, "error": "not_authed"}))
        emulator = self._workspace_of_token(token)
        if emulator is None:
            return _json_response(start_response, ApiResult(200, {"ok": False, "error": "invalid_auth"}))
        return emulator.wsgi_app(environ, start_response)

    def _forward_to_workspace(
        self, environ: WSGIEnvironment, start_response: StartResponse, rest: str
    ) -> Iterable[bytes]:
        """``/w/<team id>/<rest>``: the workspace's emulator at ``/<rest>``."""
        team_id, _, inner_path = rest.partition("/")
        with self._lock:
            emulator = self._workspaces.get(team_id)
            issued = self._installed.get(team_id)
        if emulator is None:
            return _json_response(start_response, ApiResult(404, {"ok": False, "error": "not_found"}))
        inner = dict(environ)
        inner["SCRIPT_NAME"] = f"{environ.get('SCRIPT_NAME', '')}{_WORKSPACE_PREFIX}{team_id}"
        inner["PATH_INFO"] = f"/{inner_path}"
        token = _bearer_token(environ)
        if token is not None and (issued is None or not secrets.compare_digest(token, issued)):
            del inner["HTTP_AUTHORIZATION"]  # a revoked (or foreign) token signs nobody in, e.g. for file downloads
        return emulator.wsgi_app(inner, start_response)

    def _workspace_of_token(self, token: str) -> SlackEmulator | None:
        """The workspace an active (issued, not revoked) bot token belongs to."""
        with self._lock:
            for team_id, issued in self._installed.items():
                if secrets.compare_digest(token, issued):
                    return self._workspaces[team_id]
        return None

    # ---------------------------------------------------------------- oauth.v2.access

    def _oauth_v2_access(self, environ: WSGIEnvironment) -> ApiResult:
        """Exchange a code for the workspace's bot token, checking the client credentials and redirect_uri."""
        try:
            args = _read_args(environ)
            self._check_client(*_client_credentials(environ, args))
            with self._lock:
                grant = self._redeem(args.get("code"), args.get("redirect_uri"))
                emulator = self._workspaces[grant.team_id]
                self._installed[grant.team_id] = emulator.bot_token
        except SlackApiFailure as exc:
            return ApiResult(exc.status, exc.body())
        logger.info("app installed in workspace %s", grant.team_id)
        return ApiResult(200, self._access_body(emulator, grant))

    def _check_client(self, client_id: str | None, client_secret: str | None) -> None:
        """Raise ``invalid_client_id`` / ``bad_client_secret`` unless the credentials are the app's."""
        if client_id != self.client_id:
            raise SlackApiFailure("invalid_client_id")
        if client_secret is None or not secrets.compare_digest(client_secret.encode(), self._client_secret.encode()):
            raise SlackApiFailure("bad_client_secret")

    def _redeem(self, code: object, redirect_uri: object) -> _Grant:
        """Use up a code (caller holds the lock); ``invalid_code`` or ``bad_redirect_uri`` if it cannot be."""
        grant = self._grants.get(str(code or ""))
        if grant is None:
            raise SlackApiFailure("invalid_code")
        if grant.redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise SlackApiFailure("bad_redirect_uri")
        del self._grants[str(code)]
        return grant

    def _access_body(self, emulator: SlackEmulator, grant: _Grant) -> JsonDict:
        """The success body of oauth.v2.access for a bot install."""
        return {
            "ok": True,
            "access_token": emulator.bot_token,
            "token_type": "bot",
            "scope": grant.scopes,
            "bot_user_id": emulator.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": emulator.team_id, "name": emulator.team_name},
            "enterprise": None,
            "authed_user": {"id": grant.user_id},
            "is_enterprise_install": False,
        }


def _parse_authorize_url(authorize_url: str, client_id: str) -> _AuthorizeRequest:
    """Read an authorize URL's query; ValueError if it is for another app."""
    query = dict(parse_qsl(urlsplit(authorize_url).query, keep_blank_values=True))
    if query.get("client_id") != client_id:
        raise ValueError("the authorize URL is for another client_id")
    return _AuthorizeRequest(
        state=query.get("state"),
        client_id=client_id,
        scopes=_normalise_scopes(query.get("scope", "")),
        redirect_uri=query.get("redirect_uri") or None,
    )


def _normalise_scopes(scope: str) -> str:
    """Scopes as Slack reports them: comma-separated, without blanks or repeats."""
    return ",".join(dict.fromkeys(part for part in re.split(r"[,\s]+", scope) if part))


def _with_query(url: str, params: dict[str, str | None]) -> str:
    """``url`` with ``params`` (None values left out) URL-encoded into its query."""
    encoded = urlencode({key: value for key, value in params.items() if value is not None})
    return f"{url}{'&' if urlsplit(url).query else '?'}{encoded}"


def _client_credentials(environ: WSGIEnvironment, args: JsonDict) -> tuple[str | None, str | None]:
    """client_id and client_secret from HTTP Basic auth (slack_sdk's way), else from the form."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, colon, client_secret = decoded.partition(":")
        return client_id, client_secret if colon else None
    return _optional_str(args.get("client_id")), _optional_str(args.get("client_secret"))


def _optional_str(value: object) -> str | None:
    """A form value as text (None if absent)."""
    return None if value is None else str(value)
