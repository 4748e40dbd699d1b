import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from blocks.ids import CallbackId
from blocks.incident import environment_reply, oncall_reply, root_message
from blocks.lists import help_blocks, incident_list_blocks
from blocks.new_incident import ModalContext, field_errors, new_incident_modal, read_new_incident
from bot.domain.incidents import ReportField
from bot.models import Client, ClientTier, Environment, Incident, IncidentStatus, Severity
from tests.conftest import T0

UTC_ZONE = ZoneInfo("UTC")


def an_incident(**changes: object) -> Incident:
    incident = Incident(
        id=7,
        title="Exhibit upload fails <!channel>",
        client=Client(name="Hartley & Moss <@U999>", tier=ClientTier.PREMIUM),
        severity=Severity.SEV1,
        status=IncidentStatus.NEW,
        blocker="Stops at 99% <https://evil.example|click here>",
        deadline_at=T0 + timedelta(hours=1, minutes=55),
        deadline_context="court filing",
        workflow="document upload",
        region="eu-west",
        channel_id="C1",
        reporter_id="UREPORTER",
        oncall_id="UONCALL",
        opened_at=T0,
        environment=Environment(
            file_size_text="250 MB",
            file_size_bytes=250_000_000,
            browser="Chrome",
            browser_version="126",
            os="Windows 11",
        ),
    )
    for key, value in changes.items():
        setattr(incident, key, value)
    return incident


def test_modal_asks_for_every_field_with_english_labels() -> None:
    view = new_incident_modal(channel_id="C42")
    assert view["callback_id"] == CallbackId.NEW_INCIDENT
    labels = {b["block_id"]: b["label"]["text"] for b in view["blocks"] if b["type"] == "input"}
    assert labels == {
        "client": "Client / account",
        "premium": "Client tier",
        "title": "Incident title",
        "severity": "Severity",
        "deadline": "Client's deadline (date and time)",
        "deadline_context": "What the deadline is",
        "blocker": "The blocker, in the client's words",
        "workflow": "Affected workflow",
        "region": "Region",
        "file_size": "File size",
        "browser": "Browser and version",
        "os": "Operating system",
        "started": "When it started",
        "frequency": "How often it happens",
        "already_tried": "Already tried",
    }
    severities = next(b for b in view["blocks"] if b["block_id"] == "severity")["element"]["options"]
    assert [o["text"]["text"][:4] for o in severities] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert all("—" in o["text"]["text"] for o in severities), "each severity says what it means"
    assert ModalContext.load(view["private_metadata"]).channel_id == "C42"
    assert ModalContext.load(new_incident_modal(channel_id="C7")["private_metadata"]).channel_id == "C7"
    assert ModalContext.load(view["private_metadata"]).channel_id == "C42", "each call gets its own view"


def test_submitted_state_reads_back_into_a_report() -> None:
    def typed(value: str) -> dict[str, object]:
        return {"type": "plain_text_input", "value": value}

    values = {
        "client": {"client": typed("Acme")},
        "premium": {"premium": {"type": "checkboxes", "selected_options": [{"value": "premium"}]}},
        "title": {"title": typed("Uploads fail")},
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": "SEV2"}}},
        "deadline": {"deadline": {"type": "datetimepicker", "selected_date_time": int(T0.timestamp())}},
        "blocker": {"blocker": typed("It fails")},
        "file_size": {"file_size": typed("3 GiB")},
        "frequency": {"frequency": {"type": "static_select", "selected_option": {"value": "intermittently"}}},
        "region": {"region": {"type": "plain_text_input", "value": None}},
    }
    report = read_new_incident(values)
    assert (report.client_name, report.premium, report.title, report.severity) == (
        "Acme",
        True,
        "Uploads fail",
        Severity.SEV2,
    )
    assert report.deadline_at == T0
    assert report.region is None
    assert (report.environment.file_size, report.environment.frequency) == ("3 GiB", "intermittently")


