"""The shape Slack's signature headers must have before a request reaches Bolt (see `bot.web`)."""

from __future__ import annotations

import pytest

from bot.web import well_formed_signature_headers

GOOD_SIGNATURE = "v0=" + "0123456789abcdef" * 4


def test_slacks_shape_passes() -> None:
    assert well_formed_signature_headers(GOOD_SIGNATURE, "1700000000")


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        (None, "1700000000"),
        (GOOD_SIGNATURE, None),
        ("", "1700000000"),
        (GOOD_SIGNATURE, ""),
        ("v0=" + "é" * 64, "1700000000"),  # non-ASCII: Bolt's verifier raises on it
        ("v0=" + "Ã©" * 32, "1700000000"),  # UTF-8 bytes as WSGI hands them over (latin-1)
        ("v0=" + "0" * 63, "1700000000"),
        ("v0=" + "0" * 65, "1700000000"),
        ("v1=" + "0" * 64, "1700000000"),
        ("V0=" + "0" * 64, "1700000000"),
        ("v0=" + "A" * 64, "1700000000"),  # Slack's hex is lower-case
        ("v0=" + "0" * 64 + "\n", "1700000000"),
        (" v0=" + "0" * 64, "1700000000"),
        (GOOD_SIGNATURE, "\uff11\uff17\uff10\uff10"),  # full-width digits: int() reads them, Slack never sends them
        (GOOD_SIGNATURE, "²"),
        (GOOD_SIGNATURE, "-1700000000"),
        (GOOD_SIGNATURE, "1700000000.5"),
        (GOOD_SIGNATURE, "1" * 13),
    ],
)
def test_anything_else_is_refused(signature: str | None, timestamp: str | None) -> None:
    assert not well_formed_signature_headers(signature, timestamp)
