"""A wake-up that never loses a fire: take a token, re-read the state, then wait on the token."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """Fired when something may have changed; waiters re-read the truth after waking."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def token(self) -> asyncio.Event:
        """Take before reading the state; a fire after this wakes `wait(token)`."""
        return self._event

    def fire(self) -> None:
        """Wake every waiter of the current generation."""
        self._event.set()
        self._event = asyncio.Event()

    @staticmethod
    async def wait(token: asyncio.Event, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Until the token's generation is fired, or `timeout` seconds pass."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await token.wait()
