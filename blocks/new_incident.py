"""The new-incident modal, and reading its submitted state back into a report."""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ConversationFilter,
    ConversationSelectElement,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from blocks.ids import PREMIUM_OPTION_VALUE, CallbackId, NewIncidentBlock
from blocks.view_state import UnreadableInput, block_errors, choice, member, raw_text, state
from bot.domain.channels import ChannelReach, post_in_problems
from bot.domain.glossary import SEVERITY_MEANINGS
from bot.domain.incidents import (
    FREQUENCIES,
    TEXT_LIMITS,
    DetailsReport,
    EnvironmentReport,
    IncidentReport,
    ReportField,
    validate_report,
)
from bot.domain.message_intake import BlockerDraft, SourceMessage
from bot.models import Severity

B = NewIncidentBlock
MAX_INPUT_CHARS = 3000  # Slack's most for a plain-text input's max_length and initial value
F = ReportField  # the report's fields are the form's inputs: their values are the block and action ids


@dataclass(frozen=True)
class ModalContext:
    """What the modal carries from `/triage` (or the "Open incident" shortcut) to its submission."""

    channel_id: str
    source: SourceMessage | None = None  # the message it was opened from

    def dump(self) -> str:
        data: dict[str, Any] = {"channel_id": self.channel_id}
        if self.source is not None:
            data["source"] = asdict(self.source)
        return json.dumps(data)

    @classmethod
    def load(cls, private_metadata: str) -> ModalContext:
        try:
            data = json.loads(private_metadata)
            channel_id = data["channel_id"]
        except (ValueError, TypeError, KeyError):
            channel_id, data = None, {}
        if not isinstance(channel_id, str) or not channel_id:
            raise UnreadableInput(F.TITLE, "This form is out of date: close it and type `/triage` again.")
        return cls(channel_id=channel_id, source=_source(data.get("source")))


def _source(data: object) -> SourceMessage | None:
    if not isinstance(data, dict):
        return None
    channel_id, ts, author_id, link = (data.get(k) for k in ("channel_id", "ts", "author_id", "link"))
    if not isinstance(channel_id, str) or not isinstance(ts, str) or not channel_id or not ts:
        return None
    author = author_id if isinstance(author_id, str) else None
    return SourceMessage(channel_id, ts, author, link if isinstance(link, str) else None)


@dataclass(frozen=True)
class Prefill:
    """What the form starts with when it opens from a message."""

    blocker: BlockerDraft
    client: str | None = None
    premium: bool = False


def _text_input(
    block: ReportField,
    label: str,
    *,
    placeholder: str | None = None,
    hint: str | None = None,
    multiline: bool = False,
    optional: bool = True,
    initial: str | None = None,
) -> InputBlock:
    limit = TEXT_LIMITS.get(block)
    if limit is not None and initial and len(initial) > limit:
        # Stored before today's limit, or put together from several fields: shown whole (up to Slack's 3,000), not
        # cut to the limit, which Slack would refuse as an initial value; saving it asks for it to be shortened.
        initial = initial[:MAX_INPUT_CHARS]
        limit = len(initial)
    element = PlainTextInputElement(
        action_id=block, placeholder=placeholder, multiline=multiline, max_length=limit, initial_value=initial or None
    )
    return InputBlock(block_id=block, label=label, optional=optional, hint=hint, element=element)


def severity_option(severity: Severity) -> Option:
    return Option(value=severity.value, text=f"{severity.value} — {SEVERITY_MEANINGS[severity]}"[:75])


def new_incident_modal(
    *,
    channel_id: str,
    unreachable: ChannelReach | None = None,
    source: SourceMessage | None = None,
    prefill: Prefill | None = None,
) -> dict[str, Any]:
    """The `/triage` form: who is affected, how badly, by when, and the client's environment.

    `unreachable` (the bot can't post where /triage was typed) puts at the top why, how to fix it, and a required
    choice of the channel to post the incident in; the block ids stay the same, so Slack keeps what was typed when
    a submitted form is answered with this one. Only the channel differs between calls otherwise, so each view is
    built and validated once and reused: this is on the path every `/triage` takes.
    """
    reason = cannot_post_here(unreachable, channel_id) if unreachable is not None else None
    view = {**_modal_template(reason), "private_metadata": ModalContext(channel_id=channel_id, source=source).dump()}
    return _prefilled(view, prefill) if prefill is not None else view


