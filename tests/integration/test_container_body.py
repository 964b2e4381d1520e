"""container.container_body on a real dockerd: the container docker's API makes from the body is
the one `docker create` makes from create_args and the env file (on stdin, as the product
feeds it). Both are made on one sandbox host under the same name, one after the other, and
compared field by field through `docker inspect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from drove_tui.cluster import docker_api
from drove_tui.cluster.pool import Cluster
from drove_tui.engine import container, executor
from drove_tui.loaders.inventory_file import load_inventory
from drove_tui.models.inventory import HostConfig
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord
from tests.conftest import Sandbox
from tests.integration.test_engine_lifecycle import spec

HOST = "host2"

# Compared as they are: what the task's container is (image, command, environment, labels,
# user, pinning, limits, logging, mounts, devices, restart, network) and the fields the CLI
# sets by itself.
CONFIG_FIELDS = (
    "Image",
    "Cmd",
    "Entrypoint",
    "Env",
    "Labels",
    "User",
    "Healthcheck",
    "WorkingDir",
    "Volumes",
    "ExposedPorts",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "StopSignal",
)
HOST_CONFIG_FIELDS = (
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "MemorySwappiness",
    "OomKillDisable",
    "PidsLimit",
    "NanoCpus",
    "CpuShares",
    "Ulimits",
    "LogConfig",
    "Binds",
    "Mounts",
    "Devices",
    "RestartPolicy",
    "NetworkMode",
    "AutoRemove",
    "Privileged",
    "ReadonlyRootfs",
    "CapAdd",
    "CapDrop",
    "SecurityOpt",
    "IpcMode",
    "PidMode",
    "UTSMode",
    "UsernsMode",
    "CgroupnsMode",
    "ShmSize",
    "Runtime",
    "Init",
)
# Set apart, with the reason:
# - Id, Created, GraphDriver and Config.Hostname (the short Id): each container's own;
# - HostConfig.Binds: compared as a set, as the CLI gathers `--volume` in a map (so in Go's
#   map order, which the daemon does not depend on);
# - the CLI sends empty lists where the body says nothing (Dns, DnsOptions, DnsSearch,
#   Blkio*: [], PortBindings: {}); docker holds them as [] and null, both none.
# Everything else in Config and HostConfig is compared too (the last assertions), so a field
# the CLI sets and the body does not shows up.
OWN = {"Hostname"}


def none_when_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: None if v in ([], {}) else v for k, v in fields.items()}


def record(task: Any) -> TaskRecord:
    return TaskRecord(
        app="it",
        task_id=task.task_id,
        instance_id=f"it-{task.task_id}-body",
        state=TaskState.STARTING,
        spec=task,
        host=HOST,
        numa_node=0,
        cores=[1],
        memory_mb=64,
        created_at=1.0,
        updated_at=1.0,
    )


async def api_create(
    sandbox: Sandbox, host: HostConfig, name: str, body: dict[str, Any], tmp_path: Path
) -> None:
    """POST /containers/create to the host's docker socket through its SSH transport."""
    data = json.dumps(body).encode()
    head = (
        f"POST /containers/create?name={quote(name)} HTTP/1.1\r\nHost: docker\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    said = sandbox.run_ssh(HOST, "sh", "-c", 'printf %s "$DOCKER_HOST"').stdout
    path = docker_api.socket_path("docker", said)
    assert path is not None, said
    hosts = load_inventory(sandbox.inventory_path).hosts
    async with Cluster(hosts, user_known_hosts=tmp_path / "none") as cluster:
        transport = cluster.transport(host.name)
        raw = await transport.unix_request(path, head.encode() + data, timeout=60)
    answer = docker_api.parse_answer(raw)
    assert answer.status == 201, answer.message


def inspect(sandbox: Sandbox, name: str) -> dict[str, Any]:
    done = sandbox.run_ssh(HOST, "docker", "inspect", name)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found


def remove(sandbox: Sandbox, name: str) -> None:
    sandbox.run_ssh(HOST, "docker", "rm", "-f", "-v", name)


@pytest.mark.parametrize(
    "logging",
    [
        {"type": "LOCAL", "maxSize": "5m", "maxFiles": 2, "compress": False},
        {"type": "RSYSLOG", "server": "127.0.0.1:5514", "tagPrefix": "p-", "tagSuffix": "-s"},
    ],
)
async def test_the_api_body_makes_the_container_docker_create_makes(
    sandbox: Sandbox, tmp_path: Path, logging: dict[str, Any]
) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "rw").mkdir()
    task = spec(
        sandbox,
        f"body-{logging['type'].lower()}",
        ["sh", "-c", "echo $A"],
        volumes=[
            {"pathInContainer": "/in", "pathOnHost": str(tmp_path / "ro"), "mode": "READ_ONLY"},
            {"pathInContainer": "/out", "pathOnHost": str(tmp_path / "rw"), "mode": "READ_WRITE"},
        ],
        devices=[
            {"type": "DIRECT", "pathOnHost": "/dev/null"},
            {
                "type": "DIRECT",
                "pathOnHost": "/dev/null",
                "pathInContainer": "/dev/null2",
                "permissions": "READ_WRITE",
            },
        ],
        userSpec={"user": "1000", "group": "100"},
        env={"A": "1", "B": "x=y  z", "C": " lead", "D": "#not a comment"},
        logging=logging,
    )
    inventory_host = load_inventory(sandbox.inventory_path).host(HOST)
    assert inventory_host is not None
    host = inventory_host.model_copy(update={"nofile": 4096})
    rec = record(task)
    name = executor.container_name(rec.instance_id)
    body = container.container_body(task, rec, host, "store-it")
    assert body is not None
    assert sandbox.run_ssh(HOST, "docker", "pull", "-q", sandbox.image).returncode == 0
    remove(sandbox, name)
    try:
        args = container.create_args(task, rec, host, "store-it")
        env = container.env_file(task, rec, host).decode()
        made = sandbox.run_ssh(HOST, "docker", "create", *args, input=env)
        assert made.returncode == 0, made.stderr
        by_cli = inspect(sandbox, name)
        remove(sandbox, name)
        await api_create(sandbox, host, name, body, tmp_path)
        by_api = inspect(sandbox, name)
    finally:
        remove(sandbox, name)

    cli_config, api_config = by_cli["Config"], by_api["Config"]
    cli_host, api_host = by_cli["HostConfig"], by_api["HostConfig"]
    for key in CONFIG_FIELDS:
        assert api_config.get(key) == cli_config.get(key), f"Config.{key}"
    for key in HOST_CONFIG_FIELDS:
        if key == "Binds":
            assert sorted(api_host[key]) == sorted(cli_host[key]), "HostConfig.Binds"
        else:
            assert api_host.get(key) == cli_host.get(key), f"HostConfig.{key}"
    assert by_api["Name"] == by_cli["Name"] == f"/{name}"
    assert by_api["Path"] == by_cli["Path"] and by_api["Args"] == by_cli["Args"]

    # What was asked is what docker holds (not two equal mistakes).
    assert cli_config["Env"][:7] == [
        "A=1",
        "B=x=y  z",
        "C= lead",
        "D=#not a comment",
        f"HOST={host.address}",
        f"DROVE_EXECUTOR_HOST={HOST}",
        f"DROVE_TASK_ID={task.task_id}",
    ]
    assert cli_host["Memory"] == 64 * 1024 * 1024 and cli_host["CpusetCpus"] == "1"
    assert cli_host["Ulimits"] == [{"Name": "nofile", "Hard": 4096, "Soft": 4096}]
    assert len(cli_host["Devices"]) == 2 and len(cli_host["Binds"]) == 2
    assert cli_config["User"] == "1000:100"
    assert cli_config["Healthcheck"] == {"Test": ["NONE"]}

    # Nothing else differs either.
    rest_cli = {k: v for k, v in cli_config.items() if k not in OWN}
    rest_api = {k: v for k, v in api_config.items() if k not in OWN}
    assert rest_api == rest_cli
    binds = {"Binds": sorted(cli_host["Binds"])}
    assert none_when_empty({**api_host, **binds}) == none_when_empty({**cli_host, **binds})
