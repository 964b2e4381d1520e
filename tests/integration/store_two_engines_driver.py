"""One of the two drove-tui engines of test_store_two_engines, as its own OS process.

`python store_two_engines_driver.py INVENTORY SSH_CONFIG STATE IMAGE NAME GO_FILE` submits
every task id (in its own order; the other process has taken some already, which is refused
with TaskExists), waits for the ones it created, and prints them as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from drove_tui.engine.engine import Engine
from drove_tui.engine.store import TaskExists
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.spec import TaskSpec

APP = "twoproc"
TASKS = 100


async def main(inventory: str, ssh_config: str, state: str, image: str, name: str, go: str) -> None:
    inv = load_inventory(inventory, ssh_config=Path(ssh_config))
    # Over-provision cores (as an inventory may) so that 100 one-core tasks do not queue
    # behind the sandbox's 2 real cores for long; the test is about the store, not capacity.
    hosts = [h.model_copy(update={"cpu_multiplier": 4}) for h in inv.hosts]
    settings = inv.settings.model_copy(update={"probe_interval_s": 1})
    inv = inv.model_copy(update={"settings": settings, "hosts": hosts})
    ids = [f"t{i:03d}" for i in range(TASKS)]
    order = ids if name == "a" else list(reversed(ids))
    async with Engine.open(inv, state) as engine:
        await asyncio.to_thread(_start_together, name, go)
        created: list[str] = []
        for task in order:
            spec = TaskSpec.model_validate(
                {
                    "sourceAppName": APP,
                    "taskId": task,
                    "executable": {"type": "DOCKER", "url": image},
                    "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 16}],
                    "args": ["true"],
                }
            )
            try:
                await engine.submit(spec)
                created.append(task)
            except TaskExists:
                pass
        async with asyncio.timeout(400):
            finals = [await engine.wait(APP, task) for task in created]
    print(json.dumps({"created": created, "states": [str(r.state) for r in finals]}))


def _start_together(name: str, go: str) -> None:
    # The test creates GO once both engines are ready; the outcome is checked the same way
    # whatever the overlap turns out to be.
    Path(f"{go}.{name}.ready").touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:7]))