def _prefilled(view: dict[str, Any], prefill: Prefill) -> dict[str, Any]:
    """The form with the message's words as the blocker (and the channel's client), saying when they were cut."""
    blocks = copy.deepcopy(view["blocks"])
    for block in blocks:
        element = block.get("element") or {}
        if block.get("block_id") == F.BLOCKER:
            element["initial_value"] = prefill.blocker.text
            if prefill.blocker.cut_from is not None:
                block["hint"] = {
                    "type": "plain_text",
                    "text": f"The message had {prefill.blocker.cut_from:,} characters; the first "
                    f"{len(prefill.blocker.text):,} are here, and the incident links the whole message.",
                }
        elif block.get("block_id") == F.CLIENT and prefill.client:
            element["initial_value"] = prefill.client[: TEXT_LIMITS[ReportField.CLIENT]]
        elif block.get("block_id") == B.PREMIUM and prefill.premium:
            element["initial_options"] = list(element["options"])
    return {**view, "blocks": blocks}


def cannot_post_here(reach: ChannelReach, channel_id: str) -> str:
    """Why the incident can't be posted where /triage was typed, and what to do (mrkdwn, at the top of the form)."""
    if reach == ChannelReach.ARCHIVED:
        return "⚠️ *This channel is archived*, so I can't post the incident in it. Choose a channel below."
    if reach == ChannelReach.SHARED:
        return (
            "⚠️ *This channel is shared with another organisation* (the client can read it), and an incident's "
            "thread is internal. Choose an internal channel below."
        )
    if channel_id.startswith("D"):
        return "⚠️ *I can't post in this direct message*, so the incident needs a channel. Choose one below."
    return (
        "⚠️ *I'm not in this conversation*, so I can't post the incident here. Invite me with "
        "`/invite @Triage Bot` and type `/triage` again, or choose a channel below."
    )


def cannot_post_there(reach: ChannelReach) -> str:
    """The error on the channel choice when the bot can't post in the chosen channel either (plain text)."""
    if reach == ChannelReach.ARCHIVED:
        return "That channel is archived. Choose another one."
    if reach == ChannelReach.SHARED:
        return "That channel is shared with another organisation; incidents are internal. Choose an internal one."
    return "I'm not in that channel, so I can't post there. Invite me (/invite @Triage Bot) or choose another one."


def read_post_in(values: dict[str, Any]) -> str | None:
    """The channel chosen on a form that asked for one ("" when none was chosen); None when it did not ask."""
    if B.POST_IN.value not in values:
        return None
    chosen = state(values, B.POST_IN).get("selected_conversation")
    return chosen if isinstance(chosen, str) else ""


@lru_cache(maxsize=4)
def _modal_template(unreachable_reason: str | None) -> dict[str, Any]:
    return _new_incident_view(unreachable_reason).to_dict()


def _post_in_blocks(reason: str) -> list[Block]:
    choose = ConversationSelectElement(
        action_id=B.POST_IN,
        placeholder="Choose a channel",
        default_to_current_conversation=False,
        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
    )
    return [
        SectionBlock(text=reason),
        InputBlock(
            block_id=B.POST_IN,
            label="Post the incident in",
            hint="A public channel, or a private one I'm in.",
            element=choose,
        ),
        DividerBlock(),
    ]


def _new_incident_view(unreachable_reason: str | None = None) -> View:
    blocks = [
        *(_post_in_blocks(unreachable_reason) if unreachable_reason else []),
        _text_input(F.CLIENT, "Client / account", placeholder="e.g. Hartley & Moss LLP", optional=False),
        InputBlock(
            block_id=B.PREMIUM,
            label="Client tier",
            optional=True,
            element=CheckboxesElement(
                action_id=B.PREMIUM, options=[Option(value=PREMIUM_OPTION_VALUE, text="Premium client")]
            ),
        ),
        _text_input(F.TITLE, "Incident title", placeholder="e.g. Exhibit upload fails at 99%", optional=False),
        InputBlock(
            block_id=F.SEVERITY,
            label="Severity",
            element=StaticSelectElement(
                action_id=F.SEVERITY,
                placeholder="How bad is it?",
                options=[severity_option(s) for s in Severity],
                initial_option=severity_option(Severity.SEV2),
            ),
        ),
        InputBlock(
            block_id=F.DEADLINE,
            label="Client's deadline (date and time)",
            optional=True,
            hint="Shown with a countdown on the incident. Leave empty if there is none.",
            element=DateTimePickerElement(action_id=F.DEADLINE),
        ),
        _text_input(F.DEADLINE_CONTEXT, "What the deadline is", placeholder="court filing, major deployment, …"),
        _text_input(
            F.BLOCKER,
            "The blocker, in the client's words",
            multiline=True,
            optional=False,
            placeholder="What are they trying to do, and what happens instead?",
        ),
        *details_inputs(None),
    ]
    return View(
        type="modal",
        callback_id=CallbackId.NEW_INCIDENT,
        title="New incident",
        submit="Open incident",
        close="Cancel",
        blocks=blocks,
    )


