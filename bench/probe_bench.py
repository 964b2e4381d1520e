"""Probe benchmark: drove-tui's one-round-trip probe of 8 and 32 hosts, beside the same probe
script run by parallel plain `ssh` and by Ansible ad-hoc (`-m shell`, forks = hosts).

It brings up a sandbox of its own (127.0.9.x, 32 sshd sharing 4 dockerds) so that it disturbs
nobody, and writes bench/results/probe.md. Ansible comes from a separate virtualenv
(/var/tmp/ansible-venv, `pip install ansible-core`), never from the project's.

    .venv/bin/python bench/probe_bench.py [--rounds 5] [--sizes 8,32]

What is timed, for N hosts, wall clock from start to every host's answer:
- drove-tui cold: a new Cluster (fresh SSH connections, key exchange included) probes all N.
- drove-tui warm: the same Cluster probes again over its open connections (what the monitor
  does every interval).
- plain ssh: N `ssh` processes started at once, each running the probe script once (with
  OpenSSH's default key exchange, and again with the one asyncssh negotiates).
- ansible: `ansible all -m shell -a SCRIPT -f N` over the same hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from drove_tui.cluster.pool import Cluster  # noqa: E402
from drove_tui.cluster.probe import PROBE_SCRIPT, probe, probe_command  # noqa: E402
from drove_tui.loaders.inventory_file import load_inventory  # noqa: E402
from drove_tui.models.inventory import HostConfig  # noqa: E402

SANDBOX_ENV = {
    "DROVE_SANDBOX_DIR": "/var/tmp/sb-bench",
    "DROVE_SANDBOX_SUBNET": "127.0.9",
    "DROVE_SANDBOX_REGISTRY_PORT": "5009",
}
SANDBOX_DIR = Path(SANDBOX_ENV["DROVE_SANDBOX_DIR"])
ANSIBLE = Path("/var/tmp/ansible-venv/bin/ansible")
RESULTS = REPO / "bench" / "results" / "probe.md"
RAW = REPO / "bench" / "results" / "probe.json"  # every round's time, to re-derive the page


def sandbox(*args: str) -> None:
    """Run scripts/sandbox against the bench's own sandbox."""
    env = {**os.environ, **SANDBOX_ENV}
    subprocess.run([sys.executable, str(REPO / "scripts" / "sandbox"), *args], env=env, check=True)


def hosts_of(n: int) -> list[HostConfig]:
    """The first n hosts of the bench sandbox's inventory."""
    hosts = load_inventory(SANDBOX_DIR / "inventory.yaml").hosts
    return sorted(hosts, key=lambda h: int(h.name.removeprefix("host")))[:n]


async def drove_cold(hosts: list[HostConfig]) -> float:
    """Fresh connections, then one probe per host, all at once."""
    start = time.perf_counter()
    async with Cluster(hosts, handshakes=64, user_known_hosts=Path("/nonexistent")) as cluster:
        facts = await asyncio.gather(*(probe(cluster.transport(h), h, timeout=60) for h in hosts))
        elapsed = time.perf_counter() - start
    assert all(f.docker_version for f in facts), "a host's docker did not answer"
    return elapsed


async def drove_warm(hosts: list[HostConfig]) -> float:
    """One probe per host over connections already open (the monitor's steady state)."""
    async with Cluster(hosts, handshakes=64, user_known_hosts=Path("/nonexistent")) as cluster:
        await asyncio.gather(*(probe(cluster.transport(h), h, timeout=60) for h in hosts))
        start = time.perf_counter()
        facts = await asyncio.gather(*(probe(cluster.transport(h), h, timeout=60) for h in hosts))
        elapsed = time.perf_counter() - start
    assert all(f.docker_version for f in facts), "a host's docker did not answer"
    return elapsed


async def plain_ssh(hosts: list[HostConfig], *options: str) -> float:
    """N OpenSSH clients at once, each running the same probe line."""
    config = str(SANDBOX_DIR / "ssh_config")
    line = probe_command(hosts[0]).line()  # the same script and docker prefix everywhere
    start = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(
            "ssh", "-F", config, *options, h.name, line,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        for h in hosts
    ]  # fmt: skip
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    elapsed = time.perf_counter() - start
    assert all(b"@@end" in out for out, _ in outputs), "a plain ssh probe failed"
    return elapsed


async def plain_ssh_same_kex(hosts: list[HostConfig]) -> float:
    """Plain ssh with the key exchange asyncssh negotiates with this sshd (curve25519).

    OpenSSH 9.2 prefers sntrup761x25519, which costs several times more CPU per handshake;
    asyncssh has no sntrup here and picks curve25519-sha256. Same kex = a like-for-like figure.
    """
    return await plain_ssh(hosts, "-o", "KexAlgorithms=curve25519-sha256")


