"""The docker API body of a task's container (container.container_body): the container that
`docker create` makes with create_args and the env file, or None when the API cannot say it."""

from __future__ import annotations

from typing import Any

import pytest
from test_engine_executor import record as executor_record

from drove_tui.engine import container
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import TaskSpec
from drove_tui.models.task import TaskRecord

SPEC: dict[str, Any] = {
    "sourceAppName": "app",
    "taskId": "t1",
    "executable": {"type": "DOCKER", "url": "img:1"},
    "resources": [{"type": "CPU", "count": 2}, {"type": "MEMORY", "sizeInMB": 256}],
    "volumes": [
        {"pathInContainer": "/data", "pathOnHost": "/srv/d", "mode": "READ_ONLY"},
        {"pathInContainer": "/out", "pathOnHost": "/srv/o", "mode": "READ_WRITE"},
    ],
    "devices": [
        {"type": "DIRECT", "pathOnHost": "/dev/null"},
        {
            "type": "DIRECT",
            "pathOnHost": "/dev/zero",
            "pathInContainer": "/dev/z",
            "permissions": "READ_ONLY",
        },
    ],
    "userSpec": {"user": "1000", "group": "100"},
    "env": {"A": "1", "B": "x=y  "},
    "args": ["sh", "-c", "echo $A"],
    "logging": {"type": "LOCAL", "maxSize": "5m", "maxFiles": 2, "compress": False},
}
HOST = HostConfig(name="h1", address="10.0.0.5", nofile=4096)


def task(**changes: Any) -> TaskSpec:
    return TaskSpec.model_validate({**SPEC, **changes})


def record(spec: TaskSpec) -> TaskRecord:
    """The executor tests' record, on NUMA node 1 (so that the node is not docker's default)."""
    return executor_record(spec).model_copy(update={"numa_node": 1})


def body(spec: TaskSpec, host: HostConfig = HOST) -> dict[str, Any]:
    made = container.container_body(spec, record(spec), host, "store-1")
    assert made is not None
    return made


def test_the_body_says_what_create_args_and_the_env_file_say() -> None:
    spec = task()
    assert body(spec) == {
        "Image": "img:1",
        "Cmd": ["sh", "-c", "echo $A"],
        "Env": [
            "A=1",
            "B=x=y  ",
            "HOST=10.0.0.5",
            "DROVE_EXECUTOR_HOST=h1",
            "DROVE_TASK_ID=t1",
            "DROVE_INSTANCE_ID=app-t1-abcd1234",
            "DROVE_SOURCE_APP_NAME=app",
        ],
        "Labels": container.labels(record(spec), "store-1"),
        "User": "1000:100",
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "OpenStdin": False,
        "Healthcheck": {"Test": ["NONE"]},
        "HostConfig": {
            "CpusetCpus": "1,2",
            "CpusetMems": "1",
            "Memory": 256 * 1024 * 1024,
            "RestartPolicy": {"Name": "no"},
            "Ulimits": [{"Name": "nofile", "Soft": 4096, "Hard": 4096}],
            "LogConfig": {
                "Type": "json-file",
                "Config": {"max-size": "5m", "max-file": "2", "compress": "false"},
            },
            "Binds": ["/srv/d:/data:ro", "/srv/o:/out:rw"],
            "Devices": [
                {
                    "PathOnHost": "/dev/null",
                    "PathInContainer": "/dev/null",
                    "CgroupPermissions": "rwm",
                },
                {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/z", "CgroupPermissions": "r"},
            ],
        },
    }
    # The env is the env file's, line for line.
    env_lines = container.env_file(spec, record(spec), HOST).decode().splitlines()
    assert body(spec)["Env"] == env_lines


def test_syslog_logging_has_the_drivers_address_and_tag() -> None:
    spec = task(logging={"type": "RSYSLOG", "server": "logs:514", "tagPrefix": "p-"})
    assert body(spec)["HostConfig"]["LogConfig"] == {
        "Type": "syslog",
        "Config": {"syslog-address": "udp://logs:514", "tag": "p-app-t1"},
    }


def test_a_bare_spec_leaves_the_images_command_and_user_and_dockers_ulimit() -> None:
    spec = task(args=[], userSpec=None, logging=None, volumes=[], devices=[], env={})
    made = body(spec, HostConfig(name="h1", address="10.0.0.5"))
    assert "Cmd" not in made and "User" not in made
    assert "Ulimits" not in made["HostConfig"]
    assert made["HostConfig"]["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3", "compress": "true"},
    }
    assert made["HostConfig"]["Binds"] == [] and made["HostConfig"]["Devices"] == []


