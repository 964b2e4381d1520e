"""The app's garbage-collection policy: full collections wait for quiet, but not forever."""

from __future__ import annotations

import gc

from fake_engine import FakeEngine, frozen_clock

from drove_tui.tui.app import DroveApp
from drove_tui.tui.collector import IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def collector(clock: Clock, runs: list[float]) -> IdleCollector:
    return IdleCollector(
        quiet_s=0.5,
        idle_every_s=2.0,
        gap_s=0.15,
        gap_after_s=3.0,
        max_wait_s=20.0,
        clock=clock,
        collect=lambda: runs.append(clock.now),
    )


def test_no_full_collection_while_keys_keep_coming() -> None:
    clock, runs = Clock(), []
    gc_policy = collector(clock, runs)
    for _ in range(100):  # a key every 0.1 s for 10 s
        clock.now += 0.1
        gc_policy.input_seen()
        assert gc_policy.tick() is False
    assert runs == []


def test_full_collection_runs_once_the_user_is_quiet() -> None:
    clock, runs = Clock(), []
    gc_policy = collector(clock, runs)
    clock.now += 2.0
    gc_policy.input_seen()
    clock.now += 0.1
    assert gc_policy.tick() is False  # the key's repaint may still be under way
    clock.now += 0.5
    assert gc_policy.tick() is True
    assert runs == [clock.now]


def test_after_a_few_seconds_a_gap_between_keys_is_enough() -> None:
    clock, runs = Clock(), []
    gc_policy = collector(clock, runs)
    for _ in range(10):  # a key every 0.375 s, each tick 0.125 s after a key: no gap yet
        clock.now += 0.25
        gc_policy.input_seen()
        clock.now += 0.125
        assert gc_policy.tick() is False
    clock.now += 0.125  # 0.25 s without a key, 4 s since the last collection
    assert gc_policy.tick() is True
    gc_policy.input_seen()
    clock.now += 0.25  # the same gap, but the last collection was a moment ago
    assert gc_policy.tick() is False
    assert len(runs) == 1


def test_quiet_collections_are_spaced_by_idle_every() -> None:
    clock, runs = Clock(), []
    gc_policy = collector(clock, runs)
    clock.now += 2.0
    assert gc_policy.tick() is True
    clock.now += 1.0
    assert gc_policy.tick() is False
    clock.now += 1.0
    assert gc_policy.tick() is True
    assert len(runs) == 2


def test_endless_typing_still_collects_after_max_wait() -> None:
    clock, runs = Clock(), []
    gc_policy = collector(clock, runs)
    ticks = 0
    while not runs:
        clock.now += 0.125  # exact in binary, so the count below is too
        gc_policy.input_seen()
        gc_policy.tick()
        ticks += 1
    assert ticks == 160  # 20 s of keys every 1/8 s, then one collection


async def test_real_app_takes_over_full_collections_and_gives_them_back_on_exit() -> None:
    saved = gc.get_threshold()
    app = DroveApp(FakeEngine(), clock=frozen_clock, freeze_gc=True)  # type: ignore[arg-type]
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            assert app.collector is not None
            assert gc.get_threshold()[2] > 1_000_000  # Python starts none on its own
            before = app.collector.last_input
            await pilot.press("down")
            assert app.collector.last_input > before  # keys are seen, so collections wait
        assert gc.get_threshold() == saved
    finally:
        # Process-wide state: put it back whatever happened, for the tests that follow.
        gc.unfreeze()
        gc.set_threshold(*saved)
