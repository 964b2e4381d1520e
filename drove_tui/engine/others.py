"""What other processes do to the store reaches this engine's subscribers.

A `--run` in another terminal, a warm server, a CI job or `tasks kill` on the same state file
change tasks this engine does not drive, and so never publishes. Every OTHERS_EVERY_S the
store is asked for the tasks updated since the last look; each one this engine does not drive
is published as a TaskChanged, so the terminal app shows it (its timeline comes from the
store's history, as for any task).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from drove_tui.engine.events import TaskChanged
from drove_tui.errors import DroveError
from drove_tui.models.states import TaskState
from drove_tui.models.task import Transition

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine

log = logging.getLogger(__name__)
OTHERS_EVERY_S = 1.0
# Looks back this much further than the last look: a writer's clock and its commit may lag.
OVERLAP_S = 2.0


class Others:
    """The last state this engine published for each task someone else changed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._shown: dict[tuple[str, str], tuple[TaskState, float]] = {}
        self._since = time.time()

    async def run(self) -> None:
        """Look every OTHERS_EVERY_S, for as long as the engine is open."""
        while True:
            await asyncio.sleep(OTHERS_EVERY_S)
            try:
                await self.look()
            except DroveError as err:  # a busy store: the next look catches up
                log.info("could not look for other processes' changes: %s", err)

    async def look(self) -> int:
        """Publish what others changed since the last look; how many tasks that was."""
        engine = self._engine
        started = time.time()
        changed = await asyncio.to_thread(
            engine.store.list_tasks, updated_after=self._since - OVERLAP_S
        )
        self._since = started
        told = 0
        for record in changed:
            if record.key in engine.runners:
                continue  # driven here: published as it happens
            mark = (record.state, record.updated_at)
            if self._shown.get(record.key) == mark:
                continue
            self._shown[record.key] = mark
            moved = Transition(
                at=record.updated_at, from_state=None, to_state=record.state, reason=record.reason
            )
            engine.subscribers.publish(TaskChanged(record, moved))
            told += 1
        return told
