"""The baseline for ack latency: a Bolt app that only acknowledges `/triage` and opens a modal.

The modal is a one-field form, or with `BARE_FORM=triage` the bot's own new-incident form (built once), so the
comparison can tell the weight of the form from the bot's own overhead.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from benchmarks.one_field import ONE_FIELD


def the_form() -> dict[str, Any]:
    """The modal to open; the bot's modules are imported only for its form, so the bare app stays bare otherwise."""
    if os.environ.get("BARE_FORM") != "triage":
        return ONE_FIELD
    from blocks.new_incident import new_incident_modal

    return new_incident_modal(channel_id=os.environ.get("BARE_FORM_CHANNEL", "CBENCH"))


FORM = the_form()

if os.environ.get("BARE_FORM") == "triage":
    # As the bot does (bot/observability/logs.py): slack_sdk formats its per-call debug line, the whole form and
    # Slack's answer, whenever its logger's own level is unset, even though nothing is logged below WARNING. With
    # the bot's 6.6 kB form that alone cost bare Bolt about 0.5 ms a request, which is not Bolt's overhead.
    logging.getLogger("slack_sdk.web.base_client").setLevel(logging.WARNING)

client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False)


@app.command("/triage")
def open_modal(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
    ack()
    client.views_open(trigger_id=command["trigger_id"], view=FORM)


api = SlackRequestHandler(app)
