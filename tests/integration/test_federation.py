"""SlackFederation over real HTTP: OAuth v2 installs, token routing and workspace URLs behind one Slack URL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.federation import SlackFederation
from bot.sandbox.wsgi_server import start_background_server

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-s3cr3t"
REDIRECT = "https://triage.example/slack/oauth_redirect"
SCOPES = ["chat:write", "channels:read"]
ACME, GLOBEX = "T0ACME", "T0GLOBEX"
TOKENS = {ACME: "xoxb-acme-token", GLOBEX: "xoxb-globex-token"}


def workspace(team_id: str, token: str | None = None) -> SlackEmulator:
    """A workspace with a member U1 and a channel CINC the bot is in."""
    emulator = SlackEmulator(
        bot_token=token or TOKENS[team_id],
        team_id=team_id,
        team_name=team_id.removeprefix("T0").title(),
        bot_id=f"B{team_id}",
    )
    emulator.add_user("U1", "alice")
    emulator.add_channel("incidents", id="CINC", members=["U1", "UBOT"])
    return emulator


@pytest.fixture
def federation() -> Iterator[SlackFederation]:
    fed = SlackFederation(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fed.add_workspace(workspace(ACME))
    fed.add_workspace(workspace(GLOBEX))
    server = fed.serve()
    yield fed
    server.stop()


def authorize_url(fed: SlackFederation, *, redirect_uri: str | None = REDIRECT, client_id: str = CLIENT_ID) -> str:
    generator = AuthorizeUrlGenerator(
        client_id=client_id, scopes=SCOPES, redirect_uri=redirect_uri, authorization_url=fed.authorize_url
    )
    return generator.generate("state-123")


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def approved_code(fed: SlackFederation, team_id: str, *, redirect_uri: str | None = REDIRECT) -> str:
    redirect = fed.approve(authorize_url(fed, redirect_uri=redirect_uri), team_id=team_id, user_id="U1")
    return query_of(redirect)["code"]


def exchange(
    fed: SlackFederation,
    code: str,
    *,
    secret: str = CLIENT_SECRET,
    client_id: str = CLIENT_ID,
    redirect_uri: str | None = REDIRECT,
) -> dict[str, Any]:
    response = WebClient(base_url=fed.api_url).oauth_v2_access(
        client_id=client_id, client_secret=secret, code=code, redirect_uri=redirect_uri
    )
    assert isinstance(response.data, dict)
    return response.data


def install(fed: SlackFederation, team_id: str) -> str:
    return str(exchange(fed, approved_code(fed, team_id))["access_token"])


def api_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return str(info.value.response["error"])


def http_get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# ------------------------------------------------------------------------------------------ the install


def test_oauth_v2_access_answers_with_the_workspace_bot_token_and_its_details(federation: SlackFederation) -> None:
    body = exchange(federation, approved_code(federation, ACME))

    assert body == {
        "ok": True,
        "access_token": TOKENS[ACME],
        "token_type": "bot",
        "scope": "chat:write,channels:read",
        "bot_user_id": "UBOT",
        "app_id": "A0TRIAGEBOT",
        "team": {"id": ACME, "name": "Acme"},
        "enterprise": None,
        "authed_user": {"id": "U1"},
        "is_enterprise_install": False,
    }
    assert federation.token_of(ACME) == TOKENS[ACME]
    with pytest.raises(KeyError):
        federation.token_of(GLOBEX)


def test_each_installed_token_posts_into_its_own_workspace_only(federation: SlackFederation) -> None:
    acme = WebClient(token=install(federation, ACME), base_url=federation.api_url)
    globex = WebClient(token=install(federation, GLOBEX), base_url=federation.api_url)

    acme.chat_postMessage(channel="CINC", text="hello acme")
    globex.chat_postMessage(channel="CINC", text="hello globex")

    assert [m["text"] for m in federation.workspace(ACME).messages("CINC")] == ["hello acme"]
    assert [m["text"] for m in federation.workspace(GLOBEX).messages("CINC")] == ["hello globex"]


def test_auth_test_with_each_token_answers_for_its_team(federation: SlackFederation) -> None:
    for team_id in (ACME, GLOBEX):
        answer = WebClient(token=install(federation, team_id), base_url=federation.api_url).auth_test()
        assert (answer["team_id"], answer["bot_id"], answer["user_id"]) == (team_id, f"B{team_id}", "UBOT")


def test_a_bolt_app_installs_itself_through_its_install_and_redirect_endpoints(
    federation: SlackFederation, tmp_path: Path
) -> None:
    store = FileInstallationStore(base_dir=str(tmp_path / "installations"))
    settings = OAuthSettings(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=SCOPES,
        installation_store=store,
        state_store=FileOAuthStateStore(expiration_seconds=300, base_dir=str(tmp_path / "states")),
        authorization_url=federation.authorize_url,
        install_page_rendering_enabled=False,
    )
    app = App(signing_secret="signing-secret", client=WebClient(base_url=federation.api_url), oauth_settings=settings)
    with start_background_server(SlackRequestHandler(app)) as bolt:
        federation.redirect_url = f"{bolt.url}/slack/oauth_redirect"  # the app's configured redirect URL
        status, headers = no_redirect_get(f"{bolt.url}/slack/install")
        assert status == 302 and headers["Location"].startswith(federation.authorize_url)
        cookie = headers["Set-Cookie"].split(";", 1)[0]

        callback = federation.approve(headers["Location"], team_id=GLOBEX, user_id="U1")
        status, _ = no_redirect_get(callback, {"Cookie": cookie})

    assert status == 200
    installation = store.find_installation(enterprise_id=None, team_id=GLOBEX)
    assert installation is not None
    assert (installation.bot_token, installation.bot_id, installation.user_id) == (TOKENS[GLOBEX], "BT0GLOBEX", "U1")
    assert installation.bot_scopes == SCOPES
    assert [call.method for call in federation.workspace(GLOBEX).calls()] == ["auth.test"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def no_redirect_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


# ------------------------------------------------------------------------------------------ the authorize step


def test_approve_redirects_with_an_encoded_code_and_state(federation: SlackFederation) -> None:
    url = f"{federation.authorize_url}?" + urlencode(
        {"state": "a/b c+d&e", "client_id": CLIENT_ID, "scope": "chat:write", "redirect_uri": REDIRECT}
    )

    redirect = federation.approve(url, team_id=ACME, user_id="U1")

    assert redirect.startswith(f"{REDIRECT}?code=")
    assert query_of(redirect)["state"] == "a/b c+d&e"


def test_approve_uses_the_configured_redirect_url_when_the_request_has_none(federation: SlackFederation) -> None:
    federation.redirect_url = "https://triage.example/callback?tenant=1"

    redirect = federation.approve(authorize_url(federation, redirect_uri=None), team_id=ACME, user_id="U1")

    assert redirect.startswith("https://triage.example/callback?tenant=1&code=")
    body = exchange(federation, query_of(redirect)["code"], redirect_uri=None)
    assert body["access_token"] == TOKENS[ACME]


def test_approve_rejects_another_client_an_unknown_team_and_a_missing_redirect(federation: SlackFederation) -> None:
    with pytest.raises(ValueError, match="client_id"):
        federation.approve(authorize_url(federation, client_id="9999.0000"), team_id=ACME, user_id="U1")
    with pytest.raises(ValueError, match="T0NOPE"):
        federation.approve(authorize_url(federation), team_id="T0NOPE", user_id="U1")
    with pytest.raises(ValueError, match="redirect"):
        federation.approve(authorize_url(federation, redirect_uri=None), team_id=ACME, user_id="U1")


def test_deny_redirects_with_access_denied_and_the_state(federation: SlackFederation) -> None:
    redirect = federation.deny(authorize_url(federation))

    assert redirect.startswith(f"{REDIRECT}?")
    assert query_of(redirect) == {"error": "access_denied", "state": "state-123"}


# ------------------------------------------------------------------------------------------ oauth.v2.access errors


def test_a_code_works_once(federation: SlackFederation) -> None:
    code = approved_code(federation, ACME)
    exchange(federation, code)

    assert api_error(lambda: exchange(federation, code)) == "invalid_code"
    assert api_error(lambda: exchange(federation, "0.not-a-code")) == "invalid_code"


def test_a_wrong_client_secret_is_refused_without_using_up_the_code(federation: SlackFederation) -> None:
    code = approved_code(federation, ACME)

    assert api_error(lambda: exchange(federation, code, secret="wrong")) == "bad_client_secret"
    assert exchange(federation, code)["access_token"] == TOKENS[ACME]


def test_an_unknown_client_id_is_refused(federation: SlackFederation) -> None:
    code = approved_code(federation, ACME)

    assert api_error(lambda: exchange(federation, code, client_id="9999.0000")) == "invalid_client_id"
    with pytest.raises(KeyError):
        federation.token_of(ACME)


def test_client_credentials_may_come_as_form_fields(federation: SlackFederation) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": approved_code(federation, ACME)}

    body = WebClient(base_url=federation.api_url).api_call("oauth.v2.access", data={**form, "redirect_uri": REDIRECT})

    assert body["access_token"] == TOKENS[ACME]


def test_the_redirect_uri_must_be_the_one_used_at_authorize(federation: SlackFederation) -> None:
    code = approved_code(federation, ACME)

    assert api_error(lambda: exchange(federation, code, redirect_uri="https://evil.example/cb")) == "bad_redirect_uri"
    assert api_error(lambda: exchange(federation, code, redirect_uri=None)) == "bad_redirect_uri"
    assert exchange(federation, code)["team"]["id"] == ACME


# ------------------------------------------------------------------------------------------ token routing


def test_calls_without_an_issued_token_are_refused(federation: SlackFederation) -> None:
    assert api_error(lambda: WebClient(base_url=federation.api_url).auth_test()) == "not_authed"
    assert api_error(lambda: WebClient(token="xoxb-nobody", base_url=federation.api_url).auth_test()) == "invalid_auth"
    # a workspace's token is no good before the app is installed there
    uninstalled = WebClient(token=TOKENS[GLOBEX], base_url=federation.api_url)
    assert api_error(lambda: uninstalled.chat_postMessage(channel="CINC", text="hi")) == "invalid_auth"
    assert federation.workspace(GLOBEX).calls() == []


def test_a_revoked_token_stops_working_until_the_app_is_installed_again(federation: SlackFederation) -> None:
    client = WebClient(token=install(federation, ACME), base_url=federation.api_url)
    assert client.auth_test()["team_id"] == ACME

    federation.revoke(ACME)

    assert api_error(client.auth_test) == "invalid_auth"
    with pytest.raises(KeyError):
        federation.token_of(ACME)
    install(federation, ACME)
    assert client.auth_test()["team_id"] == ACME


# ------------------------------------------------------------------------------------------ workspace URLs


def test_files_uploaded_through_the_federation_download_from_their_workspace_url(federation: SlackFederation) -> None:
    token = install(federation, ACME)
    client = WebClient(token=token, base_url=federation.api_url)

    client.files_upload_v2(channel="CINC", filename="report.txt", content=b"checkout returns 502\n")

    [message] = federation.workspace(ACME).messages("CINC")
    url = message["files"][0]["url_private"]
    assert url.startswith(f"{federation.base_url}/w/{ACME}/files/")
    assert http_get(url, token) == (200, b"checkout returns 502\n")
    assert http_get(url, TOKENS[GLOBEX])[0] == 403
    federation.revoke(ACME)
    assert http_get(url, token)[0] == 403


def test_a_response_url_of_a_workspace_routes_back_to_it(federation: SlackFederation) -> None:
    acme = federation.workspace(ACME)
    response_url = acme.new_response_url("CINC", "U1")
    assert response_url.startswith(f"{federation.base_url}/w/{ACME}/response/")

    payload = json.dumps({"response_type": "in_channel", "text": "ack"}).encode()
    request = urllib.request.Request(response_url, data=payload, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True}

    assert [m["text"] for m in acme.messages("CINC")] == ["ack"]
    assert federation.workspace(GLOBEX).messages("CINC") == []


def test_unknown_workspace_paths_are_not_found(federation: SlackFederation) -> None:
    status, body = http_get(f"{federation.base_url}/w/T0NOPE/health")

    assert (status, json.loads(body)) == (404, {"ok": False, "error": "not_found"})
    assert http_get(f"{federation.base_url}/w/{ACME}/health")[0] == 200


def test_a_workspace_added_after_serve_is_reachable(federation: SlackFederation) -> None:
    initech = federation.add_workspace(workspace("T0INITECH", "xoxb-initech-token"))

    assert initech.base_url == f"{federation.base_url}/w/T0INITECH"
    client = WebClient(token=install(federation, "T0INITECH"), base_url=federation.api_url)
    assert client.auth_test()["team_id"] == "T0INITECH"
    assert initech.new_response_url("CINC", "U1").startswith(f"{federation.base_url}/w/T0INITECH/response/")


def test_workspaces_need_their_own_team_and_token(federation: SlackFederation) -> None:
    with pytest.raises(ValueError, match="already"):
        federation.add_workspace(SlackEmulator(bot_token="xoxb-other", team_id=ACME))
    with pytest.raises(ValueError, match="token"):
        federation.add_workspace(SlackEmulator(bot_token=TOKENS[ACME], team_id="T0COPY"))


# ------------------------------------------------------------------------------------------ distributed limits


def test_an_app_installed_by_oauth_reads_history_as_a_distributed_app(federation: SlackFederation) -> None:
    """Without Marketplace approval: one conversations.history call a minute per workspace, 15 messages at most."""
    client = WebClient(token=install(federation, ACME), base_url=federation.api_url)
    for n in range(20):
        federation.workspace(ACME).post_user_message("CINC", "U1", f"message {n}")
    assert len(client.conversations_history(channel="CINC", limit=100)["messages"]) == 15
    assert api_error(lambda: client.conversations_history(channel="CINC")) == "ratelimited"
    other = WebClient(token=install(federation, GLOBEX), base_url=federation.api_url)
    assert other.conversations_history(channel="CINC")["ok"], "each workspace has its own minute"


def test_a_marketplace_app_keeps_the_usual_history_limits() -> None:
    approved = SlackFederation(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, marketplace_approved=True)
    assert approved.add_workspace(workspace(ACME)).rate_limits.distributed is False
    assert SlackFederation(client_id=CLIENT_ID, client_secret=CLIENT_SECRET).add_workspace(
        workspace(GLOBEX)
    ).rate_limits.distributed
