"""Errors the domain raises; the one Bolt error handler turns them into a clear message."""


class DomainError(Exception):
    """A rule of the playbook said no; the message is shown to the person as is."""


class IncidentNotFound(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"There is no incident {reference}. `/triage list` shows the open ones.")
