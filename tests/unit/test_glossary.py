"""One glossary: the UI's labels and docs/glossary.md come from bot/domain/glossary.py, and say the same words."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from blocks.escalation import declare_modal, escalate_modal, feedback_modal, lead_line
from blocks.incident import checklist_text, root_message
from blocks.incident_modals import change_status_modal, isolate_modal
from blocks.new_incident import new_incident_modal
from blocks.workarounds import start_workaround_modal
from bot.domain import glossary
from bot.domain.isolation import Isolation
from bot.domain.triage import StepView
from bot.models import EscalationKind, FeedbackTrack, IncidentStatus, Scope, Severity, TriageStep, WorkaroundKind
from tests.builders import an_incident
from tests.conftest import T0

ROOT = Path(__file__).resolve().parents[2]
UTC = ZoneInfo("UTC")


def _options(view: dict[str, object], block_id: str) -> list[tuple[str, str]]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)  # type: ignore[union-attr]
    return [(o["value"], o["text"]["text"]) for o in block["element"]["options"]]


def test_docs_glossary_is_generated_from_the_code() -> None:
    assert (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8") == glossary.markdown(), (
        "docs/glossary.md is out of date: python -m bot.domain.glossary > docs/glossary.md"
    )


def test_every_term_of_every_kind_is_in_the_glossary() -> None:
    terms = {term for section in glossary.sections() for term, _ in section.terms}
    expected = [
        *(s.value for s in Severity),
        *(glossary.status_label(s) for s in IncidentStatus),
        *glossary.TRIAGE_STEPS.values(),
        *(glossary.path_title(k) for k in EscalationKind),
        *glossary.WORKAROUND_KINDS.values(),
        *glossary.FEEDBACK_TRACKS.values(),
        *glossary.SCOPES.values(),
        glossary.INCIDENT_MANAGEMENT,
        glossary.INCIDENT_LEAD,
    ]
    assert [t for t in expected if t not in terms] == []


def test_the_escalation_workaround_feedback_scope_and_status_choices_use_the_glossary() -> None:
    incident = an_incident()
    paths = escalate_modal(incident, []).to_dict()
    assert _options(paths, "escalation_path") == [(k.value, glossary.path_title(k)) for k in EscalationKind]
    workarounds = start_workaround_modal(incident).to_dict()
    assert _options(workarounds, "workaround_kind") == [(k.value, glossary.WORKAROUND_KINDS[k]) for k in WorkaroundKind]
    feedback = feedback_modal(incident, ["Uploads"], "use case").to_dict()
    assert _options(feedback, "track") == [(t.value, glossary.track_with_meaning(t)) for t in FeedbackTrack]
    assert all(glossary.FEEDBACK_TRACK_MEANINGS[t] in glossary.track_with_meaning(t) for t in FeedbackTrack)
    isolate = isolate_modal(
        incident,
        Isolation(
            matches=[],
            window=timedelta(hours=1),
            other_clients=0,
            summary="No similar incidents.",
            likely_systemic=False,
        ),
    ).to_dict()
    assert _options(isolate, "scope") == [(s.value, glossary.SCOPES[s]) for s in Scope]
    statuses = change_status_modal(incident).to_dict()
    assert all(text == glossary.status_label(IncidentStatus(value)) for value, text in _options(statuses, "status"))
    severities = _options(new_incident_modal(channel_id="C1"), "severity")
    assert severities == [(s.value, f"{s.value} — {glossary.SEVERITY_MEANINGS[s]}") for s in Severity]


def test_the_root_message_and_incident_management_use_the_glossary() -> None:
    steps = [StepView(step, glossary.TRIAGE_STEPS[step], False, None, None, None) for step in TriageStep]
    incident = an_incident(status=IncidentStatus.ESCALATED, is_major=True, lead_id="ULEAD")
    message = json.dumps(root_message(incident, now=T0, zone=UTC).as_args(), ensure_ascii=False)
    assert f"*Status*\\n{glossary.status_label(IncidentStatus.ESCALATED)}" in message
    assert f"{Severity.SEV2.value} — {glossary.SEVERITY_MEANINGS[Severity.SEV2]}" in message
    assert all(title in checklist_text(steps, UTC) for title in glossary.TRIAGE_STEPS.values())
    assert lead_line(incident) == f"🚨 *Incident management* · {glossary.INCIDENT_LEAD} <@ULEAD>"
    declare = declare_modal(incident, None).to_dict()
    assert declare["title"]["text"] == "Incident management"


def test_the_ui_never_says_major_incident() -> None:
    """The playbook's word is incident management; the setting MAJOR_INCIDENT_DECLARERS keeps its name."""
    phrase = re.compile(r"major[ -]incident", re.IGNORECASE)
    sources = [*ROOT.joinpath("blocks").glob("*.py"), *ROOT.joinpath("bot").glob("*/*.py")]
    said = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        if path.name != "glossary.py" and "sandbox" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if phrase.search(line.replace("MAJOR_INCIDENT_DECLARERS", "").replace("major_incident", ""))
    ]
    assert said == []
