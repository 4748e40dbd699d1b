"""The baseline for ack latency: a Bolt app that only acknowledges `/triage` and opens a one-field modal."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False)


@app.command("/triage")
def open_modal(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
    ack()
    client.views_open(
        trigger_id=command["trigger_id"],
        view={
            "type": "modal",
            "callback_id": "bare",
            "title": {"type": "plain_text", "text": "Bare"},
            "submit": {"type": "plain_text", "text": "Go"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "title",
                    "label": {"type": "plain_text", "text": "Title"},
                    "element": {"type": "plain_text_input", "action_id": "title"},
                }
            ],
        },
    )


api = SlackRequestHandler(app)
