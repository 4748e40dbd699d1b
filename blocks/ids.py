"""Every Slack identifier the bot uses, in one place for both builders and listeners."""

import enum


class CallbackId(enum.StrEnum):
    NEW_INCIDENT = "new_incident"
    SETTINGS = "workspace_settings"


class SettingsBlock(enum.StrEnum):
    """Inputs of the settings modal that are not a setting of their own: mapping a client to its channel."""

    CLIENT_NAME = "settings_client_name"
    CLIENT_TIER = "settings_client_tier"
    CLIENT_CHANNEL = "settings_client_channel"


class ShortcutId(enum.StrEnum):
    """Callback ids of the app's shortcuts (slack-app-manifest.yaml lists the same)."""

    OPEN_INCIDENT = "open_incident_from_message"


class HomeAction(enum.StrEnum):
    OPEN_SETTINGS = "home_open_settings"


class NewIncidentBlock(enum.StrEnum):
    """Inputs of the new-incident modal that are not fields of the report; the report's fields use
    `bot.domain.incidents.ReportField`'s values as their block and action ids (one list of fields)."""

    PREMIUM = "premium"
    POST_IN = "post_in"  # shown only when the bot can't post where /triage was typed


PREMIUM_OPTION_VALUE = "premium"


class IncidentAction(enum.StrEnum):
    """Buttons on an incident's messages; each button's value is the incident id."""

    ACKNOWLEDGE = "incident_acknowledge"
    TAKE_OWNERSHIP = "incident_take_ownership"
    ADD_DETAILS = "incident_add_details"
    LOG_STEP = "incident_log_step"
    CHANGE_STATUS = "incident_change_status"
    ISOLATE = "incident_isolate"
    CLIENT_UPDATE = "incident_client_update"
    MARK_SYSTEMIC = "isolation_mark_systemic"
    ESCALATE = "incident_escalate"
    START_WORKAROUND = "incident_start_workaround"
    WORKAROUND_PROGRESS = "incident_workaround_progress"
    RESOLVE = "incident_resolve"
    FILE_FEEDBACK = "incident_file_feedback"


class EscalationAction(enum.StrEnum):
    """Buttons about one escalation; the value is the escalation's id."""

    RETRY = "escalation_retry"


class WorkaroundAction(enum.StrEnum):
    """Buttons on check-in and time-box messages; the value is `<workaround id>:<check-in number>`."""

    WORKED = "checkin_worked"
    STILL_FAILING = "checkin_still_failing"
    ERROR_CHANGED = "checkin_error_changed"
    EXTEND = "timebox_extend"
    STOP = "timebox_stop"


class ClientChannelAction(enum.StrEnum):
    """The button under a recorded client update; its value is the update's audit-event id."""

    SEND = "client_update_send_to_client"


class ReportAction(enum.StrEnum):
    """The button under a report only its asker sees; the value is the period in days."""

    POST_IN_CHANNEL = "report_post_in_channel"


class IncidentModal(enum.StrEnum):
    """Callback ids of modals opened from an incident; their private_metadata carries the incident id."""

    LOG_STEP = "incident_log_step_modal"
    CHANGE_STATUS = "incident_change_status_modal"
    ADD_DETAILS = "incident_add_details_modal"
    ISOLATE = "incident_isolate_modal"
    CLIENT_UPDATE = "incident_client_update_modal"
    ESCALATE = "incident_escalate_modal"
    ENGINEERING = "incident_engineering_modal"
    FEEDBACK = "incident_feedback_modal"
    DECLARE = "incident_declare_modal"
    START_WORKAROUND = "incident_start_workaround_modal"
    ERROR_CHANGED = "checkin_error_changed_modal"
    PROGRESS = "workaround_progress_modal"
    RESOLVE = "incident_resolve_modal"


class ModalField(enum.StrEnum):
    """Block ids (and action ids) of inputs in the incident modals."""

    STEP_KIND = "step_kind"
    STEP_DESCRIPTION = "step_description"
    STEP_OUTCOME = "step_outcome"
    STATUS = "status"
    SEVERITY = "severity"
    REASON = "reason"
    SCOPE = "scope"
    RELATED = "related"
    UPDATE_TEXT = "update_text"
    PATH = "escalation_path"
    REPRODUCTION = "reproduction"
    EXPECTED = "expected"
    ACTUAL = "actual"
    ENVIRONMENT = "environment"
    EVIDENCE = "evidence"
    IMPACT = "impact"
    TRACK = "track"
    AREA = "area"
    USE_CASE = "use_case"
    LEAD = "lead"
    WORKAROUND_KIND = "workaround_kind"
    DESCRIPTION = "description"
    EXPECTATION = "client_expectation"
    TIME_BOX = "time_box"
    INTERVAL = "interval"
    ERROR_TEXT = "error_text"
    BATCHES_DONE = "batches_done"
    BATCHES_TOTAL = "batches_total"
    FAILING_ELEMENT = "failing_element"
    PROGRESS_NOTE = "progress_note"
    ROOT_CAUSE = "root_cause"
    RESOLUTION = "resolution"
    LEARNINGS = "learnings"
    FOLLOW_UP_TICKETS = "follow_up_tickets"
    FILE_FEEDBACK = "file_feedback"


class FollowUpPart(enum.StrEnum):
    """The inputs of one follow-up row in the resolve modal; see `follow_up_field`."""

    DESCRIPTION = "description"
    OWNER = "owner"
    DUE = "due"


def follow_up_field(row: int, part: FollowUpPart) -> str:
    """Block (and action) id of one input of follow-up row `row` (1-based) in the resolve modal."""
    return f"follow_up_{row}_{part.value}"
