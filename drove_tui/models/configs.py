"""Config files placed in the container before it starts (Drove's `configs`), keyed by `type`."""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator

from drove_tui.models.base import DroveModel
from drove_tui.models.durations import Duration

# What masked() writes instead of INLINE data; accepted back so a masked spec still loads.
MASKED_DATA = re.compile(r"^<masked: \d+ bytes>$")
MASKED = "<masked>"


class Protocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


class HttpVerb(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"


class HttpCallSpec(DroveModel):
    """Drove's HTTPCallSpec: where and how to fetch a config file over HTTP."""

    protocol: Protocol = Protocol.HTTP
    hostname: str = Field(min_length=1)
    port: int = Field(default=0, ge=0, le=65535)  # 0 = the protocol's port
    path: str = "/"
    verb: HttpVerb = HttpVerb.GET
    success_codes: list[int] = Field(default_factory=lambda: [200])
    payload: str | None = None
    connection_timeout: Duration = Duration("1 second")
    operation_timeout: Duration = Duration("1 second")
    username: str | None = None
    password: str | None = None
    auth_header: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    insecure: bool = False

    @property
    def effective_port(self) -> int:
        """The port to connect to: the given one, else 80/443 by protocol."""
        if self.port:
            return self.port
        return 443 if self.protocol is Protocol.HTTPS else 80


class InlineConfig(DroveModel):
    """A file whose content is in the spec, base64-encoded."""

    type: Literal["INLINE"]
    local_filename: str = Field(min_length=1)
    data: str = Field(min_length=1)

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        if MASKED_DATA.match(value):
            return value
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "is not valid base64; encode the file with `base64 -w0 FILE`"
            ) from None
        return value

    @property
    def content(self) -> bytes:
        """The decoded file content (raises ValueError on a masked spec)."""
        if MASKED_DATA.match(self.data):
            raise ValueError(f"the data of {self.local_filename} was masked")
        return base64.b64decode(self.data, validate=True)


class ExecutorLocalFileConfig(DroveModel):
    """A file copied from the executor host."""

    type: Literal["EXECUTOR_LOCAL_FILE"]
    local_filename: str = Field(min_length=1)
    file_path_on_host: str = Field(min_length=1)


class ControllerHttpFetchConfig(DroveModel):
    """A file fetched over HTTP by the controller (here: by the drove-tui process)."""

    type: Literal["CONTROLLER_HTTP_FETCH"]
    local_filename: str = Field(min_length=1)
    http: HttpCallSpec


class ExecutorHttpFetchConfig(DroveModel):
    """A file fetched over HTTP by the executor host."""

    type: Literal["EXECUTOR_HTTP_FETCH"]
    local_filename: str = Field(min_length=1)
    http: HttpCallSpec


ConfigSpec = Annotated[
    InlineConfig | ExecutorLocalFileConfig | ControllerHttpFetchConfig | ExecutorHttpFetchConfig,
    Field(discriminator="type"),
]


def mask_config(config: ConfigSpec) -> ConfigSpec:
    """The config with its secrets (inline data, HTTP credentials and header values)
    replaced by markers."""
    if isinstance(config, InlineConfig):
        if MASKED_DATA.match(config.data):
            return config
        size = len(base64.b64decode(config.data, validate=True))
        return config.model_copy(update={"data": f"<masked: {size} bytes>"})
    if isinstance(config, ControllerHttpFetchConfig | ExecutorHttpFetchConfig):
        http = config.http
        secrets: dict[str, object] = {
            name: MASKED
            for name in ("username", "password", "auth_header")
            if getattr(http, name) is not None
        }
        # Header values are secrets as often as not (X-Api-Token, Cookie): all are hidden,
        # their names kept.
        if http.headers:
            secrets["headers"] = dict.fromkeys(http.headers, MASKED)
        return config.model_copy(update={"http": http.model_copy(update=secrets)})
    return config
