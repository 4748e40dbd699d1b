"""Every Slack identifier the bot uses, in one place for both builders and listeners."""

import enum


class CallbackId(enum.StrEnum):
    NEW_INCIDENT = "new_incident"


class NewIncidentBlock(enum.StrEnum):
    """Block ids of the new-incident modal; each input's action_id is the same string."""

    CLIENT = "client"
    PREMIUM = "premium"
    TITLE = "title"
    SEVERITY = "severity"
    DEADLINE = "deadline"
    DEADLINE_CONTEXT = "deadline_context"
    BLOCKER = "blocker"
    WORKFLOW = "workflow"
    REGION = "region"
    FILE_SIZE = "file_size"
    BROWSER = "browser"
    OS = "os"
    STARTED = "started"
    FREQUENCY = "frequency"
    ALREADY_TRIED = "already_tried"


PREMIUM_OPTION_VALUE = "premium"
