"""Errors the domain raises; the one Bolt error handler turns them into a clear message."""

# What is wrong with a submitted form: the form's field (its attribute name) -> a message for the person who filled
# it in. Every form has one validator in the domain returning these; `blocks` shows each on its input
# (`response_action: errors`).
FieldProblems = dict[str, str]


class DomainError(Exception):
    """A rule of the playbook said no; the message is shown to the person as is (Slack mrkdwn)."""


def quoted(typed: str, limit: int = 80) -> str:
    """What the person typed, repeated in a message: cut short and inert in mrkdwn (no pings, mentions or links)."""
    cut = typed if len(typed) <= limit else typed[: limit - 1] + "…"
    return cut.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class IncidentNotFound(DomainError):
    """No such incident, or one of another workspace: the answer is the same, and names no key (it may be theirs)."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        super().__init__("That incident isn't available here. `/triage list` shows the open ones.")
