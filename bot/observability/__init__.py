"""Observability: structured logs that never carry secrets, request correlation, Prometheus metrics, readiness.

- `redaction`: blanks out Slack tokens, Authorization values, URL passwords and registered secrets.
- `context`: the correlation id, Slack request type and incident key of what is being handled (contextvars).
- `logs`: one JSON object (or one text line) per log record, with that context.
- `metrics`: the Prometheus metrics, process-local or shared by gunicorn's workers (multiprocess mode).
- `bolt`: the Bolt middleware that describes each request and times the listeners' Slack calls.
- `readiness`: what `/readyz` checks.
"""
