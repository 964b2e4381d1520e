"""What a task's container is, said two ways that make the same container: the flags and
environment file of `docker create` (executor's scripts run them) and the JSON body of docker's
`POST /containers/create` (engine/api_run.py). Both are built from the same small pieces, and
tests/integration/test_container_body.py checks on a real dockerd that they agree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from drove_tui.engine.executor import container_name
from drove_tui.models.inventory import HostConfig
from drove_tui.models.spec import (
    DEVICE_PERMISSION_FLAGS,
    LocalLogging,
    MountMode,
    TaskSpec,
)
from drove_tui.models.task import TaskRecord


def spec_hash(spec: TaskSpec) -> str:
    """16 hex of the sha256 of the canonical spec JSON (label drove.spec_hash)."""
    canonical = json.dumps(spec.to_drove_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def labels(record: TaskRecord, store_id: str) -> dict[str, str]:
    """The labels through which every drove-tui process sees this task and its allocation."""
    return {
        "drove.managed": "1",
        "drove.app": record.app,
        "drove.task": record.task_id,
        "drove.instance": record.instance_id,
        "drove.cores": _cores(record),
        "drove.numa": _numa(record),
        "drove.memory_mb": str(record.memory_mb),
        "drove.spec_hash": spec_hash(record.spec),
        "drove.owner": store_id,
    }


def env_file(spec: TaskSpec, record: TaskRecord, host: HostConfig) -> bytes:
    """The `--env-file` content: the spec's env (an empty value takes the host's own, which
    docker does for a bare NAME line) plus Drove's HOST and DROVE_* variables."""
    lines = [_env_line(name, value) for name, value in _env(spec, record, host)]
    return ("\n".join(lines) + "\n").encode()


def _env(spec: TaskSpec, record: TaskRecord, host: HostConfig) -> list[tuple[str, str]]:
    """The container's environment in order: the spec's, then Drove's own."""
    for name, value in spec.env.items():
        if "\n" in value or "\n" in name:
            raise ValueError(f"env {name}: a value may not contain a newline")
    ours = {
        "HOST": host.address,
        "DROVE_EXECUTOR_HOST": host.name,
        "DROVE_TASK_ID": record.task_id,
        "DROVE_INSTANCE_ID": record.instance_id,
        "DROVE_SOURCE_APP_NAME": record.app,
    }
    return [*spec.env.items(), *ours.items()]


def _env_line(name: str, value: str) -> str:
    """One env-file line: a bare NAME for an empty value (docker takes the host's own)."""
    return name if value == "" else f"{name}={value}"


# bufio.Scanner, which reads docker's env file, refuses a line longer than this (with its
# newline: 64 KiB).
ENV_LINE_MAX = 64 * 1024 - 1


def _env_file_keeps(name: str, value: str) -> bool:
    """Whether docker's env-file parser reads the line back as exactly NAME=value: not when
    the value is empty (a bare name), the line would be skipped (`#`), trimmed (leading
    space, a BOM, a trailing CR) or refused (an empty name, `=` first, a space or tab in
    the name, too long, not UTF-8)."""
    if value == "" or name == "" or name[0] in "#=\ufeff" or name[0].isspace():
        return False
    if " " in name or "\t" in name or value.endswith("\r"):
        return False
    try:
        size = len(_env_line(name, value).encode())
    except UnicodeEncodeError:
        return False
    return size <= ENV_LINE_MAX


def create_args(spec: TaskSpec, record: TaskRecord, host: HostConfig, store_id: str) -> list[str]:
    """`docker create` arguments: name, labels, pinning, limits, logging, mounts, user, image,
    args. Tasks publish no ports, get no health check and are never restarted by docker."""
    args = ["--name", container_name(record.instance_id), "--restart", "no"]
    for key, value in labels(record, store_id).items():
        args += ["--label", f"{key}={value}"]
    args += ["--cpuset-cpus", _cores(record)]
    args += ["--cpuset-mems", _numa(record)]
    args += ["--memory", f"{record.memory_mb}m", "--no-healthcheck"]
    if host.nofile is not None:
        args += ["--ulimit", f"nofile={host.nofile}:{host.nofile}"]
    args += ["--env-file", "/dev/stdin"]
    args += _logging_args(spec, record)
    for bind in _binds(spec):
        args += ["--volume", bind]
    for on_host, in_container, perms in _devices(spec):
        args += ["--device", f"{on_host}:{in_container}:{perms}"]
    user = _user(spec)
    if user is not None:
        args += ["--user", user]
    args.append(spec.executable.url)
    args.extend(spec.args)
    return args


