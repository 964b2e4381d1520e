"""Removing a container whose exit the engine saw on its attached channel.

Its reservation is gone already (the create script drops it with the `exit` marker), so the
removal is docker's alone: one call of docker's API over the host's connection where the host
allows it (cluster/docker_api.py), which starts no process there, else the remove script. Any
doubt (the socket refused, an error, or an answer other than "removed") is settled by the
script at once, which also says "no such container" the way the rest of the engine
understands it. (A host that refused the socket is not asked again for a while: see
SshTransport.unix_request.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from drove_tui.cluster import docker_api
from drove_tui.cluster.transport import TransportError
from drove_tui.engine import executor

if TYPE_CHECKING:
    from drove_tui.engine.engine import Engine
    from drove_tui.models.inventory import HostConfig

log = logging.getLogger(__name__)


class Removals:
    """The engine's way to remove the containers of tasks whose exit it saw."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def socket(self, host: HostConfig) -> str | None:
        """The docker socket to call on `host`, or None to use the docker command."""
        facts = self._engine.watch.status(host.name).facts
        return docker_api.socket_path(host.docker, facts.docker_endpoint if facts else None)

    async def remove(self, host: HostConfig, name: str, *, timeout: float) -> tuple[bool, str]:  # noqa: ASYNC109
        """Remove the exited container `name` with its volumes: (True, "") when it is gone
        (or was already), else (False, docker's words). TransportError when the host cannot
        be reached."""
        transport = self._engine.cluster.transport(host)
        path = self.socket(host)
        if path is not None:
            try:
                answer = await docker_api.remove_container(transport, path, name, timeout=timeout)
            except (TransportError, ValueError) as err:
                log.info("docker's API on %s: %s; asking docker rm", host.name, err)
            else:
                if answer.status == docker_api.NO_CONTENT:
                    return True, ""
                log.info(
                    "docker's API on %s answered %d for %s (%s); asking docker rm",
                    host.name,
                    answer.status,
                    name,
                    answer.message,
                )
        done = await transport.run(executor.remove(host, name), timeout=timeout)
        said = done.stderr.decode("utf-8", "replace").strip()
        return done.ok or "no such container" in said.lower(), said
