"""`/triage settings`: the workspace's settings modal, for its admins and declarers, and saving it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.views import View

from blocks.ids import SettingsBlock
from blocks.new_incident import cannot_post_there
from blocks.settings import (
    SettingsForm,
    read_client_mapping,
    read_settings_form,
    settings_modal,
    settings_saved_view,
)
from bot.config import Settings, SettingsError
from bot.db import unit_of_work
from bot.domain.permissions import Action
from bot.domain.workspace_settings import (
    SETTABLE,
    SettingChange,
    changes_between,
    map_client,
    mapped_clients,
    recent_changes,
    save_changes,
    saved_values,
)
from bot.services.channels import reach_of
from bot.services.container import Services
from bot.services.roles import permitted
from bot.services.settings_cache import merged_settings


@dataclass(frozen=True)
class SettingsSaved:
    """A save: problems by input block (nothing stored), or the view saying what changed."""

    errors: dict[str, str]
    view: View | None = None


def settings_view(services: Services, user_id: str) -> View:
    """The settings modal for someone who may change settings (NotPermitted, naming who may, otherwise)."""
    permitted(services, Action.CHANGE_SETTINGS, user_id)
    team = services.settings_key
    with unit_of_work(services.session_factory) as session:
        _, saved = saved_values(session, team)
        form = SettingsForm(
            saved=saved,
            defaults=_defaults(services),
            changes=recent_changes(session, team),
            mapped_clients=mapped_clients(session, team),
        )
    return settings_modal(form, services.settings.display_zone)


def _defaults(services: Services) -> dict[str, str | None]:
    base = services.environment_settings or services.settings
    return {s.field: _shown(getattr(base, s.field)) for s in SETTABLE}


def _shown(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def save_settings(services: Services, user_id: str, values: dict[str, Any]) -> SettingsSaved:
    """Check every changed setting as the environment's would be checked; store them all or none."""
    permitted(services, Action.CHANGE_SETTINGS, user_id)
    wanted = read_settings_form(values)
    client = read_client_mapping(values)
    team = services.settings_key
    base = services.environment_settings or services.settings
    with unit_of_work(services.session_factory) as session:
        _, saved = saved_values(session, team)
        wanted["major_incident_declarers"] = _keep_groups(saved, wanted.get("major_incident_declarers"))
        changes = changes_between(saved, wanted)
        errors = _problems(base, saved, changes)
        if client is not None and client.channel_id is not None:
            reach = reach_of(services, client.channel_id)
            if not reach.usable:
                errors[SettingsBlock.CLIENT_CHANNEL] = cannot_post_there(reach)
        if errors:
            return SettingsSaved(errors)
        now = services.clock.now()
        save_changes(session, team_id=team, changes=changes, by=user_id, now=now)
        if client is not None:
            map_client(session, team_id=team, by=user_id, now=now, **client.as_mapping())
    services.workspace_settings.forget(team)
    return SettingsSaved({}, settings_saved_view(changes, _defaults(services), client))


def _keep_groups(saved: dict[str, str], chosen: str | None) -> str | None:
    """Declarers chosen in a people picker, plus the user groups (S…) set before: the picker can't show those."""
    groups = [i for i in saved.get("major_incident_declarers", "").split(",") if i.strip().startswith("S")]
    people = [i for i in (chosen or "").split(",") if i]
    return ",".join([*people, *groups]) or None


def _problems(base: Settings, saved: dict[str, str], changes: list[SettingChange]) -> dict[str, str]:
    """Each changed setting that would not be valid, on its own input; then the whole set together."""
    errors: dict[str, str] = {}
    for change in changes:
        try:
            merged_settings(base, {**saved, change.field: change.new})
        except SettingsError as exc:
            errors[change.field] = _plain(str(exc))
    if not errors and changes:
        try:
            merged_settings(base, {**saved, **{c.field: c.new for c in changes}})
        except SettingsError as exc:
            errors[changes[0].field] = _plain(str(exc))
    return errors


def _plain(message: str) -> str:
    return message.removeprefix("Invalid setting ").removeprefix("Invalid settings: ")[:150]
