"""Keeping the directory of names (bot.domain.names) filled: after a change is acknowledged, the ids the incident
names that the directory lacks, or learned over a day ago, are looked up in Slack and kept.

Best effort and never on the request's path: what Slack cannot answer now is asked on the incident's next change,
and until then exports show the id.
"""

from __future__ import annotations

import logging

from bot.db import unit_of_work
from bot.domain.names import ids_to_learn, incident_ids, remember_name
from bot.integrations.names import ask_names
from bot.integrations.slack import SlackCallError
from bot.models import Incident
from bot.services.container import Services

logger = logging.getLogger(__name__)

MAX_LOOKUPS = 25  # per run; an incident naming more is caught up on its next changes


def learn_names_soon(services: Services, incident_id: int) -> None:
    """Look up the names the incident's records need, on the after-acknowledgement threads (one run at a time)."""
    services.background.submit_once(("names", incident_id), lambda: learn_names(services, incident_id))


def learn_names(services: Services, incident_id: int) -> int:
    """Ask Slack for the names the directory lacks for the incident; how many answers were kept."""
    now = services.clock.now()
    with unit_of_work(services.session_factory) as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return 0
        team_id = incident.team_id
        wanted = ids_to_learn(session, incident_ids(session, incident), team_id=team_id, now=now)[:MAX_LOOKUPS]
    if not wanted:
        return 0
    try:
        slack = services.for_request(team_id).workspace_slack
    except SlackCallError as exc:  # the workspace is no longer installed: its names stay as they are
        logger.info("No names looked up for INC-%s: %s", incident_id, exc.error)
        return 0
    answers = ask_names(slack, wanted)
    if answers:
        with unit_of_work(services.session_factory) as session:
            for slack_id, name in answers.items():
                remember_name(session, team_id=team_id, slack_id=slack_id, name=name, now=now)
    logger.debug("Learned %s of %s names for INC-%s", len(answers), len(wanted), incident_id)
    return len(answers)
