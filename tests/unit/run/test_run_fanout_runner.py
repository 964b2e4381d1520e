"""run_fan_out over a scripted engine: ids, pins, prefixes, summary, exit code."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from run_fakes import FakeEngine, options

from drove_tui.commands import fanout
from drove_tui.commands.output import Terminal
from drove_tui.errors import InvalidInput
from drove_tui.models.inventory import HostConfig, Inventory

INVENTORY = Inventory(
    hosts=[HostConfig(name=f"host{i}", address=f"127.0.0.{10 + i}") for i in (1, 2, 3)],
    source="inv.yaml",
)


def plan(pattern: str, task_id: str = "job1") -> dict[str, str]:
    return fanout.plan_fan_out(INVENTORY, pattern, task_id)


@pytest.fixture
def captured() -> dict[str, io.StringIO]:
    """StringIOs for the run's streams (no terminal, so no colour and no spinner)."""
    return {"out": io.StringIO(), "err": io.StringIO()}


def term(streams: dict[str, io.StringIO]) -> Terminal:
    return Terminal(streams["out"], streams["err"])


async def test_fan_out_pins_each_task_and_summarises_the_failing_host(
    engine: FakeEngine, captured: dict[str, io.StringIO]
) -> None:
    engine.autopilot = {"host1": 0, "host2": 7, "host3": 0}
    code = await fanout.run_fan_out(
        engine, plan("all"), options(fan_out="all"), asyncio.Event(), term(captured)
    )
    assert code == 1
    pins = sorted((spec.task_id, pin) for spec, _, pin in engine.submits)
    assert pins == [("job1-host1", "host1"), ("job1-host2", "host2"), ("job1-host3", "host3")]
    out = captured["out"].getvalue().splitlines()
    assert sorted(out) == [f"host{i} | hello from host{i}" for i in (1, 2, 3)]
    err = captured["err"].getvalue()
    assert "host2 | warn host2" in err
    # Milestones only per host; the end line carries the result.
    assert "STARTING" not in err and "DEPROVISIONING" not in err
    assert any(
        line.startswith("host2 | STOPPED") and line.endswith("[FAILED/7]")
        for line in err.splitlines()
    )
    summary = err[err.index("HOST  ") :].splitlines()
    assert summary[2].split()[:4] == ["host2", "job1-host2", "STOPPED", "7"]
    assert summary[-1] == "1 of 3 hosts did not succeed: host2"


async def test_fan_out_exits_zero_when_every_host_succeeded(
    engine: FakeEngine, captured: dict[str, io.StringIO]
) -> None:
    engine.autopilot = {"host1": 0, "host2": 0, "host3": 0}
    opts = options(fan_out="host1,host3")
    assert (
        await fanout.run_fan_out(engine, plan("host1,host3"), opts, asyncio.Event(), term(captured))
        == 0
    )
    assert sorted(pin for _, _, pin in engine.submits) == ["host1", "host3"]


async def test_fan_out_json_lines_carry_the_host_and_end_with_the_summary(
    engine: FakeEngine, captured: dict[str, io.StringIO]
) -> None:
    engine.autopilot = {"host1": 0, "host2": 3, "host3": 0}
    opts = options(fan_out="all", json=True)
    assert await fanout.run_fan_out(engine, plan("all"), opts, asyncio.Event(), term(captured)) == 1
    lines = [json.loads(x) for x in captured["out"].getvalue().splitlines()]
    logs = [x for x in lines if x.get("event") == "log"]
    assert {x["host"] for x in logs} == {"host1", "host2", "host3"}
    infos = [x for x in lines if "taskResult" in x]
    assert sorted(x["taskId"] for x in infos) == ["job1-host1", "job1-host2", "job1-host3"]
    assert lines[-1]["event"] == "summary" and lines[-1]["exitCode"] == 1


async def test_operation_parallelism_is_the_default_bound(
    engine: FakeEngine, captured: dict[str, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real = fanout.fan_out

    async def spy(*args: Any, **kw: Any) -> Any:
        seen.update(kw)
        return await real(*args, **kw)

    monkeypatch.setattr(fanout, "fan_out", spy)
    engine.autopilot = {"host1": 0, "host2": 0, "host3": 0}
    opts = options(fan_out="all", parallel_default=2)
    await fanout.run_fan_out(engine, plan("all"), opts, asyncio.Event(), term(captured))
    assert seen["parallel"] == 2
    await fanout.run_fan_out(
        engine, plan("all", "other"), options(fan_out="all"), asyncio.Event(), term(captured)
    )
    assert seen["parallel"] == 3  # no operation spec, no --parallel: all hosts at once


def test_a_pattern_matching_no_host_is_invalid_input_naming_the_flag() -> None:
    with pytest.raises(InvalidInput, match=r"^--fan-out 'nosuch\*': "):
        plan("nosuch*")


def test_plan_gives_each_host_its_task_id_in_inventory_order() -> None:
    assert plan("host3,host1") == {"host1": "job1-host1", "host3": "job1-host3"}