def ansible_inventory(hosts: list[HostConfig]) -> Path:
    """An Ansible INI inventory of the same hosts, with the same key and known_hosts."""
    path = SANDBOX_DIR / f"ansible-{len(hosts)}.ini"
    lines = ["[bench]"]
    for h in hosts:
        lines.append(
            f"{h.name} ansible_host={h.address} ansible_port={h.port} ansible_user={h.user} "
            f"ansible_ssh_private_key_file={h.identity_file}"
        )
    known = SANDBOX_DIR / "known_hosts"
    lines += [
        "[bench:vars]",
        "ansible_python_interpreter=/usr/bin/python3",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes'",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def ansible(hosts: list[HostConfig]) -> float:
    """`ansible all -m shell` with forks = number of hosts."""
    inventory = ansible_inventory(hosts)
    # {% raw %}: the docker --format templates must reach the host, not Ansible's Jinja.
    # (Inside the quotes: ad-hoc arguments that start with "{" are read as JSON.)
    raw = "{% raw %}" + PROBE_SCRIPT + "{% endraw %}"
    script = f"sh -c {shlex.quote(raw)} sh docker"
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1"}
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(ANSIBLE), "all", "-i", str(inventory), "-m", "shell", "-a", script,
        "-f", str(len(hosts)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await proc.communicate()
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, (out + err).decode()[-2000:]
    assert out.count(b"@@end") == len(hosts), out.decode()[-2000:]
    return elapsed


Runner = Callable[[list[HostConfig]], Awaitable[float]]


def measure(runner: Runner, hosts: list[HostConfig], rounds: int) -> list[float]:
    """`rounds` timings of runner (after one untimed warm-up round)."""
    asyncio.run(runner(hosts))
    return [asyncio.run(runner(hosts)) for _ in range(rounds)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="8,32")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sandbox("up", str(max(sizes)), "--shared-docker", "4")
    runners: dict[str, Runner] = {
        "drove-tui cold": drove_cold,
        "drove-tui warm": drove_warm,
        "plain ssh": plain_ssh,
        "plain ssh curve25519": plain_ssh_same_kex,
    }
    if ANSIBLE.exists():
        runners["ansible"] = ansible
    else:
        print(f"{ANSIBLE} missing: skipping Ansible", file=sys.stderr)
    table: dict[int, dict[str, list[float]]] = {}
    for n in sizes:
        hosts = hosts_of(n)
        table[n] = {}
        for name, runner in runners.items():
            table[n][name] = measure(runner, hosts, args.rounds)
            median = statistics.median(table[n][name])
            print(f"{n:3d} hosts  {name:15s} median {median:.3f} s", flush=True)
    RESULTS.write_text(report(table, args.rounds))
    RAW.write_text(json.dumps({str(n): runs for n, runs in table.items()}, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


def report(table: dict[int, dict[str, list[float]]], rounds: int) -> str:
    """The results page: medians, ranges and the two ratios the issue sets goals for."""
    out = [
        "# Probe benchmark",
        "",
        f"`bench/probe_bench.py`, {rounds} timed rounds after one warm-up, median (min-max) "
        "wall-clock seconds to probe every host once. Sandbox: N sshd on 127.0.9.x sharing "
        f"4 dockerds, on one machine with {os.cpu_count()} cores ({time.strftime('%Y-%m-%d')}).",
        "",
        "| hosts | runner | median s | min-max s |",
        "|---|---|---|---|",
    ]
    for n, runs in table.items():
        for name, times in runs.items():
            med = statistics.median(times)
            out.append(f"| {n} | {name} | {med:.3f} | {min(times):.3f}-{max(times):.3f} |")
    out += [
        "",
        "Ratios of medians. Goals: drove-tui within 1.2x of parallel plain ssh (ratio <= 1.2),",
        "Ansible at least 5x slower than drove-tui. The curve25519 column is like-for-like",
        "(the key exchange asyncssh negotiates with this sshd; see bench/README.md).",
        "",
        "| hosts | cold / plain ssh | cold / plain ssh curve25519 | warm / plain ssh curve25519 "
        "| ansible / cold |",
        "|---|---|---|---|---|",
    ]
    for n, runs in table.items():
        med = {name: statistics.median(times) for name, times in runs.items()}
        cold, warm, same_kex = (
            med["drove-tui cold"],
            med["drove-tui warm"],
            med["plain ssh curve25519"],
        )
        ans = f"{med['ansible'] / cold:.1f}" if "ansible" in med else "-"
        out.append(
            f"| {n} | {cold / med['plain ssh']:.2f} | {cold / same_kex:.2f} | "
            f"{warm / same_kex:.2f} | {ans} |"
        )
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