def _frequency_option(frequency: str) -> Option:
    return Option(value=frequency, text=frequency.capitalize())


def details_inputs(initial: DetailsReport | None) -> list[Block]:
    """Where it happens and the client's environment: shared by the new-incident and Add-details modals."""
    known = initial or DetailsReport()
    env = known.environment
    frequency = StaticSelectElement(
        action_id=F.FREQUENCY,
        placeholder="Choose one",
        options=[_frequency_option(f) for f in FREQUENCIES],
        initial_option=_frequency_option(env.frequency) if env.frequency in FREQUENCIES else None,
    )
    return [
        _text_input(F.WORKFLOW, "Affected workflow", placeholder="e.g. document upload", initial=known.workflow),
        _text_input(F.REGION, "Region", placeholder="e.g. eu-west", initial=known.region),
        DividerBlock(),
        HeaderBlock(text="Client environment"),
        SectionBlock(text="_Record everything before troubleshooting begins._"),
        _text_input(
            F.FILE_SIZE,
            "File size",
            placeholder="e.g. 250 MB",
            hint="250 MB, 1.2GB, 3 GiB or 800k",
            initial=env.file_size,
        ),
        _text_input(F.BROWSER, "Browser and version", placeholder="e.g. Chrome 126", initial=env.browser),
        _text_input(F.OS, "Operating system", placeholder="e.g. Windows 11", initial=env.os),
        _text_input(
            F.STARTED,
            "When it started",
            placeholder="e.g. today 09:40, right after the 2nd upload",
            initial=env.started,
        ),
        InputBlock(block_id=F.FREQUENCY, label="How often it happens", optional=True, element=frequency),
        _text_input(
            F.ALREADY_TRIED,
            "Already tried",
            multiline=True,
            placeholder="Retries, other browser, …",
            initial=env.already_tried,
        ),
    ]


def read_details(values: dict[str, Any]) -> DetailsReport:
    """The workflow, region and environment inputs of a submitted view."""
    return DetailsReport(
        workflow=raw_text(values, F.WORKFLOW),
        region=raw_text(values, F.REGION),
        environment=EnvironmentReport(
            file_size=raw_text(values, F.FILE_SIZE),
            browser=raw_text(values, F.BROWSER),
            os=raw_text(values, F.OS),
            started=raw_text(values, F.STARTED),
            frequency=choice(values, F.FREQUENCY),
            already_tried=raw_text(values, F.ALREADY_TRIED),
        ),
    )


def read_new_incident(values: dict[str, Any]) -> IncidentReport:
    """Turn a submitted `view.state.values` into a report (validation is the domain's job)."""
    details = read_details(values)
    premium = any(
        o.get("value") == PREMIUM_OPTION_VALUE for o in state(values, B.PREMIUM).get("selected_options") or []
    )
    return IncidentReport(
        client_name=raw_text(values, F.CLIENT),
        premium=premium,
        title=raw_text(values, F.TITLE),
        severity=member(Severity, choice(values, F.SEVERITY)),
        deadline_at=_deadline(state(values, F.DEADLINE).get("selected_date_time")),
        deadline_context=raw_text(values, F.DEADLINE_CONTEXT),
        blocker=raw_text(values, F.BLOCKER),
        workflow=details.workflow,
        region=details.region,
        environment=details.environment,
    )


def _deadline(epoch: Any) -> datetime | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), UTC)
    except (ValueError, TypeError, OverflowError, OSError):  # beyond the years a date can hold
        raise UnreadableInput(F.DEADLINE, "Pick the deadline with the date and time picker.") from None


def field_errors(problems: dict[ReportField, str]) -> dict[str, str]:
    """Domain problems keyed by the modal block that shows them (`response_action: errors`)."""
    return {report_field.value: message for report_field, message in problems.items()}


def new_incident_errors(report: IncidentReport, chosen: str | None, *, now: datetime) -> dict[str, str]:
    """The report's problems on their inputs; once there are none, the channel choice's (`read_post_in`)."""
    problems = field_errors(validate_report(report, now=now))
    return problems or block_errors(post_in_problems(chosen), {"post_in": B.POST_IN})