def container_body(
    spec: TaskSpec, record: TaskRecord, host: HostConfig, store_id: str
) -> dict[str, Any] | None:
    """The body of docker's `POST /containers/create?name=NAME` that makes the container
    `docker create` makes with create_args and env_file; None when the API cannot say the
    same: an env line the CLI's env-file parser reads otherwise (a bare name takes the
    host's value), a volume or device path the CLI rewrites or refuses (`:`, a relative
    path)."""
    env = _env(spec, record, host)
    if not all(_env_file_keeps(name, value) for name, value in env):
        return None
    binds = _binds(spec)
    devices = _devices(spec)
    mounts = [(v.path_on_host, v.path_in_container) for v in spec.volumes]
    mounts += [(on_host, in_container) for on_host, in_container, _ in devices]
    if any(":" in a + b or a.startswith(".") for a, b in mounts):
        return None  # the CLI splits at `:`, and makes `./x` absolute from its own directory
    if any(not in_container.startswith("/") for _, in_container, _ in devices):
        return None  # the CLI refuses it, or reads `rw` and the like as the permissions
    driver, options = _log_config(spec, record)
    host_config: dict[str, Any] = {
        "CpusetCpus": _cores(record),
        "CpusetMems": _numa(record),
        "Memory": record.memory_mb * 1024 * 1024,
        "RestartPolicy": {"Name": "no"},
        "LogConfig": {"Type": driver, "Config": options},
        # The CLI takes the volumes as a set: a repeated one is one bind.
        "Binds": list(dict.fromkeys(binds)),
        "Devices": [
            {"PathOnHost": on_host, "PathInContainer": in_container, "CgroupPermissions": perms}
            for on_host, in_container, perms in devices
        ],
    }
    if host.nofile is not None:
        host_config["Ulimits"] = [{"Name": "nofile", "Soft": host.nofile, "Hard": host.nofile}]
    body: dict[str, Any] = {
        "Image": spec.executable.url,
        "Env": [_env_line(name, value) for name, value in env],
        "Labels": labels(record, store_id),
        "AttachStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "OpenStdin": False,
        "Healthcheck": {"Test": ["NONE"]},
        "HostConfig": host_config,
    }
    if spec.args:
        body["Cmd"] = list(spec.args)  # none: the image's own, as with the CLI
    user = _user(spec)
    if user is not None:
        body["User"] = user
    return body


def _cores(record: TaskRecord) -> str:
    """The pinned cores as docker's cpuset list, `1,2`."""
    return ",".join(str(c) for c in record.cores)


def _numa(record: TaskRecord) -> str:
    """The NUMA node whose memory the container uses."""
    return str(record.numa_node or 0)


def _binds(spec: TaskSpec) -> list[str]:
    """The volumes as docker binds, `host:container:ro|rw`."""
    return [
        f"{v.path_on_host}:{v.path_in_container}:{'ro' if v.mode is MountMode.READ_ONLY else 'rw'}"
        for v in spec.volumes
    ]


def _devices(spec: TaskSpec) -> list[tuple[str, str, str]]:
    """The devices as (path on host, path in container, cgroup permissions)."""
    devices = []
    for device in spec.devices:
        target = device.path_in_container or device.path_on_host
        perms = DEVICE_PERMISSION_FLAGS[device.permissions.value] if device.permissions else "rwm"
        devices.append((device.path_on_host, target, perms))
    return devices


def _user(spec: TaskSpec) -> str | None:
    """`user` or `user:group`, or None for the image's own."""
    if spec.user_spec is None:
        return None
    user = spec.user_spec.user
    if spec.user_spec.group:
        user += f":{spec.user_spec.group}"
    return user


def _logging_args(spec: TaskSpec, record: TaskRecord) -> list[str]:
    driver, options = _log_config(spec, record)
    args = ["--log-driver", driver]
    for key, value in options.items():
        args += ["--log-opt", f"{key}={value}"]
    return args


def _log_config(spec: TaskSpec, record: TaskRecord) -> tuple[str, dict[str, str]]:
    """The log driver and its options, in order."""
    logging = spec.effective_logging
    if isinstance(logging, LocalLogging):
        return "json-file", {
            "max-size": logging.max_size,
            "max-file": str(logging.max_files),
            "compress": "true" if logging.compress else "false",
        }
    tag = f"{logging.tag_prefix or ''}{record.app}-{record.task_id}{logging.tag_suffix or ''}"
    return "syslog", {"syslog-address": f"udp://{logging.server}", "tag": tag}
