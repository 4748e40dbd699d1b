"""Files people take away from the bot: the one-page incident summary and the audit trail (md, html, json)."""

from bot.exports.summary_formats import (
    ExportFormat,
    audit_document,
    audit_html,
    audit_json,
    audit_markdown,
    render_audit,
    render_summary,
    summary_document,
    summary_html,
    summary_json,
    summary_markdown,
)

__all__ = [
    "ExportFormat",
    "audit_document",
    "audit_html",
    "audit_json",
    "audit_markdown",
    "render_audit",
    "render_summary",
    "summary_document",
    "summary_html",
    "summary_json",
    "summary_markdown",
]
