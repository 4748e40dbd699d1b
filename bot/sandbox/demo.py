"""The sandbox's demo workspace: its people, channels, clients and on-call rotation, and the settings that wire
the bot to them. Seeding is idempotent: the emulator starts empty on every run, the database keeps what it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import SANDBOX_DATABASE_URL
from bot.domain.incidents import find_or_create_client
from bot.domain.oncall import TeamSpec, replace_teams
from bot.domain.workspace_settings import SINGLE_WORKSPACE, client_of_channel, map_client
from bot.models import ClientTier, Event, Incident, OncallTeam
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.fake_oncall import FakeOnCallServices, OnCallPerson

__all__ = [
    "AGENT",
    "CHANNELS",
    "CLIENTS",
    "ESCALATIONS",
    "LEAD",
    "ONCALL",
    "PEOPLE",
    "PM",
    "ROTATION",
    "SANDBOX_DATABASE_URL",
    "SUPPORT",
    "DemoChannel",
    "Person",
    "bot_settings",
    "incident_count",
    "latest_recorded_time",
    "seed_database",
    "seed_workspace",
]


@dataclass(frozen=True)
class Person:
    id: str
    handle: str
    real_name: str
    role: str
    team_id: str | None = None  # another organisation's (a client in a Slack Connect channel)


@dataclass(frozen=True)
class DemoChannel:
    id: str
    name: str
    topic: str
    members: tuple[str, ...]
    shared_with: str | None = None  # "external": a Slack Connect channel shared with a client


AGENT = Person("U0AGENT", "sam", "Sam Rivera", "Support agent")
ONCALL = Person("U0ONCALL", "olu", "Olu Adeyemi", "On-call engineer")
PM = Person("U0PM", "priya", "Priya Shah", "Product manager")
LEAD = Person("U0LEAD", "lena", "Lena Park", "Incident lead")
CLIENT_CONTACT = Person("U0DANA", "dana", "Dana Hartley (Hartley & Moss)", "Client contact", team_id="T0HARTLEY")
PEOPLE = (AGENT, ONCALL, PM, LEAD, CLIENT_CONTACT)
STAFF = (AGENT, ONCALL, PM, LEAD)

SUPPORT = DemoChannel(
    "C0SUPPORT",
    "support",
    "Client problems land here. Type /triage to open an incident.",
    tuple(p.id for p in STAFF),
)
ESCALATIONS = DemoChannel(
    "C0ENGESC",
    "eng-escalations",
    "Internal escalation notices and unacknowledged incidents.",
    (AGENT.id, ONCALL.id, LEAD.id),
)
CLIENT_ROOM = DemoChannel(
    "C0HARTLEY",
    "hartley-shared",
    "Slack Connect with Hartley & Moss LLP: the client reads this channel.",
    (AGENT.id, ONCALL.id, CLIENT_CONTACT.id),
    shared_with="external",
)
CHANNELS = (SUPPORT, ESCALATIONS, CLIENT_ROOM)
CLIENT_MESSAGE = "Our exhibit bundle (250 MB PDF) stops at 99% in Chrome and the court filing is due at 16:00. Help!"

CLIENTS = (("Hartley & Moss LLP", True), ("Northwind Logistics", True), ("Bluebird Dental", False))
ROTATION = "platform"
PRODUCT_AREAS = ("document-upload", "billing", "search")


def seed_workspace(emulator: SlackEmulator) -> None:
    """The people and channels (the bot is a member of each), and the client's message in its shared channel,
    where "Open incident" on the message opens the form prefilled."""
    for person in PEOPLE:
        emulator.add_user(
            person.id, person.handle, real_name=person.real_name, email=email_of(person), team_id=person.team_id
        )
    for channel in CHANNELS:
        members = (*channel.members, emulator.bot_user_id)
        emulator.add_channel(
            channel.name, id=channel.id, members=members, topic=channel.topic, shared_with=channel.shared_with
        )
    emulator.post_user_message(CLIENT_ROOM.id, CLIENT_CONTACT.id, CLIENT_MESSAGE)


PAGERDUTY_POLICY = "PDEMOPLATFORM"  # the demo's on-call lives in (fake) PagerDuty: Olu, then Lena
PAGERDUTY_TOKEN = "sandbox-pagerduty-token"


def email_of(person: Person) -> str:
    return f"{person.handle}@sandbox.example"


def fake_pagerduty() -> FakeOnCallServices:
    """The demo's PagerDuty: one escalation policy with Olu at level 1 and Lena at level 2 (matched by e-mail)."""
    services = FakeOnCallServices(pagerduty_token=PAGERDUTY_TOKEN)
    people = [OnCallPerson(email_of(ONCALL), ONCALL.real_name, 1), OnCallPerson(email_of(LEAD), LEAD.real_name, 2)]
    services.set_policy(PAGERDUTY_POLICY, people)
    return services


def bot_settings(
    *, api_url: str, signing_secret: str, bot_token: str, database_url: str, pagerduty_url: str | None = None
) -> dict[str, object]:
    """Settings overrides that point the bot at the emulator, the demo people and channels, and the demo's
    PagerDuty (when it runs)."""
    oncall: dict[str, object] = {}
    if pagerduty_url is not None:
        oncall = {
            "oncall_source": f"pagerduty:{PAGERDUTY_POLICY}",
            "pagerduty_api_url": pagerduty_url,
            "pagerduty_api_token": PAGERDUTY_TOKEN,
        }
    return {
        **oncall,
        "slack_bot_token": bot_token,
        "slack_signing_secret": signing_secret,
        "slack_app_token": None,
        "slack_api_url": api_url,
        "database_url": database_url,
        "oncall_slack_id": ONCALL.id,
        "internal_channel_id": ESCALATIONS.id,
        "escalation_channel_id": ESCALATIONS.id,
        "product_areas": ",".join(f"{area}={PM.id}" for area in PRODUCT_AREAS),
        "major_incident_declarers": f"{LEAD.id},{ONCALL.id}",
        "jira_url": None,
        "jira_user": None,
        "jira_api_token": None,
    }


def seed_database(session: Session, *, now: datetime) -> None:
    """The clients, and the rotation (created once, so a restart never moves who is on call)."""
    for name, premium in CLIENTS:
        find_or_create_client(session=session, name=name, premium=premium, now=now)
    if client_of_channel(session, SINGLE_WORKSPACE, CLIENT_ROOM.id) is None:
        map_client(
            session,
            team_id=SINGLE_WORKSPACE,
            name=CLIENTS[0][0],
            tier=ClientTier.PREMIUM,
            channel_id=CLIENT_ROOM.id,
            by=LEAD.id,
            now=now,
        )
    if session.scalar(select(OncallTeam).where(func.lower(OncallTeam.name) == ROTATION)) is None:
        rotation = TeamSpec(
            name=ROTATION,
            members=(ONCALL.id, LEAD.id),
            timezone="UTC",
            starts_on=(now - timedelta(days=1)).date(),
            handoff_time=time(9, 0),
            rotation_days=7,
            escalation_channel_id=ESCALATIONS.id,
        )
        replace_teams(session=session, teams=[rotation], now=now)


def latest_recorded_time(session: Session) -> datetime | None:
    """When the last audit-trail entry happened (a previous run's clock may have been fast-forwarded)."""
    return session.scalar(select(func.max(Event.at)))


def incident_count(session: Session) -> int:
    """How many incidents the database holds (from this run or earlier ones)."""
    return int(session.scalar(select(func.count()).select_from(Incident)) or 0)
