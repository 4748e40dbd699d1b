"""The workspace settings modal (`/triage settings`, App Home's Settings button), and reading it back.

Each setting's input has the setting's field name as block and action id. Empty means "the environment's
default", which the hint shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    ConversationSelectElement,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from blocks.budget import SECTION_SAFE, lines_within
from blocks.ids import CallbackId, SettingsBlock
from blocks.text import mention, slack_time, truncate, typed
from blocks.view_state import choice, state, text
from bot.domain.workspace_settings import SETTABLE, SETTABLE_BY_FIELD, Settable, SettingChange, SettingKind
from bot.models import ClientTier, SettingsChange

TEXT_MAX = 1000
CHANGES_CHARS = 1900
CLIENTS_SHOWN = 30
PEOPLE_SHOWN = 20
TIER_LABELS = {ClientTier.PREMIUM: "Premium", ClientTier.STANDARD: "Standard"}


@dataclass(frozen=True)
class SettingsForm:
    """What the modal shows: each setting's saved value (None: not set in Slack) and the environment's default."""

    saved: Mapping[str, str]
    defaults: Mapping[str, str | None]
    changes: Sequence[SettingsChange] = ()
    mapped_clients: Sequence[tuple[str, ClientTier, str]] = ()  # (name, tier, channel id)


@dataclass(frozen=True)
class ClientMapping:
    name: str
    tier: ClientTier
    channel_id: str | None

    def as_mapping(self) -> dict[str, Any]:
        return {"name": self.name, "tier": self.tier, "channel_id": self.channel_id}


def settings_modal(form: SettingsForm, zone: ZoneInfo) -> View:
    blocks: list[Block] = [
        SectionBlock(
            text="Settings for this workspace. Empty fields use the deployment's default, shown under each field. "
            "Every change is recorded (who, when, old → new)."
        ),
        *(_input(settable, form) for settable in SETTABLE),
        DividerBlock(),
        *_client_inputs(form),
    ]
    if form.changes:
        lines = lines_within([_change_line(c, zone) for c in form.changes], CHANGES_CHARS)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=lines)]))
    return View(
        type="modal",
        callback_id=CallbackId.SETTINGS,
        title="Triage Bot settings",
        submit="Save",
        close="Cancel",
        blocks=blocks,
    )


def _default_hint(settable: Settable, default: str | None) -> str:
    shown = default if default else "not set"
    return truncate(f"{settable.hint} Default: {shown}", 2000)


def _input(settable: Settable, form: SettingsForm) -> InputBlock:
    saved = form.saved.get(settable.field)
    hint = _default_hint(settable, form.defaults.get(settable.field))
    element: Any
    if settable.kind == SettingKind.CHANNEL:
        element = ConversationSelectElement(
            action_id=settable.field, initial_conversation=saved, placeholder="Choose a channel"
        )
    elif settable.kind == SettingKind.USERS:
        people = [i for i in (saved or "").split(",") if i.strip().startswith(("U", "W"))]
        element = UserMultiSelectElement(action_id=settable.field, initial_users=people or None, placeholder="People")
    else:
        element = PlainTextInputElement(action_id=settable.field, initial_value=saved or None, max_length=TEXT_MAX)
    return InputBlock(block_id=settable.field, label=settable.label, element=element, hint=hint, optional=True)


def _tier_option(tier: ClientTier) -> Option:
    return Option(value=tier.value, text=TIER_LABELS[tier])


def _client_inputs(form: SettingsForm) -> list[Block]:
    mapped = [
        f"• {typed(name, 100)} ({TIER_LABELS[tier]}) → <#{channel}>" for name, tier, channel in form.mapped_clients
    ]
    title = "*Clients and their channels*\n"
    listing = lines_within(mapped, SECTION_SAFE - len(title), most=CLIENTS_SHOWN)
    return [
        SectionBlock(text=title + (listing or "_No client is mapped to a channel yet._")),
        InputBlock(
            block_id=SettingsBlock.CLIENT_NAME,
            label="Client",
            optional=True,
            hint="Add or change one client: its tier, and its own (Slack Connect) channel for client updates.",
            element=PlainTextInputElement(action_id=SettingsBlock.CLIENT_NAME, max_length=200),
        ),
        InputBlock(
            block_id=SettingsBlock.CLIENT_TIER,
            label="Tier",
            optional=True,
            element=StaticSelectElement(
                action_id=SettingsBlock.CLIENT_TIER, options=[_tier_option(t) for t in ClientTier]
            ),
        ),
        InputBlock(
            block_id=SettingsBlock.CLIENT_CHANNEL,
            label="Client's channel",
            optional=True,
            element=ConversationSelectElement(action_id=SettingsBlock.CLIENT_CHANNEL, placeholder="Choose a channel"),
        ),
    ]


def _change_line(change: SettingsChange, zone: ZoneInfo) -> str:
    old = typed(change.old_value or "default", 60)
    new = typed(change.new_value or "default", 60)
    return f"{slack_time(change.changed_at, zone)} · {mention(change.changed_by)} · {change.setting}: {old} → {new}"


def read_settings_form(values: dict[str, Any]) -> dict[str, str | None]:
    """The submitted value of every setting, by field ("" or None: back to the default)."""
    read: dict[str, str | None] = {}
    for settable in SETTABLE:
        element = state(values, settable.field)
        if settable.kind == SettingKind.CHANNEL:
            chosen = element.get("selected_conversation")
            read[settable.field] = chosen if isinstance(chosen, str) else None
        elif settable.kind == SettingKind.USERS:
            users = [u for u in element.get("selected_users") or [] if isinstance(u, str)]
            read[settable.field] = ",".join(users) or None
        else:
            read[settable.field] = text(values, settable.field) or None
    return read


def read_client_mapping(values: dict[str, Any]) -> ClientMapping | None:
    name = text(values, SettingsBlock.CLIENT_NAME)
    if not name:
        return None
    tier_value = choice(values, SettingsBlock.CLIENT_TIER)
    tier = ClientTier(tier_value) if tier_value in {t.value for t in ClientTier} else ClientTier.STANDARD
    channel = state(values, SettingsBlock.CLIENT_CHANNEL).get("selected_conversation")
    return ClientMapping(name=name, tier=tier, channel_id=channel if isinstance(channel, str) else None)


def shown_value(settable: Settable, value: str | None, default: str | None) -> str:
    """A setting's value as a person reads it: channels and people as Slack shows them, the default named."""
    if value is None:
        return f"default ({shown_value(settable, default, None)})" if default else "default (not set)"
    if settable.kind == SettingKind.CHANNEL:
        return f"<#{value}>"
    if settable.kind == SettingKind.USERS:
        people = [mention(i.strip()) for i in value.split(",") if i.strip()]
        more = f" and {len(people) - PEOPLE_SHOWN} more" if len(people) > PEOPLE_SHOWN else ""
        return ", ".join(people[:PEOPLE_SHOWN]) + more
    return typed(value, 200)


def settings_saved_view(
    changes: Sequence[SettingChange], defaults: Mapping[str, str | None], client: ClientMapping | None
) -> View:
    """What the modal turns into after a save: what changed, old → new."""
    lines = []
    for change in changes:
        settable = SETTABLE_BY_FIELD[change.field]
        default = defaults.get(change.field)
        old, new = shown_value(settable, change.old, default), shown_value(settable, change.new, default)
        lines.append(f"• {settable.label}: {old} → {new}")
    if client is not None:
        channel = f", its channel <#{client.channel_id}>" if client.channel_id else ""
        lines.append(f"• Client {typed(client.name, 200)}: {TIER_LABELS[client.tier]}{channel}")
    head = "*Saved.* It takes effect at once.\n"
    body = lines_within(lines, SECTION_SAFE - len(head)) if lines else "Nothing changed."
    return View(type="modal", title="Settings saved", close="Done", blocks=[SectionBlock(text=head + body)])


def notice_modal(title: str, message: str) -> View:
    """A modal that only says something (for a button whose answer has nowhere else to go)."""
    return View(type="modal", title=title[:24], close="OK", blocks=[SectionBlock(text=typed(message, 2900))])
