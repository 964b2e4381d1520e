"""Property: any valid spec survives a round trip to JSON (and YAML) and back unchanged."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drove_tui.models.spec import TaskSpec

ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z")
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
paths = st.from_regex(r"\A/[a-z0-9/._-]{1,30}\Z")
units = st.sampled_from(["s", "seconds", "m", "minutes", "h", "hours", "ms", "d"])
durations = st.builds(lambda n, u: f"{n} {u}", st.integers(0, 10_000), units)

http = st.fixed_dictionaries(
    {"hostname": st.from_regex(r"\A[a-z0-9.-]{1,20}\Z")},
    optional={
        "protocol": st.sampled_from(["HTTP", "HTTPS"]),
        "port": st.integers(0, 65535),
        "path": paths,
        "verb": st.sampled_from(["GET", "POST", "PUT"]),
        "successCodes": st.lists(st.integers(100, 599), max_size=3),
        "payload": text,
        "connectionTimeout": durations,
        "operationTimeout": durations,
        "username": text,
        "password": text,
        "authHeader": text,
        "headers": st.dictionaries(text, text, max_size=3),
        "insecure": st.booleans(),
    },
)
configs = st.one_of(
    st.builds(
        lambda p, b: {"type": "INLINE", "localFilename": p, "data": base64.b64encode(b).decode()},
        paths,
        st.binary(min_size=1, max_size=64),
    ),
    st.builds(
        lambda p, h: {"type": "EXECUTOR_LOCAL_FILE", "localFilename": p, "filePathOnHost": h},
        paths,
        paths,
    ),
    st.builds(
        lambda t, p, h: {"type": t, "localFilename": p, "http": h},
        st.sampled_from(["CONTROLLER_HTTP_FETCH", "EXECUTOR_HTTP_FETCH"]),
        paths,
        http,
    ),
)
leaf_policies = st.one_of(
    st.just({"type": "ANY"}),
    st.just({"type": "ONE_PER_HOST"}),
    st.just({"type": "NO_TAG"}),
    st.builds(lambda n: {"type": "MAX_N_PER_HOST", "numContainers": n}, st.integers(1, 64)),
    st.builds(lambda t: {"type": "MATCH_TAG", "tag": t}, ids),
    st.builds(
        lambda r: {"type": "RULE_BASED", "rule": r, "ruleType": "CEL"},
        st.sampled_from(["cores >= 2", '"gpu" in tags', 'host != "h1" || arch == "arm64"']),
    ),
)
policies = st.recursive(
    leaf_policies,
    lambda children: st.builds(
        lambda ps, c: {"type": "COMPOSITE", "policies": ps, "combiner": c},
        st.lists(children, min_size=1, max_size=3),
        st.sampled_from(["AND", "OR"]),
    ),
    max_leaves=6,
)
logging = st.one_of(
    st.builds(
        lambda s, f, c: {"type": "LOCAL", "maxSize": s, "maxFiles": f, "compress": c},
        st.from_regex(r"\A[1-9][0-9]{0,3}[kmg]?\Z"),
        st.integers(1, 100),
        st.booleans(),
    ),
    st.fixed_dictionaries(
        {"type": st.just("RSYSLOG"), "server": st.just("127.0.0.1:514")},
        optional={"tagPrefix": text, "tagSuffix": text},
    ),
)
specs = st.fixed_dictionaries(
    {
        "sourceAppName": ids,
        "taskId": ids,
        "executable": st.fixed_dictionaries(
            {"url": st.from_regex(r"\A[a-z0-9./:_-]{1,40}\Z")},
            optional={"type": st.just("DOCKER"), "dockerPullTimeout": durations},
        ),
        "resources": st.permutations(
            [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}]
        ),
    },
    optional={
        "volumes": st.lists(
            st.builds(
                lambda c, h, m: {"pathInContainer": c, "pathOnHost": h, "mode": m},
                paths,
                paths,
                st.sampled_from(["READ_WRITE", "READ_ONLY"]),
            ),
            max_size=3,
        ),
        "configs": st.lists(configs, max_size=3),
        "placementPolicy": policies,
        "env": st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,10}\Z"), text, max_size=4),
        "args": st.lists(text, max_size=5),
        "tags": st.dictionaries(text, text, max_size=3),
        "logging": logging,
        "devices": st.lists(
            st.fixed_dictionaries(
                {"type": st.just("DIRECT"), "pathOnHost": paths},
                optional={
                    "pathInContainer": paths,
                    "permissions": st.sampled_from(
                        ["READ_ONLY", "WRITE_ONLY", "MKNOD_ONLY", "READ_WRITE", "ALL"]
                    ),
                },
            ),
            max_size=2,
        ),
        "userSpec": st.fixed_dictionaries({"user": ids}, optional={"group": ids}),
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_valid_spec_survives_json_round_trip_unchanged(raw: dict[str, Any]) -> None:
    spec = TaskSpec.model_validate(raw)
    again = TaskSpec.model_validate(json.loads(json.dumps(spec.to_drove_json())))
    assert again == spec
    assert again.to_drove_json() == spec.to_drove_json()
    # What the user wrote is kept as written (no normalising of durations, ids or order).
    dumped = spec.to_drove_json()
    for key, value in raw.items():
        if key not in ("executable", "placementPolicy", "configs", "logging", "devices"):
            assert dumped[key] == value


@settings(max_examples=30, deadline=None)
@given(specs)
def test_valid_spec_survives_yaml_round_trip_unchanged(raw: dict[str, Any]) -> None:
    spec = TaskSpec.model_validate(raw)
    assert TaskSpec.model_validate(yaml.safe_load(yaml.safe_dump(spec.to_drove_json()))) == spec


@settings(max_examples=40, deadline=None)
@given(specs, st.sampled_from(["1 second", "5 minutes", "2h"]), st.integers(1, 512))
def test_create_operation_survives_json_round_trip(
    raw: dict[str, Any], timeout: str, parallelism: int
) -> None:
    from drove_tui.models.operation import CreateTaskOperation

    op = CreateTaskOperation.model_validate(
        {"type": "CREATE", "spec": raw, "opSpec": {"timeout": timeout, "parallelism": parallelism}}
    )
    dumped = json.dumps(op.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert CreateTaskOperation.model_validate(json.loads(dumped)) == op


@settings(max_examples=40, deadline=None)
@given(specs)
def test_masking_is_idempotent_and_keeps_everything_but_secrets(raw: dict[str, Any]) -> None:
    spec = TaskSpec.model_validate(raw)
    masked = spec.masked()
    assert masked.masked() == masked
    assert TaskSpec.model_validate(json.loads(json.dumps(masked.to_drove_json()))) == masked
    assert masked.model_copy(update={"env": spec.env, "configs": spec.configs}) == spec
