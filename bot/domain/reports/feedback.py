"""Product feedback by track and area, and the key learnings recorded."""

from __future__ import annotations

from sqlalchemy import (
    SQLColumnExpression,
    and_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from bot.domain.glossary import FEEDBACK_TRACKS
from bot.domain.reports.constants import TRACKS
from bot.domain.reports.counts import by_text, by_value, of_incidents_in
from bot.domain.reports.model import FeedbackItem, LearningItem, Period, Tally
from bot.domain.reports.queries import tallies, within_period
from bot.models import Escalation, Feedback, FeedbackTrack, Learning, SlackName


def feedback_counts(
    session: Session, period: Period, previous: Period, scope: ColumnElement[bool]
) -> dict[str, tuple[Tally, ...]]:
    flag = within_period(Feedback.created_at, period)
    within = and_(
        Feedback.created_at >= previous.start,
        Feedback.created_at < period.end,
        of_incidents_in(scope, Feedback.incident_id),
    )
    tracks = [
        (track, _track_label(FeedbackTrack(track)), in_period, count)
        for track, _, in_period, count in session.execute(by_value(Feedback.track, flag, within))
    ]
    return {
        "track": tallies(tracks, order=[_track_label(t) for t in TRACKS]),
        "area": tallies(session.execute(by_text(session, Feedback.area, flag, within))),
    }


def _track_label(track: FeedbackTrack) -> str:
    return FEEDBACK_TRACKS[track]


def feedback_items(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[FeedbackItem, ...]:
    """This period's feedback by track, oldest first, with the ticket it was filed as (when it was)."""
    query = (
        select(
            Feedback.incident_id,
            Feedback.track,
            Feedback.area,
            Feedback.use_case,
            Feedback.pm_user_id,
            Escalation.external_ref,
            Escalation.external_url,
            Escalation.state,
            Feedback.created_at,
            _name_of(Feedback.pm_user_id),
        )
        .outerjoin(Escalation, Escalation.id == Feedback.escalation_id)
        .where(Feedback.created_at >= period.start, Feedback.created_at < period.end)
        .where(of_incidents_in(scope, Feedback.incident_id))
        .order_by(Feedback.created_at, Feedback.id)
    )
    items = [
        FeedbackItem(
            incident_key=f"INC-{incident_id}",
            track=FeedbackTrack(track),
            area=area,
            use_case=use_case,
            pm_user_id=pm_user_id,
            ticket_key=ref,
            ticket_url=url,
            ticket_state=state.value if state is not None else None,
            created_at=created_at,
            pm_name=pm_name,
        )
        for incident_id, track, area, use_case, pm_user_id, ref, url, state, created_at, pm_name in session.execute(
            query
        )
    ]
    return tuple(sorted(items, key=lambda item: TRACKS.index(item.track)))


def _name_of(slack_id: SQLColumnExpression[str | None]) -> ScalarSelect[str | None]:
    """What the directory of names (bot.domain.names) calls `slack_id`, in the same query."""
    known = select(SlackName.name).where(SlackName.slack_id == slack_id, SlackName.name.is_not(None))
    return known.order_by(SlackName.updated_at.desc()).limit(1).scalar_subquery()


def learnings(session: Session, period: Period, scope: ColumnElement[bool]) -> tuple[LearningItem, ...]:
    query = (
        select(Learning.incident_id, Learning.text, Learning.created_at)
        .where(Learning.created_at >= period.start, Learning.created_at < period.end)
        .where(of_incidents_in(scope, Learning.incident_id))
        .order_by(Learning.created_at, Learning.id)
    )
    return tuple(LearningItem(f"INC-{incident_id}", text, at) for incident_id, text, at in session.execute(query))
