"""Attacks on the running bot: the end-to-end stack (real Bolt app over HTTP, the emulator) is shared with tests/e2e,
and so is the multi-workspace distribution (three workspaces behind an emulated Slack, the bot installed by OAuth)."""

from tests.e2e.conftest import stack
from tests.e2e.test_workspaces import distribution

__all__ = ["distribution", "stack"]
