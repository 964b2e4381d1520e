"""The app's garbage-collection policy: full collections wait for quiet, but not forever."""

from __future__ import annotations

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
    clock.now += 3.0
    gc_policy.input_seen()
    clock.now += 0.4
    assert gc_policy.tick() is False  # the key's repaint may still be under way
    clock.now += 0.2
    assert gc_policy.tick() is True
    assert runs == [clock.now]


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
