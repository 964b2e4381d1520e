"""Benchmark of the terminal app: 10,000 tasks, 500 state changes a second, a log flood.

    .venv/bin/python bench/tui_bench.py                 # full run (30 s log flood)
    .venv/bin/python bench/tui_bench.py --flood-seconds 5 --write bench/results/tui.md

What is measured (headless Textual at 160x48, the same code paths as a terminal; the bench
also serialises every screen update to terminal bytes, so only the write itself is left out):

- first paint: from creating the app to the first screen update that shows the 10,000 rows
  read from a real SQLite store;
- key-press-to-repaint: from sending a key to the first screen update after the app has
  handled it, for scrolling keys and for typing a filter, while a feeder publishes 500 task
  changes a second;
- the same for scrolling and searching in the logs view while a task prints 10,000 lines a
  second;
- peak RSS of the process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from fake_engine import FakeEngine, make_record
from textual import events
from textual.app import _character_to_key

from drove_tui.engine.events import LogLine
from drove_tui.engine.store import open_store
from drove_tui.models.states import TaskState
from drove_tui.models.task import TaskRecord
from drove_tui.tui.app import DroveApp
from drove_tui.tui.screens import LogsScreen
from drove_tui.tui.widgets import LogView, RowTable

SIZE = (160, 48)
STATES = list(TaskState)
HOSTS = [f"host{i}" for i in range(1, 21)]


def make_tasks(n: int) -> list[TaskRecord]:
    rng = random.Random(7)
    return [
        make_record(
            f"app{i % 50}",
            f"task-{i:05d}",
            rng.choice(STATES),
            host=rng.choice(HOSTS),
            age=rng.uniform(10, 86400),
            exit_code=rng.choice([None, 0, 1]),
        )
        for i in range(n)
    ]


def fill_store(path: Path, tasks: list[TaskRecord]) -> None:
    store = open_store(path)
    try:
        for record in tasks:
            store.create_task(record)
    finally:
        store.close()


class StoreEngine(FakeEngine):
    """The fake engine, but the task list comes from a real SQLite store (as at start-up)."""

    def __init__(self, store_path: Path) -> None:
        super().__init__(tasks=[], log_lines=[])
        self.store_path = store_path

    def tasks(self) -> list[TaskRecord]:
        store = open_store(self.store_path)
        try:
            return store.list_tasks()
        finally:
            store.close()


class Paints:
    """Watches the app's screen updates (and pays for turning each into terminal bytes).

    `until(check)` returns the time of the first update made when `check()` held, i.e. the
    first picture that shows the effect of a key.
    """

    def __init__(self, app: DroveApp) -> None:
        self.count = 0
        self.check: Any = None
        self.hit = 0.0
        self.event = asyncio.Event()
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            if hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            self.count += 1
            if self.check is not None and self.check():
                self.hit = time.perf_counter()
                self.check = None
                self.event.set()

        app._display = display  # type: ignore[method-assign]

    async def until(self, check: Any, limit: float = 30.0) -> float:
        self.event.clear()
        self.check = check
        await asyncio.wait_for(self.event.wait(), limit)
        return self.hit


class Actions:
    """Counts finished binding actions (every bound key ends in App.run_action)."""

    def __init__(self, app: DroveApp) -> None:
        self.done = 0
        original = app.run_action

        async def run_action(*args: Any, **kwargs: Any) -> bool:
            result = await original(*args, **kwargs)
            self.done += 1
            return result

        app.run_action = run_action  # type: ignore[method-assign]


def send_key(app: DroveApp, key: str) -> None:
    """Deliver a key as the terminal driver would (no test-harness waiting)."""
    if key == "space":
        char: str | None = " "
    elif len(key) == 1:
        char = key
        key = key if key.isalnum() else _character_to_key(key)
    else:
        char = None
    event = events.Key(key, char)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def key_latency(app: DroveApp, paints: Paints, key: str, done: Any) -> float:
    """ms from the key to the first repaint showing its effect (`done()` true)."""
    start = time.perf_counter()
    send_key(app, key)
    painted = await paints.until(done)
    return (painted - start) * 1000


async def bound_key(app: DroveApp, paints: Paints, actions: Actions, key: str) -> float:
    before = actions.done
    return await key_latency(app, paints, key, lambda: actions.done > before)


async def typed_key(app: DroveApp, paints: Paints, key: str, expected: str) -> float:
    screen = app.screen
    return await key_latency(
        app, paints, key, lambda: getattr(screen, "query_text", None) == expected
    )


async def feed_changes(engine: FakeEngine, tasks: list[TaskRecord], per_second: int) -> None:
    """Publish `per_second` task changes a second, in 10 ticks."""
    rng = random.Random(11)
    batch = per_second // 10
    while True:
        for _ in range(batch):
            record = rng.choice(tasks)
            engine.emit(record.model_copy(update={"state": rng.choice(STATES)}))
        await asyncio.sleep(0.1)


async def flood_logs(engine: FakeEngine, per_second: int, seconds: float) -> int:
    """Push `per_second` log lines a second for `seconds` (catching up when the loop was
    busy, so the rate is kept however slow the app is); returns how many were sent."""
    sent = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(per_second * elapsed)
        while sent < due:
            text = f"{sent:08d} worker=3 msg=processing batch item {sent % 977} status=ok"
            engine.logs_queue.put_nowait(LogLine("app0", "task-00000", "stdout", text, 0.0))
            sent += 1
        await asyncio.sleep(0.01)
    return sent


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def summary(samples: list[float]) -> str:
    return (
        f"n={len(samples)} median {statistics.median(samples):.1f} ms, "
        f"p99 {p99(samples):.1f} ms, max {max(samples):.1f} ms"
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    tasks = make_tasks(args.tasks)
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "state.db"
        t = time.perf_counter()
        fill_store(store_path, tasks)
        results["store_fill_s"] = time.perf_counter() - t
        engine = StoreEngine(store_path)
        engine.follow_logs = True

        start = time.perf_counter()
        app = DroveApp(engine, freeze_gc=True)  # as run_app does
        paints = Paints(app)
        actions = Actions(app)
        async with app.run_test(size=SIZE) as pilot:
            first = await paints.until(
                lambda: (
                    bool(app.screen.query(RowTable))
                    and len(app.screen.query_one(RowTable).order) == args.tasks
                )
            )
            results["first_paint_s"] = first - start
            results["rows"] = len(app.screen.query_one(RowTable).order)

            feeder = asyncio.create_task(feed_changes(engine, tasks, args.changes))
            try:
                scroll: list[float] = []
                for i in range(args.presses):
                    key = "pagedown" if i % 10 == 9 else "down"
                    scroll.append(await bound_key(app, paints, actions, key))
                results["scroll"] = scroll
                print("scroll", summary(scroll), file=sys.stderr)

                filtering: list[float] = []
                query = "state:run host:host1"
                for _ in range(max(args.presses // 20, 1)):
                    await bound_key(app, paints, actions, "slash")
                    typed = ""
                    for char in query:
                        typed += char
                        key = "space" if char == " " else char
                        filtering.append(await typed_key(app, paints, key, typed))
                    for _ in range(6):
                        typed = typed[:-1]
                        filtering.append(await typed_key(app, paints, "backspace", typed))
                    await pilot.press("escape", "escape")
                results["filter"] = filtering
                print("filter", summary(filtering), file=sys.stderr)
                results["flushes"] = paints.count
            finally:
                feeder.cancel()

            app.push_screen(LogsScreen("app0/task-00000", tail=None))
            await pilot.pause(0.2)
            await pilot.press("slash", *"item 5", "enter")
            flood = asyncio.create_task(flood_logs(engine, args.log_rate, args.flood_seconds))
            log_keys: list[float] = []
            keys = ["up", "up", "down", "pageup", "end", "n", "N", "w", "w"]
            i = 0
            while not flood.done():
                log_keys.append(await bound_key(app, paints, actions, keys[i % len(keys)]))
                i += 1
                await asyncio.sleep(0.05)
            results["log_lines_sent"] = flood.result()
            results["log_keys"] = log_keys
            results["log_buffer"] = len(app.screen.query_one(LogView).lines)
            print("logs", summary(log_keys), file=sys.stderr)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["load_after"] = os.getloadavg()[0]
    return results


def report(args: argparse.Namespace, r: dict[str, Any]) -> str:
    def ok(good: bool) -> str:
        return "met" if good else "MISSED"

    lines = [
        "# Terminal app benchmark",
        "",
        f"`{' '.join(sys.argv)}` on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"Python {sys.version.split()[0]}, headless Textual at {SIZE[0]}x{SIZE[1]}, "
        f"{os.cpu_count()} cores, load average {r['load_before']:.1f} before and "
        f"{r['load_after']:.1f} after (other work on the machine inflates wall-clock figures).",
        "",
        f"- {args.tasks} tasks in a real SQLite store (filled in {r['store_fill_s']:.1f} s, "
        "not counted); the feeder publishes "
        f"{args.changes} task changes a second during the key presses.",
        "",
        "| measure | result | goal | |",
        "|---|---|---|---|",
        f"| first full paint ({r['rows']} rows) | {r['first_paint_s'] * 1000:.0f} ms "
        f"| < 1500 ms | {ok(r['first_paint_s'] < 1.5)} |",
        f"| key to repaint, scrolling | {summary(r['scroll'])} | p99 < 100 ms "
        f"| {ok(p99(r['scroll']) < 100)} |",
        f"| key to repaint, typing a filter | {summary(r['filter'])} | p99 < 100 ms "
        f"| {ok(p99(r['filter']) < 100)} |",
        f"| key to repaint in logs, {args.log_rate} lines/s for {args.flood_seconds:g} s "
        f"({r['log_lines_sent']} lines, {r['log_buffer']} kept) | {summary(r['log_keys'])} "
        f"| p99 < 150 ms | {ok(p99(r['log_keys']) < 150)} |",
        f"| peak RSS | {r['peak_rss_mb']:.0f} MB | < 300 MB | {ok(r['peak_rss_mb'] < 300)} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=500, help="task changes per second")
    parser.add_argument("--presses", type=int, default=200, help="scrolling key presses")
    parser.add_argument("--log-rate", type=int, default=10_000, help="log lines per second")
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    text = report(args, results)
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
