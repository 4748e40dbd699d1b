"""Limits and defaults of the period report."""

from __future__ import annotations

from bot.models import FeedbackTrack, Severity

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 365, 30
THEME_MIN_INCIDENTS = 2
THEME_KEYS = 50  # keys listed per theme, oldest first; `count` has them all
MAX_THEMES = 100  # the rest are counted in `more_themes`
NOT_GIVEN = "not given"
P90 = 0.9
SEVERITIES = tuple(Severity)
TRACKS = tuple(FeedbackTrack)
