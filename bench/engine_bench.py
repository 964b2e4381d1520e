"""Engine benchmark: tasks through drove-tui's engine beside the same `docker run`s over ssh.

Brings up a sandbox of its own (8 hosts on 127.0.8.x, registry 5008, /var/tmp/sb-engine-bench)
and writes bench/results/engine.md. Sandbox hosts share this machine's cores, so the
inventory over-provisions (cpu_multiplier 20, memory_multiplier 20) to hold 200 tasks.

    .venv/bin/python bench/engine_bench.py [--tasks 200] [--concurrency 16]

(a) one task end to end (submit -> STOPPED, engine warm) vs `ssh host docker run --rm IMAGE`;
(b) N short tasks through the engine, `concurrency` in flight, vs N `ssh host docker run --rm`
    with the same concurrency, round robin over the hosts;
(c) drove-tui's own CPU (process time / wall time) while N long tasks run.
The ssh baseline uses the key exchange asyncssh negotiates (curve25519-sha256), as the probe
benchmark does, so that both sides pay the same crypto.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from drove_tui.engine.engine import Engine  # noqa: E402
from drove_tui.loaders.inventory_file import load_inventory  # noqa: E402
from drove_tui.models.inventory import Inventory  # noqa: E402
from drove_tui.models.spec import TaskSpec  # noqa: E402

SANDBOX = {
    "DROVE_SANDBOX_DIR": "/var/tmp/sb-engine-bench",
    "DROVE_SANDBOX_SUBNET": "127.0.8",
    "DROVE_SANDBOX_REGISTRY_PORT": "5008",
}
HOSTS = 8
DIR = Path(SANDBOX["DROVE_SANDBOX_DIR"])
IMAGE = f"127.0.0.1:{SANDBOX['DROVE_SANDBOX_REGISTRY_PORT']}/busybox:latest"
KEX = "curve25519-sha256"


def sandbox_up() -> None:
    env = {**os.environ, **SANDBOX}
    subprocess.run(
        [sys.executable, str(REPO / "scripts/sandbox"), "up", str(HOSTS)], env=env, check=True
    )


def inventory() -> Inventory:
    inv = load_inventory(DIR / "inventory.yaml", ssh_config=DIR / "ssh_config")
    hosts = [
        h.model_copy(update={"cpu_multiplier": 20, "memory_multiplier": 20, "max_channels": 10})
        for h in inv.hosts
    ]
    settings = inv.settings.model_copy(update={"probe_interval_s": 10, "placement": "spread"})
    return inv.model_copy(update={"hosts": hosts, "settings": settings})


def task(name: str, args: list[str]) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "sourceAppName": "bench",
            "taskId": name,
            "executable": {"type": "DOCKER", "url": IMAGE},
            "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 16}],
            "args": args,
        }
    )


def ssh_run(host: str) -> None:
    cmd = ["ssh", "-F", str(DIR / "ssh_config"), "-o", f"KexAlgorithms={KEX}", host]
    subprocess.run([*cmd, "docker", "run", "--rm", IMAGE, "true"], check=True, capture_output=True)


async def ssh_many(count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await asyncio.to_thread(ssh_run, f"host{i % HOSTS + 1}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - start


async def engine_many(engine: Engine, prefix: str, count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await engine.submit(task(f"{prefix}{i}", ["true"]))
            done = await engine.wait("bench", f"{prefix}{i}")
            assert done.result is not None and done.result.exit_code == 0, done

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - start


async def main(count: int, concurrency: int, rounds: int) -> str:
    state = Path(f"/var/tmp/engine-bench-{os.getpid()}.db")
    lines = []
    async with Engine.open(inventory(), state) as engine:
        await engine.probe()
        await engine_many(engine, "warm", HOSTS, HOSTS)  # connections and images warm
        ssh_run("host1")
        one_engine = [await engine_many(engine, f"a{r}-", 1, 1) for r in range(rounds)]
        one_ssh = [await ssh_many(1, 1) for _ in range(rounds)]
        many_engine = await engine_many(engine, "b", count, concurrency)
        many_ssh = await ssh_many(count, concurrency)
        for i in range(count):
            await engine.submit(task(f"c{i}", ["sleep", "600"]))
        while True:  # all long tasks up (a benchmark may poll its own store)
            if sum(r.state == "RUNNING" for r in engine.list(app="bench")) >= count:
                break
            await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(30)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        for i in range(count):
            await engine.kill("bench", f"c{i}")
        for i in range(count):
            await engine.wait("bench", f"c{i}")
    a_engine, a_ssh = statistics.median(one_engine), statistics.median(one_ssh)
    lines.append("# Engine benchmark (bench/engine_bench.py)\n")
    lines.append(
        f"8 sandbox hosts on one 2-core machine; {count} tasks, {concurrency} at once; "
        f"ssh baseline with {KEX}; medians of {rounds} rounds for (a).\n"
    )
    lines.append("| case | drove-tui | baseline | ratio | goal |")
    lines.append("|---|---|---|---|---|")
    lines.append(
        f"| (a) one task end to end | {a_engine:.2f} s | {a_ssh:.2f} s "
        f"(`ssh host docker run --rm`) | {a_engine / a_ssh:.2f}x | within 1.3x |"
    )
    lines.append(
        f"| (b) {count} short tasks, {concurrency} at a time | {many_engine:.1f} s | "
        f"{many_ssh:.1f} s (parallel ssh docker run) | {many_engine / many_ssh:.2f}x "
        "| within 1.25x |"
    )
    lines.append(
        f"| (c) drove-tui CPU while {count} long tasks run (30 s) | {cpu * 100:.2f} % of one core "
        f"| | | under 3 % |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sandbox_up()
    page = asyncio.run(main(args.tasks, args.concurrency, args.rounds))
    (REPO / "bench/results/engine.md").write_text(page)
    print(page)
