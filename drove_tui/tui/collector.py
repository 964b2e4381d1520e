"""When the garbage collector may pause the app: while the user is quiet, not mid-key.

A full (generation 2) collection walks every object that is not frozen. In the bench, with
10,000 tasks and 500 changes a second, Python started one about every second on its own and
each took 30 to 150 ms; landing between a key and its repaint, they were most of the worst
key-to-repaint times. The app freezes its start-up objects, turns automatic full collections
off, and runs them itself: once the user has been quiet for a moment (at most every
`idle_every_s`); after `gap_after_s`, in the first gap between two keys; and, so that memory
stays bounded even when keys never stop, after `max_wait_s` whatever happens (in the bench's
endless typing, a pause of 0.1 to 0.4 s). Young collections stay automatic: they are short.

Why there is so much to collect: Textual caches the result of dividing a line that needs no
cut as a list holding the line itself (`Strip.divide`), so every painted line becomes a
reference cycle that only a collection frees; a log flood paints 450 lines a second.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

# A generation-2 threshold no program reaches: automatic full collections never start.
_NEVER = 1 << 30


class IdleCollector:
    """Runs full garbage collections when the user is quiet (see the module docstring)."""

    def __init__(
        self,
        *,
        quiet_s: float = 0.5,
        idle_every_s: float = 2.0,
        gap_s: float = 0.15,
        gap_after_s: float = 3.0,
        max_wait_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self.quiet_s = quiet_s
        self.idle_every_s = idle_every_s
        self.gap_s = gap_s
        self.gap_after_s = gap_after_s
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.collect = collect
        self.last_input = clock()
        self.last_full = clock()
        self.collections = 0
        self._saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Freeze what exists now (it lives as long as the app) and take over full collections.

        Process-wide, so only the real app (and the bench) call it, never tests that share a
        process.
        """
        gc.freeze()
        young, middle, old = gc.get_threshold()
        self._saved = (young, middle, old)
        gc.set_threshold(young, middle, _NEVER)

    def stop(self) -> None:
        """Give full collections back to Python."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input_seen(self) -> None:
        """The user pressed a key or used the mouse: a collection now would delay its repaint."""
        self.last_input = self.clock()

    def due(self) -> bool:
        """True when a full collection should run now."""
        now = self.clock()
        since = now - self.last_full
        silent = now - self.last_input
        if since >= self.max_wait_s:
            return True
        if silent >= self.quiet_s and since >= self.idle_every_s:
            return True
        # A person typing leaves gaps between keys; after a few seconds of garbage, take one.
        return silent >= self.gap_s and since >= self.gap_after_s

    def tick(self) -> bool:
        """Collect if due; True when it did."""
        if not self.due():
            return False
        self.collect()
        self.last_full = self.clock()
        self.collections += 1
        return True
