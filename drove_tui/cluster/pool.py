"""Cluster: one transport per inventory host, sharing a handshake cap and bastion connections.

Hosts behind the same ProxyJump share one connection to the bastion. A ProxyJump names an
inventory host (whose settings are used) or is `[user@]host[:port]`, which inherits the
target's user, identity file and known_hosts; `a,b` jumps through a, then b.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

import asyncssh

from drove_tui.cluster.local import LocalTransport
from drove_tui.cluster.ssh import ConnectionSource, SshTransport
from drove_tui.cluster.transport import Transport
from drove_tui.errors import InvalidInput
from drove_tui.models.inventory import HostConfig, Inventory

DEFAULT_HANDSHAKES = 32


class Cluster:
    """Hands out the transport of each host; `close()` closes every connection."""

    def __init__(
        self,
        inventory: Inventory | list[HostConfig],
        *,
        handshakes: int | None = None,
        user_known_hosts: Path | None = None,
        max_backoff_s: float = 2.0,
    ) -> None:
        if isinstance(inventory, Inventory):
            hosts = inventory.hosts
            handshakes = handshakes or inventory.settings.concurrency
        else:
            hosts = inventory
        self.hosts: dict[str, HostConfig] = {h.name: h for h in hosts}
        self._handshakes = asyncio.Semaphore(handshakes or DEFAULT_HANDSHAKES)
        self._user_known_hosts = user_known_hosts
        self._max_backoff_s = max_backoff_s
        self._transports: dict[str, Transport] = {}
        self._bastions: dict[tuple[str | None, str, int, str | None], SshTransport] = {}

    def transport(self, host: HostConfig | str) -> Transport:
        """The (shared) transport of `host`, created on first use."""
        config = self._config(host)
        found = self._transports.get(config.name)
        if found is None:
            if config.connection == "local":
                found = LocalTransport(config.name)
            else:
                found = self._ssh(config)
            self._transports[config.name] = found
        return found

    def _config(self, host: HostConfig | str) -> HostConfig:
        if isinstance(host, HostConfig):
            self.hosts.setdefault(host.name, host)
            return host
        config = self.hosts.get(host)
        if config is None:
            raise InvalidInput(f"no host called {host!r} in the inventory")
        return config

    def _ssh(self, config: HostConfig) -> SshTransport:
        return SshTransport(
            config,
            handshakes=self._handshakes,
            bastion=self.tunnel_for(config),
            user_known_hosts=self._user_known_hosts,
            max_backoff_s=self._max_backoff_s,
        )

    def tunnel_for(self, config: HostConfig) -> ConnectionSource | None:
        """How to reach `config`'s ProxyJump (a shared bastion connection), or None."""
        if not config.proxy_jump:
            return None
        *earlier, last = [hop.strip() for hop in config.proxy_jump.split(",") if hop.strip()]
        jump = self.hosts.get(last) or _jump_host(last, config)
        if earlier:
            jump = jump.model_copy(update={"proxy_jump": ",".join(earlier)})
        key = (jump.user, jump.address, jump.port, jump.proxy_jump)
        bastion = self._bastions.get(key)
        if bastion is None:
            bastion = self._ssh(jump)
            self._bastions[key] = bastion
        shared = bastion

        async def connect() -> asyncssh.SSHClientConnection:
            return await shared.connection()

        return connect

    async def close(self) -> None:
        """Close every connection (hosts first, then the bastions they went through)."""
        transports = list(self._transports.values())
        self._transports.clear()
        await asyncio.gather(*(t.close() for t in transports), return_exceptions=True)
        bastions = list(self._bastions.values())
        self._bastions.clear()
        await asyncio.gather(*(b.close() for b in bastions), return_exceptions=True)

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _jump_host(spec: str, target: HostConfig) -> HostConfig:
    """`[user@]host[:port]` as a HostConfig that inherits the target's credentials."""
    user, _, hostport = spec.rpartition("@")
    address, port = hostport, 22
    if hostport.startswith("["):  # [v6addr]:port
        address, _, rest = hostport[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 22
    elif hostport.count(":") == 1:
        address, _, port_text = hostport.partition(":")
        if not port_text.isdigit():
            raise InvalidInput(
                f"host {target.name}: proxy_jump {spec!r} has a bad port; use [user@]host[:port]"
            )
        port = int(port_text)
    name = "jump-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in address)
    return target.model_copy(
        update={
            "name": name,
            "address": address,
            "port": port,
            "user": user or target.user,
            "proxy_jump": None,
        }
    )
