"""ACK_WINDOWS and CLIENT_UPDATE_CADENCE: minutes per severity, each at most a week."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import SettingsError, load_settings
from bot.domain.acknowledgement import MAX_MINUTES, parse_minutes_by_severity
from bot.models import Severity

WEEK = 7 * 24 * 60


def test_a_window_of_exactly_one_week_is_accepted() -> None:
    windows = parse_minutes_by_severity(f"SEV1=5,SEV2=15,SEV3=60,SEV4={WEEK}")
    assert windows[Severity.SEV4] == timedelta(weeks=1)
    assert MAX_MINUTES == WEEK


@pytest.mark.parametrize("minutes", [f"{WEEK}.5", f"{WEEK + 1}"])
def test_a_window_longer_than_a_week_is_refused_saying_so(minutes: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_minutes_by_severity(f"SEV1=5,SEV2=15,SEV3=60,SEV4={minutes}")
    assert str(refused.value) == f"'SEV4={minutes}' must be at most {WEEK} minutes (a week)"


def test_the_settings_take_a_week_and_refuse_more() -> None:
    required = {"slack_bot_token": "xoxb-test", "slack_signing_secret": "secret"}
    settings = load_settings(**required, ack_windows=f"SEV1=5,SEV2=15,SEV3=60,SEV4={WEEK}")
    assert settings.ack_window_by_severity[Severity.SEV4] == timedelta(weeks=1)
    with pytest.raises(SettingsError) as refused:
        load_settings(**required, client_update_cadence=f"SEV1=30,SEV2=60,SEV3=240,SEV4={WEEK + 1}")
    assert str(refused.value) == (
        f"Invalid setting CLIENT_UPDATE_CADENCE: 'SEV4={WEEK + 1}' must be at most {WEEK} minutes (a week)"
    )
