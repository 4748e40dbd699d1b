"""Finding 9: an oversized on-call override duration is a clear one-line refusal, not a 500 (OverflowError)."""

from __future__ import annotations

import json

import pytest

from bot.models import OncallOverride
from tests.e2e.conftest import AGENT, ONCALL, SUPPORT, Stack
from tests.e2e.test_open_incident_flow import count


@pytest.mark.parametrize("duration", ["999999999999999999999h", "9" * 400 + "d", "400d", "1000000w"])
def test_an_oversized_override_duration_is_refused_in_one_line(stack: Stack, duration: str) -> None:
    before = len(stack.emulator.ephemerals(SUPPORT, AGENT))

    answer = stack.platform.slash_command(AGENT, SUPPORT, text=f"oncall override <@{ONCALL}> {duration}")

    assert answer.status == 200
    shown = stack.emulator.ephemerals(SUPPORT, AGENT)
    assert len(shown) == before + 1
    text = json.dumps(shown[-1], ensure_ascii=False)
    assert "is longer than a year; give at most 365d" in text and "\\n" not in shown[-1]["text"]
    assert count(stack, OncallOverride) == 0