def test_a_repeated_volume_is_one_bind_as_with_the_cli() -> None:
    volume = {"pathInContainer": "/data", "pathOnHost": "/srv/d", "mode": "READ_ONLY"}
    assert body(task(volumes=[volume, volume]))["HostConfig"]["Binds"] == ["/srv/d:/data:ro"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FROM_HOST", ""),  # a bare name: the CLI takes the value from its own environment
        ("#A", "1"),  # a comment line
        (" A", "1"),  # leading space trimmed
        ("\u00a0A", "1"),  # leading (unicode) space trimmed
        ("\ufeffA", "1"),  # a BOM (trimmed on the first line)
        ("A B", "1"),  # refused: space in the name
        ("A\tB", "1"),  # refused: tab in the name
        ("", "1"),  # refused: no name
        ("=A", "1"),  # refused: no name
        ("A", "1\r"),  # the trailing CR is dropped
        ("A", "x" * 70000),  # refused: longer than the scanner's line
    ],
)
def test_none_when_the_env_file_parser_reads_the_line_otherwise(name: str, value: str) -> None:
    spec = task(env={"OK": "1", name: value})
    assert container.container_body(spec, record(spec), HOST, "s") is None


def test_an_env_name_or_value_the_parser_keeps_as_is_is_fine() -> None:
    spec = task(env={"A": " lead and trail ", "B": "#not a comment", "C": "\tx\ry"})
    assert body(spec)["Env"][:3] == ["A= lead and trail ", "B=#not a comment", "C=\tx\ry"]


@pytest.mark.parametrize(
    "changes",
    [
        {"volumes": [{"pathInContainer": "/d", "pathOnHost": "./d", "mode": "READ_ONLY"}]},
        {"volumes": [{"pathInContainer": "/d", "pathOnHost": ".", "mode": "READ_ONLY"}]},
        {"volumes": [{"pathInContainer": "/d:x", "pathOnHost": "/s", "mode": "READ_ONLY"}]},
        {"volumes": [{"pathInContainer": "/d", "pathOnHost": "/s:x", "mode": "READ_ONLY"}]},
        {"devices": [{"type": "DIRECT", "pathOnHost": "/dev/a:b"}]},
        {"devices": [{"type": "DIRECT", "pathOnHost": "/dev/a", "pathInContainer": "rw"}]},
    ],
)
def test_none_when_the_cli_rewrites_or_refuses_a_mount(changes: dict[str, Any]) -> None:
    spec = task(**changes)
    assert container.container_body(spec, record(spec), HOST, "s") is None


def test_a_newline_in_the_env_is_refused_as_by_the_env_file() -> None:
    spec = task(env={"A": "1\n2"})
    with pytest.raises(ValueError, match="newline"):
        container.container_body(spec, record(spec), HOST, "s")


def test_create_args_and_env_file_are_unchanged() -> None:
    spec = task()
    rec = record(spec)
    labels = [
        a for k, v in container.labels(rec, "store-1").items() for a in ("--label", f"{k}={v}")
    ]
    assert container.create_args(spec, rec, HOST, "store-1") == [
        "--name",
        "drove-app-t1-abcd1234",
        "--restart",
        "no",
        *labels,
        "--cpuset-cpus",
        "1,2",
        "--cpuset-mems",
        "1",
        "--memory",
        "256m",
        "--no-healthcheck",
        "--ulimit",
        "nofile=4096:4096",
        "--env-file",
        "/dev/stdin",
        "--log-driver",
        "json-file",
        "--log-opt",
        "max-size=5m",
        "--log-opt",
        "max-file=2",
        "--log-opt",
        "compress=false",
        "--volume",
        "/srv/d:/data:ro",
        "--volume",
        "/srv/o:/out:rw",
        "--device",
        "/dev/null:/dev/null:rwm",
        "--device",
        "/dev/zero:/dev/z:r",
        "--user",
        "1000:100",
        "img:1",
        "sh",
        "-c",
        "echo $A",
    ]
    assert labels[:4] == ["--label", "drove.managed=1", "--label", "drove.app=app"]
    assert "--label drove.cores=1,2 --label drove.numa=1" in " ".join(labels)
    syslog = task(logging={"type": "RSYSLOG", "server": "logs:514", "tagSuffix": "-s"})
    args = container.create_args(syslog, record(syslog), HOST, "s")
    assert args[args.index("--log-driver") :][:6] == [
        "--log-driver",
        "syslog",
        "--log-opt",
        "syslog-address=udp://logs:514",
        "--log-opt",
        "tag=app-t1-s",
    ]
    empty = task(env={"FROM_HOST": "", "A": "1"})
    assert container.env_file(empty, record(empty), HOST) == (
        b"FROM_HOST\nA=1\nHOST=10.0.0.5\nDROVE_EXECUTOR_HOST=h1\nDROVE_TASK_ID=t1\n"
        b"DROVE_INSTANCE_ID=app-t1-abcd1234\nDROVE_SOURCE_APP_NAME=app\n"
    )
