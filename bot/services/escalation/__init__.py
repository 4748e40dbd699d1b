"""The playbook's escalation paths, one module each: `internal_notice`, `engineering` (the Jira handoff),
`product_feedback` and `incident_management`. `tickets` holds what the Jira-backed paths share.

Adding a path: a module here with its use cases and `register_outcomes` (for what its deliveries achieve), its
registration in `bot.services.wiring`, its blocks (`blocks/escalation.py`) and, if it stores something new, a
migration. docs/architecture.md lists the places.
"""
