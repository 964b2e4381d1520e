"""The Backend over the real engine (`engine.Engine`), plus the two things it lacks.

The engine has no host-key trust and no history call; trust goes through
`cluster.hostkeys` (as `drove-tui hosts trust` does) and history through the engine's store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from drove_tui.cluster import hostkeys
from drove_tui.engine.engine import Engine
from drove_tui.engine.events import Event, LogLine
from drove_tui.errors import HostError, InvalidInput
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.loaders.patterns import select_hosts
from drove_tui.models.host import HostStatus, ManagedContainer
from drove_tui.models.inventory import HostConfig
from drove_tui.models.operation import ClusterOpSpec
from drove_tui.models.spec import TaskSpec
from drove_tui.models.task import TaskRecord, Transition
from drove_tui.tui.backend import Backend


class EngineBackend:
    """Implements tui.backend.Backend over an open Engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.inventory = engine.inventory

    @property
    def inventory_label(self) -> str:
        return self.inventory.source or "localhost (built-in)"

    @property
    def store_label(self) -> str:
        return str(self.engine.store.path)

    def recovering(self) -> bool:
        # The engine does not say; the app derives the banner from UNKNOWN tasks itself.
        return False

    def tasks(self) -> list[TaskRecord]:
        return self.engine.list()

    def hosts(self) -> list[HostStatus]:
        return self.engine.hosts()

    def host_tags(self) -> Mapping[str, Mapping[str, str]]:
        return {h.name: h.tags for h in self.inventory.hosts}

    def select_hosts(self, pattern: str) -> list[str]:
        return [h.name for h in select_hosts(self.inventory, pattern)]

    def foreign(self, host: str) -> list[ManagedContainer]:
        return self.engine.foreign(host)

    def history(self, app: str, task_id: str) -> list[Transition]:
        return self.engine.store.history(app, task_id)

    async def subscribe(self) -> AsyncIterator[Event]:
        subscription = self.engine.subscribe()
        try:
            async for event in subscription:
                yield event
        finally:
            subscription.close()

    async def logs(
        self, app: str, task_id: str, *, follow: bool, tail: int | None
    ) -> AsyncIterator[LogLine]:
        async for line in self.engine.logs(app, task_id, follow=follow, tail=tail):
            yield line

    async def submit(
        self, spec: TaskSpec, *, op_spec: ClusterOpSpec | None, pin_host: str | None = None
    ) -> TaskRecord:
        return await self.engine.submit(spec, op_spec, pin_host)

    async def kill(self, app: str, task_id: str) -> TaskRecord:
        return await self.engine.kill(app, task_id)

    async def probe(self, pattern: str) -> None:
        if pattern and not self.select_hosts(pattern):
            raise InvalidInput(f"'{pattern}' matches no host of the inventory.")
        await self.engine.probe(pattern or None)

    def _host(self, name: str) -> HostConfig:
        host = self.inventory.host(name)
        if host is None:
            raise InvalidInput(f"{name}: no such host in the inventory.")
        if host.connection == "local":
            raise InvalidInput(f"{name} is reached without SSH; it has no host key to trust.")
        return host

    async def host_key(self, host: str) -> str:
        config = self._host(host)
        key = await hostkeys.fetch_host_key(config, self.engine.cluster.tunnel_for(config))
        return hostkeys.fingerprint(key)

    async def trust(self, host: str, fingerprint: str) -> None:
        config = self._host(host)
        key = await hostkeys.fetch_host_key(config, self.engine.cluster.tunnel_for(config))
        fp = hostkeys.fingerprint(key)
        if fp != fingerprint:
            raise HostError(
                f"{host}: its key changed to {fp} while you were confirming {fingerprint}; "
                "nothing recorded, check the host and try again."
            )
        files = hostkeys.known_hosts_files(config)
        recorded = hostkeys.recorded_keys(
            hostkeys.load_known_hosts(files), config.address, config.port
        )
        if fp in {hostkeys.fingerprint(k) for k in recorded}:
            return
        if recorded:
            raise hostkeys.changed_error(config, fp, files)
        hostkeys.record_key(hostkeys.trust_file(config), config.address, config.port, key)
        await self.engine.probe(host)


@asynccontextmanager
async def open_backend(inventory: str | None, state: str | None) -> AsyncIterator[Backend]:
    """Load the inventory, open the engine on the state file, for the app's lifetime."""
    loaded = load_inventory(inventory)
    async with Engine.open(loaded, state) as engine:
        yield EngineBackend(engine)
