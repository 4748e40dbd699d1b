"""The one-field modal bare Bolt opens in `benchmarks/ack_latency.py` (and `benchmarks/form_cost.py` compares with)."""

from __future__ import annotations

from typing import Any

ONE_FIELD: dict[str, Any] = {
    "type": "modal",
    "callback_id": "bare",
    "title": {"type": "plain_text", "text": "Bare"},
    "submit": {"type": "plain_text", "text": "Go"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title"},
        }
    ],
}
