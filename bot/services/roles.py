"""Gathering the facts roles are decided from (Slack's users.info and user groups, the incident, the rotation),
then asking the domain (`bot.domain.permissions`), the one place that decides who may do what."""

from __future__ import annotations

from collections.abc import Iterable

from bot.db import unit_of_work
from bot.domain.errors import DomainError
from bot.domain.incidents import load_incident
from bot.domain.permissions import Action, Actor, IncidentRoles, Policy, RotationRoles, require
from bot.integrations.people import Person
from bot.integrations.slack import SlackCallError
from bot.models import Incident
from bot.services.container import Services


class RolesUnavailable(DomainError):
    """Slack couldn't say who someone is: nothing is done (roles fail closed)."""

    def __init__(self, exc: SlackCallError) -> None:
        if exc.error == "missing_scope":
            needed = f" ({exc.needed})" if exc.needed else ""
            super().__init__(
                f"I can't check roles: the app lacks a Slack scope{needed}. "
                "Ask an admin to reinstall it from slack-app-manifest.yaml."
            )
        else:
            super().__init__(f"I couldn't check your role with Slack just now ({exc.error}). Try again in a moment.")


def policy_of(services: Services) -> Policy:
    return Policy(declarers=tuple(services.settings.declarer_ids))


def role_groups(services: Services) -> list[str]:
    """The user groups that name a role: declarers given as groups, and ONCALL_SLACK_ID when it is one."""
    ids = [*services.settings.declarer_ids, services.settings.oncall_slack_id or ""]
    return sorted({i for i in ids if i.startswith("S")})


def person(services: Services, user_id: str) -> Person:
    """users.info about `user_id`, asked in the request's workspace (at most once a minute per person)."""
    try:
        return services.people.person(services.workspace_slack, services.workspace, user_id)
    except SlackCallError as exc:
        raise RolesUnavailable(exc) from exc


def is_member(services: Services, found: Person) -> bool:
    """A full member of the request's workspace: known to Slack there, not a guest, not from another organisation."""
    if not found.found or found.is_guest:
        return False
    home = _home_team(services)
    return home is None or found.team_id is None or found.team_id == home


def _home_team(services: Services) -> str | None:
    """The request's workspace: named by the request with OAuth installs, else the one SLACK_BOT_TOKEN is for."""
    if services.workspace is not None:
        return services.workspace
    try:
        return services.people.home_team(services.workspace_slack) or None
    except SlackCallError as exc:
        raise RolesUnavailable(exc) from exc


def _in_group(services: Services, group_id: str, user_id: str) -> bool:
    try:
        return user_id in services.people.group_members(services.workspace_slack, services.workspace, group_id)
    except SlackCallError as exc:
        raise RolesUnavailable(exc) from exc


def actor_of(services: Services, user_id: str) -> Actor:
    """The person asking, as the roles see them."""
    found = person(services, user_id)
    if not is_member(services, found):
        return Actor(user_id, is_guest=True)
    groups = frozenset(g for g in role_groups(services) if _in_group(services, g, user_id))
    return Actor(user_id, is_admin=found.is_admin, groups=groups)


def allow(services: Services, action: Action, actor: Actor, incident: Incident | None = None) -> None:
    """NotPermitted (one line naming who may) unless `actor` may do `action` (on `incident`)."""
    require(action, actor, policy_of(services), incident=IncidentRoles.of(incident) if incident is not None else None)


def allow_correction(services: Services, actor: Actor, incident: Incident, entry_author: str) -> None:
    roles = IncidentRoles.of(incident)
    require(Action.CORRECT_AUDIT, actor, policy_of(services), incident=roles, entry_author=entry_author)


def allow_on_rotation(
    services: Services, actor: Actor, team: str, members: Iterable[str], leads: Iterable[str]
) -> None:
    rotation = RotationRoles(team, frozenset(members), frozenset(leads))
    require(Action.OVERRIDE_ONCALL, actor, policy_of(services), rotation=rotation)


def permit_on_incident(services: Services, action: Action, user_id: str, incident_id: int) -> None:
    """NotPermitted unless the person may do `action` on the incident (IncidentNotFound when they can't see it)."""
    actor = actor_of(services, user_id)
    with unit_of_work(services.session_factory) as session:
        allow(services, action, actor, load_incident(session, incident_id, workspace=services.workspace))


def permitted(services: Services, action: Action, user_id: str) -> Actor:
    """The person asking, once it is clear they may do `action` (one that needs no incident or rotation)."""
    actor = actor_of(services, user_id)
    allow(services, action, actor)
    return actor
