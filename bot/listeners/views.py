"""Modal submissions."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.ids import CallbackId, NewIncidentBlock
from bot.blocks.new_incident import ModalContext, field_errors, read_new_incident
from bot.domain.incidents import validate_report
from bot.listeners.middleware import services_of
from bot.services.incidents import OpenRequest, deliver_for, open_and_announce

logger = logging.getLogger(__name__)

SAVE_FAILED = "Couldn't save the incident just now (database unavailable). Your answers are still here: submit again."


def handle_new_incident(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Validate, store, acknowledge, then post — the modal closes only once the incident is safely stored."""
    services = services_of(context)
    report = read_new_incident(view["state"]["values"])
    problems = validate_report(report, now=services.clock.now())
    if problems:
        ack(response_action="errors", errors=field_errors(problems))
        return
    request = OpenRequest(
        report=report,
        reporter_id=body["user"]["id"],
        channel_id=ModalContext.load(view["private_metadata"]).channel_id,
        submission_key=f"view:{view['id']}",
    )
    try:
        opened = open_and_announce(services, request)
    except SQLAlchemyError:
        logger.exception("Storing a new incident failed")
        ack(response_action="errors", errors={NewIncidentBlock.TITLE.value: SAVE_FAILED})
        return
    ack()
    deliver_for(services, opened.incident)


def register(app: App) -> None:
    app.view(CallbackId.NEW_INCIDENT.value)(handle_new_incident)
