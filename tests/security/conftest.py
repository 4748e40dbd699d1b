"""Attacks on the running bot: the end-to-end stack (real Bolt app over HTTP, the emulator) is shared with tests/e2e."""

from tests.e2e.conftest import stack

__all__ = ["stack"]
