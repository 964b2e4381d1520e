"""The inventory: the hosts drove-tui may use, with their connection and capacity settings.

`HostConfig` is what the rest of the program sees: every default (inventory, groups,
~/.ssh/config) already merged in by `drove_tui.loaders.inventory_file`. The `*File` models
describe the native inventory file itself, so that unknown fields there are errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

Connection = Literal["ssh", "local"]
HostKeyPolicy = Literal["strict", "accept-new"]

# A host or group name is used in patterns (`a,b`, `!x`, `tag:k`), so it may not contain
# the characters those patterns give a meaning to.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$"


def _check_name(value: str) -> str:
    if not re.match(NAME_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a usable host name; use letters, digits, '.', '-' and '_' "
            "(commas, '!', '&', ':' and spaces have a meaning in host patterns)"
        )
    return value


HostName = Annotated[str, AfterValidator(_check_name)]


class _Strict(BaseModel):
    # Numbers are taken as text where text is expected (`zone: 1` is the tag value "1").
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class HostConfig(_Strict):
    """One host, with every default already merged from groups, inventory and ~/.ssh/config."""

    name: HostName
    address: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    proxy_jump: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)  # a bare tag maps to ""
    labels: dict[str, str] = Field(default_factory=dict)
    groups: list[str] = Field(default_factory=list)
    reserved_cores: int = Field(default=0, ge=0)  # cores kept for the OS
    memory_percent: int = Field(default=100, ge=50, le=100)  # share of memory offered
    # Drove's executor over-provisioning: each physical core counts as N allocatable ones.
    cpu_multiplier: int = Field(default=1, ge=1, le=20)
    memory_multiplier: int = Field(default=1, ge=1, le=20)
    docker: str = Field(default="docker", min_length=1)  # command prefix, e.g. "sudo docker"
    connection: Connection = "ssh"
    known_hosts: list[str] = Field(default_factory=list)
    host_key_policy: HostKeyPolicy = "strict"
    connect_timeout: float = Field(default=10, gt=0)
    keepalive_interval: float = Field(default=15, ge=0)
    keepalive_count_max: int = Field(default=3, ge=1)
    max_channels: int = Field(default=8, ge=1)
    nofile: int | None = Field(default=None, ge=1)

    @field_validator("docker")
    @classmethod
    def _docker_not_blank(cls, value: str) -> str:
        if not value.split():
            raise ValueError("the docker command prefix may not be blank")
        return value


class InventorySettings(_Strict):
    """Inventory-wide behaviour of the engine (not per host)."""

    probe_interval_s: float = Field(default=10, gt=0)
    grace_period_s: float = Field(default=120, ge=0)
    concurrency: int = Field(default=64, ge=1)  # SSH handshakes in flight at once
    placement: Literal["binpack", "spread"] = "binpack"
    cache_images: bool = True
    reap_zombies: bool = False


class Inventory(_Strict):
    """The resolved inventory: hosts in file order, group name -> host names."""

    hosts: list[HostConfig]
    groups: dict[str, list[str]] = Field(default_factory=dict)
    settings: InventorySettings = Field(default_factory=InventorySettings)
    source: str | None = None  # file path; None = the built-in localhost inventory

    def host(self, name: str) -> HostConfig | None:
        """The host called `name`, or None."""
        for host in self.hosts:
            if host.name == name:
                return host
        return None


def localhost_inventory() -> Inventory:
    """The inventory used when none is given: this machine, reached without SSH."""
    host = HostConfig(name="localhost", address="127.0.0.1", connection="local")
    return Inventory(hosts=[host], groups={}, source=None)


# --- The native inventory file -------------------------------------------------------------
# Every HostConfig field except name/address/groups can be given as a default or group var.


class HostDefaults(_Strict):
    """Fields that `defaults:` and group `vars:` may set (all optional, None = not given)."""

    address: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    proxy_jump: str | None = None
    # `{gpu: }` (YAML null) is a bare tag, as is "gpu" in a list.
    tags: dict[str, str | None] | list[str] | None = None
    labels: dict[str, str | None] | None = None
    reserved_cores: int | None = Field(default=None, ge=0)
    memory_percent: int | None = Field(default=None, ge=50, le=100)
    cpu_multiplier: int | None = Field(default=None, ge=1, le=20)
    memory_multiplier: int | None = Field(default=None, ge=1, le=20)
    docker: str | None = Field(default=None, min_length=1)
    connection: Connection | None = None
    known_hosts: list[str] | None = None
    host_key_policy: HostKeyPolicy | None = None
    connect_timeout: float | None = Field(default=None, gt=0)
    keepalive_interval: float | None = Field(default=None, ge=0)
    keepalive_count_max: int | None = Field(default=None, ge=1)
    max_channels: int | None = Field(default=None, ge=1)
    nofile: int | None = Field(default=None, ge=1)


InventoryDefaults = HostDefaults


class HostEntry(HostDefaults):
    """One entry of `hosts:`; `address` defaults to the name (or ~/.ssh/config HostName)."""

    name: HostName


class GroupConfig(_Strict):
    """One entry of `groups:`: member host names and vars shared by them."""

    hosts: list[str] = Field(default_factory=list)
    vars: HostDefaults = Field(default_factory=HostDefaults)


class InventoryFile(_Strict):
    """The native inventory file as written (before defaults are merged)."""

    defaults: HostDefaults = Field(default_factory=HostDefaults)
    settings: InventorySettings = Field(default_factory=InventorySettings)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    hosts: list[HostEntry] = Field(default_factory=list)