def test_field_errors_point_at_the_modal_blocks() -> None:
    errors = field_errors({ReportField.FILE_SIZE: "bad size", ReportField.DEADLINE: "past"})
    assert errors == {ReportField.FILE_SIZE.value: "bad size", ReportField.DEADLINE.value: "past"}


def test_root_message_shows_the_state_and_never_lets_typed_text_ping() -> None:
    message = root_message(an_incident(), now=T0, zone=UTC_ZONE)
    payload = json.dumps(message.as_args(), ensure_ascii=False)
    assert message.blocks[0].to_dict()["text"] == {
        "type": "plain_text",
        "text": "🔴 SEV1 · INC-7 · Exhibit upload fails &lt;!channel&gt;",
        "emoji": True,
    }
    for raw in ("<!channel>", "<@U999>", "<https://evil.example|click here>"):
        assert raw not in payload
    assert "&lt;@U999&gt;" in payload and "&lt;https://evil.example|click here&gt;" in payload
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in message.blocks[1].to_dict()["fields"]}
    assert fields["*Status*"] == "New"
    assert fields["*Client*"] == "Hartley &amp; Moss &lt;@U999&gt; · ⭐ Premium"
    assert "(⏰ soon, in 1 h 55 min)" in fields["*Deadline*"] and "_court filing_" in fields["*Deadline*"]
    assert fields["*Owner*"] == "_Unassigned_"
    assert fields["*On-call*"] == "<@UONCALL>"
    assert "File size: 250 MB · Browser: Chrome 126 · OS: Windows 11" in payload
    assert message.text == "INC-7 SEV1 · Hartley &amp; Moss &lt;@U999&gt;: Exhibit upload fails &lt;!channel&gt; (new)"


def test_oncall_reply_tags_the_engineer_with_severity_and_deadline() -> None:
    text = oncall_reply(an_incident(), now=T0, zone=UTC_ZONE).text
    assert text.startswith("📟 <@UONCALL> you are on call for *INC-7*.")
    assert "*SEV1*" in text and "in 1 h 55 min" in text and "court filing" in text


def test_without_an_oncall_the_reporter_is_asked_to_page_someone() -> None:
    text = oncall_reply(an_incident(oncall_id=None), now=T0, zone=UTC_ZONE).text
    assert "No on-call engineer is configured (set `ONCALL_SLACK_ID`)" in text and "<@UREPORTER>" in text


def test_environment_reply_lists_what_was_recorded() -> None:
    text = environment_reply(an_incident()).text
    assert text.startswith("📋 Environment recorded by <@UREPORTER> for INC-7\n")
    assert "*File size:* 250 MB" in text and "*OS:* Windows 11" in text


def test_environment_reply_without_details_does_not_claim_anything_was_recorded() -> None:
    text = environment_reply(an_incident(environment=None)).text
    assert text == (
        "📋 No environment recorded yet for INC-7 — ask the client for file size, browser, OS and timing, "
        "then use *Add details*."
    )


def test_oncall_reply_without_a_deadline_says_so_in_words() -> None:
    text = oncall_reply(an_incident(deadline_at=None, deadline_context=None), now=T0, zone=UTC_ZONE).text
    assert text.endswith("*SEV1* for Hartley &amp; Moss &lt;@U999&gt; · ⭐ Premium · no deadline given")
    assert "None" not in text


def test_help_lists_every_subcommand() -> None:
    blocks = help_blocks([("", "open"), ("list", "open incidents"), ("show INC-7", "one incident")])
    text = blocks[1].to_dict()["text"]["text"]
    assert text.splitlines() == [
        "`/triage` — open",
        "`/triage list` — open incidents",
        "`/triage show INC-7` — one incident",
    ]


def test_incident_list_is_capped_within_block_kit_limits() -> None:
    incidents = [an_incident(id=n) for n in range(1, 61)]
    blocks = incident_list_blocks(incidents, now=T0, zone=UTC_ZONE)
    assert len(blocks) <= 50
    assert blocks[-2].to_dict()["elements"][0]["text"] == "…and 40 more — `/triage list 2` (page 1 of 3)"
