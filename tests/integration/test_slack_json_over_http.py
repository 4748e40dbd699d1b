"""The bot's Slack client with its JSON on orjson, over real HTTP to the strict emulator."""

from __future__ import annotations

import json

from blocks.new_incident import new_incident_modal
from bot.integrations import slack_json
from bot.integrations.slack import build_web_client
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.platform import SlackPlatform

TEXT = "Exhibit upload fails at 99% \u2014 court filing 14:00 \u2705 <not a mention> & \u00e9"


def test_a_message_and_the_new_incident_form_reach_slack_intact_and_their_answers_are_read() -> None:
    emulator = SlackEmulator()
    with emulator.serve():
        client = build_web_client(token=emulator.bot_token, base_url=f"{emulator.base_url}/api/")
        assert slack_json.is_installed()
        user = emulator.add_user("UAGENT", "agent")["id"]
        channel = emulator.add_channel("support", members=[emulator.bot_user_id, user])["id"]

        posted = client.chat_postMessage(channel=channel, text=TEXT)
        assert posted["message"]["text"] == TEXT
        assert [m["text"] for m in emulator.messages(channel)] == [TEXT]

        trigger = SlackPlatform(emulator, "unused", "secret").slash_command_fields(user, channel)["trigger_id"]
        form = new_incident_modal(channel_id=channel)
        opened = client.views_open(trigger_id=trigger, view=form)
        assert opened["view"]["blocks"][3]["element"]["options"][0]["text"]["text"].startswith("SEV1 \u2014 Critical")
        stored = emulator.view(opened["view"]["id"])
        assert stored is not None
        sent = {block["block_id"]: block for block in form["blocks"] if "block_id" in block}
        kept = {block["block_id"]: block for block in stored["blocks"] if block["block_id"] in sent}
        assert kept == json.loads(json.dumps(sent))  # every input as sent (Slack adds ids to the blocks without one)
        assert stored["private_metadata"] == form["private_metadata"]
