#!/usr/bin/env python3
"""Headless drove-tui against its peers on the sandbox (issue #7), wall-clock, cold processes.

(a) one trivial task: `drove-tui --run` (process start included) vs
    `ssh host docker run --rm IMAGE true`;
(b) one trivial task on each of N hosts: `drove-tui --run --fan-out all` vs N plain
    `ssh host docker run --rm IMAGE true` in parallel vs
    `ansible all -f N -m shell -a 'docker run --rm IMAGE true'`.

drove-tui is measured twice: as people run it (the warm server of docs/cli.md#warm-server,
started by the warm-up run, as Ansible's ControlPersist master is by its warm-up run) and
with DROVE_TUI_WARM=0 (every run a cold process that connects and probes by itself).

Goals: (a) within 1.5x of ssh; (b) within 1.2x of parallel ssh and 3x faster than Ansible.
The (b) contenders run side by side, one of each per round in a rotating order, and their
ratios are medians of the ratios within each round (this machine's speed drifts).

    DROVE_SANDBOX_DIR=/var/tmp/sb-runbench DROVE_SANDBOX_SUBNET=127.0.10 \\
    DROVE_SANDBOX_REGISTRY_PORT=5010 .venv/bin/python bench/run_bench.py --hosts 8

Ansible comes from its own virtualenv (--ansible, default /var/tmp/ansible-venv/bin/ansible;
`python3 -m venv /var/tmp/ansible-venv && /var/tmp/ansible-venv/bin/pip install ansible-core`),
never from the project's dependencies. Results go to bench/results/run.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "DROVE_SANDBOX_DIR": "/var/tmp/sb-runbench",
    "DROVE_SANDBOX_SUBNET": "127.0.10",
    "DROVE_SANDBOX_REGISTRY_PORT": "5010",
}


def sandbox_up(hosts: int) -> tuple[Path, str]:
    """Bring the bench sandbox to `hosts` hosts; return its directory and image."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sandbox"), "up", str(hosts)],
        check=True,
        capture_output=True,
    )
    root = Path(os.environ["DROVE_SANDBOX_DIR"])
    state = json.loads((root / "state.json").read_text())
    return root, str(state["image"])


def timed(argv: list[str] | list[list[str]], env: dict[str, str] | None = None) -> float:
    """Seconds for one command (or several started together) to finish; all must exit 0...
    except drove-tui and ansible runs that report failures, which are errors here too."""
    batch = argv if argv and isinstance(argv[0], list) else [argv]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        for cmd in batch  # type: ignore[union-attr]
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"{proc.args} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return time.perf_counter() - started


def series(name: str, once: Callable[[], float], repeat: int) -> dict[str, float | str]:
    """One warm-up (image cache, known_hosts, pyc), then `repeat` measured runs."""
    once()
    runs = [once() for _ in range(repeat)]
    print(f"{name}: median {statistics.median(runs):.3f}s  runs {[round(r, 3) for r in runs]}")
    return {"name": name, "median": statistics.median(runs), "min": min(runs), "max": max(runs)}


def side_by_side(
    contenders: dict[str, tuple[str, Callable[[], float]]], repeat: int
) -> dict[str, dict[str, float | str]]:
    """Each contender once per round, in an order that rotates from round to round, after
    one warm-up each: a machine whose speed drifts (other load, a VM's neighbours) then
    weighs on all of them alike. Each result also keeps its per-round times, so ratios can
    be taken round by round."""
    for _, once in contenders.values():
        once()
    keys = list(contenders)
    runs: dict[str, list[float]] = {key: [] for key in keys}
    for i in range(repeat):
        shift = i % len(keys)
        for key in keys[shift:] + keys[:shift]:
            runs[key].append(contenders[key][1]())
    out: dict[str, dict[str, float | str]] = {}
    for key, times in runs.items():
        name = contenders[key][0]
        shown = [round(t, 3) for t in times]
        print(f"{name}: median {statistics.median(times):.3f}s  runs {shown}")
        out[key] = {
            "name": name,
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            **{f"run{i}": t for i, t in enumerate(times)},
        }
    return out


def round_ratios(results: dict[str, dict[str, float | str]], num: str, den: str) -> list[float]:
    """num's time / den's time in each round."""
    a, b = results[num], results[den]
    return [float(a[k]) / float(b[k]) for k in a if k.startswith("run") and k in b]


def per_round(results: dict[str, dict[str, float | str]], num: str, den: str) -> float:
    """The median over rounds of num's time / den's time, taken in the same round."""
    return statistics.median(round_ratios(results, num, den))


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free interval for the median, and how sure it is: the r-th smallest
    and r-th largest value, r the largest with P(Binomial(n, 1/2) <= r - 1) <= (1 -
    confidence) / 2 (the sign test), covering the median with probability 1 - 2 P(B <= r -
    1). With too few values for `confidence` (n <= 5 at 95%): the smallest and largest, and
    their lower coverage."""
    xs = sorted(values)
    n = len(xs)
    tail = (1 - confidence) / 2
    r, below = 0, 0.0  # below = P(X <= r - 1)
    while r < n // 2:
        through = below + math.comb(n, r) / 2**n  # P(X <= r)
        if through > tail:
            break
        below, r = through, r + 1
    if r == 0:
        return xs[0], xs[-1], 1 - 2 / 2**n
    return xs[r - 1], xs[n - r], 1 - 2 * below


def phases(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Where one `--run --json` spends its time: seconds from process start until each
    state line arrives, and until the process has exited (closing included)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event.get("event") == "state":
            seen.setdefault(event["state"], time.perf_counter() - started)
    proc.wait()
    seen["exited"] = time.perf_counter() - started
    return seen


def trivial_spec(directory: Path, image: str) -> Path:
    """A fresh task id per run: Drove refuses a second CREATE of the same (app, task)."""
    path = directory / f"spec-{uuid.uuid4().hex[:8]}.json"
    path.write_text(
        json.dumps(
            {
                "sourceAppName": "bench",
                "taskId": f"t{uuid.uuid4().hex[:10]}",
                "executable": {"type": "DOCKER", "url": image, "dockerPullTimeout": "100 seconds"},
                "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}],
                "args": ["true"],
            }
        )
    )
    return path


def product_inventory(root: Path, directory: Path) -> Path:
    """The sandbox inventory with drove-tui's default settings: the sandbox probes every 2 s
    so that the test suite sees failures fast; people run with the default (10 s), and
    probes cost each host work the baselines never pay (a listing on docker's socket, and
    every sixth probe a script with two or three docker calls)."""
    text = (root / "inventory.yaml").read_text()
    path = directory / "inventory.yaml"
    path.write_text(
        "\n".join(line for line in text.splitlines() if "probe_interval_s" not in line) + "\n"
    )
    return path


def ansible_inventory(root: Path, hosts: list[str], directory: Path) -> Path:
    """INI inventory reusing the sandbox's ssh_config (addresses, key, known_hosts)."""
    path = directory / "ansible.ini"
    lines = [
        "[all]",
        *hosts,
        "",
        "[all:vars]",
        "ansible_user=drove",
        f"ansible_ssh_common_args='-F {root / 'ssh_config'}'",
        "ansible_python_interpreter=/usr/bin/python3",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ansible", default="/var/tmp/ansible-venv/bin/ansible")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "run.md")
    args = parser.parse_args()

    root, image = sandbox_up(args.hosts)
    load_before = os.getloadavg()
    hosts = [f"host{i}" for i in range(1, args.hosts + 1)]
    ssh = ["ssh", "-F", str(root / "ssh_config")]
    drove = [str(REPO / ".venv" / "bin" / "drove-tui")]
    work = Path(tempfile.mkdtemp(prefix="run-bench-"))
    state = work / "state.db"
    common = ["-i", str(product_inventory(root, work)), "--state", str(state)]
    env = {**os.environ, "NO_COLOR": "1", "ANSIBLE_HOST_KEY_CHECKING": "False"}
    runtime = work / "runtime"
    runtime.mkdir(mode=0o700)
    warm = {**env, "DROVE_TUI_WARM": "600", "XDG_RUNTIME_DIR": str(runtime)}
    cold = {**env, "DROVE_TUI_WARM": "0"}
    results: dict[str, dict[str, float | str]] = {}

    def docker_run(host: str) -> list[str]:
        return [*ssh, host, "docker", "run", "--rm", image, "true"]

    results["ssh1"] = series("a. ssh docker run", lambda: timed(docker_run(hosts[0])), args.repeat)
    results["drove1"] = series(
        "a. drove-tui --run (warm server)",
        lambda: timed([*drove, "--run", str(trivial_spec(work, image)), *common], warm),
        args.repeat,
    )
    results["drove1cold"] = series(
        "a. drove-tui --run, DROVE_TUI_WARM=0 (cold process)",
        lambda: timed([*drove, "--run", str(trivial_spec(work, image)), *common], cold),
        args.repeat,
    )
    fan_out = ["--fan-out", "all", *common]
    # The floor: the same docker work over ssh connections that are already up (one
    # ControlMaster per host), which no tool that reaches hosts over ssh can beat.
    mux = [*ssh, "-o", "ControlMaster=auto", "-o", f"ControlPath={work / 'cm-%h'}"]
    mux += ["-o", "ControlPersist=600"]
    for host in hosts:
        subprocess.run([*mux, host, "true"], check=True, capture_output=True)
    contenders: dict[str, tuple[str, Callable[[], float]]] = {
        "sshN": (
            f"b. {args.hosts} x ssh docker run, parallel",
            lambda: timed([docker_run(h) for h in hosts]),
        ),
        "floorN": (
            f"b. {args.hosts} x ssh docker run, parallel, connections already up (the floor)",
            lambda: timed([[*mux, h, "docker", "run", "--rm", image, "true"] for h in hosts]),
        ),
        "droveN": (
            f"b. drove-tui --run --fan-out all ({args.hosts} hosts, warm server)",
            lambda: timed([*drove, "--run", str(trivial_spec(work, image)), *fan_out], warm),
        ),
    }
    if shutil.which(args.ansible) or Path(args.ansible).exists():
        inventory = ansible_inventory(root, hosts, work)
        ansible = [args.ansible, "all", "-i", str(inventory), "-f", str(args.hosts)]
        shell = ["-m", "shell", "-a", f"docker run --rm {image} true"]
        contenders["ansibleN"] = (
            f"b. ansible all -f {args.hosts} -m shell",
            lambda: timed([*ansible, *shell], env),
        )
    rounds = side_by_side(contenders, args.repeat)
    results.update(rounds)
    results["droveNcold"] = series(
        f"b. drove-tui --run --fan-out all ({args.hosts} hosts, DROVE_TUI_WARM=0)",
        lambda: timed([*drove, "--run", str(trivial_spec(work, image)), *fan_out], cold),
        args.repeat,
    )
    steps = ["PENDING", "PROVISIONING", "STARTING", "RUNNING", "RUN_COMPLETED", "STOPPED", "exited"]
    timelines = {}
    for name, environ in (("warm server", warm), ("DROVE_TUI_WARM=0", cold)):
        split = [
            phases([*drove, "--run", str(trivial_spec(work, image)), "--json", *common], environ)
            for _ in range(args.repeat)
        ]
        timelines[name] = {
            k: statistics.median(run.get(k, float("nan")) for run in split) for k in steps
        }
        print(f"a. --run timeline ({name}):", {k: round(v, 3) for k, v in timelines[name].items()})
    stop_servers(runtime)
    for host in hosts:
        subprocess.run([*mux, "-O", "exit", host], check=False, capture_output=True)
    imports = series(
        "drove-tui import cost (engine + loaders)",
        lambda: timed(
            [
                sys.executable,
                "-c",
                "import drove_tui.engine.engine, drove_tui.loaders.spec_file, "
                "drove_tui.loaders.inventory_file, drove_tui.commands.run",
            ]
        ),
        args.repeat,
    )
    help_time = series("drove-tui --help", lambda: timed([*drove, "--help"]), args.repeat)
    write_report(args, results, imports, help_time, timelines, load_before)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def stop_servers(runtime: Path) -> None:
    """SIGTERM the warm servers the bench started (each keeps its pid in its lock file)."""
    for lock in (runtime / "drove-tui").glob("*.lock"):
        pid = lock.read_text().strip()
        if pid and Path(f"/proc/{pid}").exists():
            os.kill(int(pid), 15)


def write_report(
    args: argparse.Namespace,
    results: dict[str, dict[str, float | str]],
    imports: dict[str, float | str],
    help_time: dict[str, float | str],
    timelines: dict[str, dict[str, float]],
    load_before: tuple[float, float, float],
) -> None:
    """bench/results/run.md: the table, the ratios against the goals, the machine."""

    def med(key: str) -> float:
        return float(results[key]["median"])

    rows = [
        f"| {r['name']} | {float(r['median']):.3f} | {float(r['min']):.3f} | "
        f"{float(r['max']):.3f} |"
        for r in [*results.values(), imports, help_time]
    ]
    ratio_a = med("drove1") / med("ssh1")
    ratio_b = per_round(results, "droveN", "sshN")
    cold_a = med("drove1cold") / med("ssh1")
    cold_b = med("droveNcold") / med("sshN")
    lines = [
        "# Headless run benchmark (issue #7)",
        "",
        f"`bench/run_bench.py --hosts {args.hosts} --repeat {args.repeat}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}. "
        "Sandbox hosts are sshd + dockerd pairs on loopback addresses of this one machine. "
        "Every figure is wall-clock of a fresh process, median of the runs after one warm-up. "
        "Plain ssh has no ControlMaster; Ansible runs with its default ControlPersist and "
        "drove-tui with its default warm server (docs/cli.md#warm-server), each kept from "
        "the warm-up run, as people use them; `DROVE_TUI_WARM=0` rows are drove-tui with "
        "every run a cold process that connects and probes by itself. drove-tui uses the "
        "sandbox inventory with its default settings (the sandbox's own probes every 2 s "
        "for the test suite; the default is 10 s). The (b) contenders run side by side: "
        "one of each per round, the order rotating, and their ratios are the medians of "
        "the ratios within each round.",
        "",
        "| command | median s | min s | max s |",
        "|---|---|---|---|",
        *rows,
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        f"| (a) drove-tui --run within 1.5x of ssh docker run | {ratio_a:.2f}x | "
        f"{'yes' if ratio_a <= 1.5 else 'no'} |",
        f"| (a) the same, DROVE_TUI_WARM=0 | {cold_a:.2f}x | {'yes' if cold_a <= 1.5 else 'no'} |",
        f"| (b) fan-out within 1.2x of parallel ssh | {ratio_b:.2f}x | "
        f"{'yes' if ratio_b <= 1.2 else 'no'} |",
        f"| (b) the same, DROVE_TUI_WARM=0 | {cold_b:.2f}x | {'yes' if cold_b <= 1.2 else 'no'} |",
    ]
    floor_b = per_round(results, "droveN", "floorN")
    lines.append(f"| (b) fan-out against the floor (no goal) | {floor_b:.2f}x | - |")
    if "ansibleN" in results:
        ceiling = per_round(results, "ansibleN", "floorN")
        lines.append(
            f"| (b) the floor against Ansible: what no ssh tool can beat here (no goal) | "
            f"{ceiling:.2f}x faster | - |"
        )
        speedup = per_round(results, "ansibleN", "droveN")
        rounds = round_ratios(results, "ansibleN", "droveN")
        low, high, sure = median_interval(rounds)
        verdict = "yes" if low >= 3 and sure >= 0.95 else "no" if high < 3 else "not clearly"
        cold_speedup = med("ansibleN") / med("droveNcold")
        lines.append(
            f"| (b) fan-out at least 3x faster than Ansible | {speedup:.2f}x faster "
            f"({sure:.1%} interval of the median, {len(rounds)} rounds: {low:.2f}x to "
            f"{high:.2f}x; "
            f"{sum(r < 3 for r in rounds)} rounds below 3x) | {verdict} |"
        )
        lines.append(
            f"| (b) the same, DROVE_TUI_WARM=0 | {cold_speedup:.2f}x faster | "
            f"{'yes' if cold_speedup >= 3 else 'no'} |"
        )
    load_after = os.getloadavg()
    lines += [
        "",
        "Timeline of one `drove-tui --run --json` (median seconds from process start until the "
        "state line arrived; `exited` = the process has exited, closing included):",
        "",
        "| run | " + " | ".join(next(iter(timelines.values()))) + " |",
        "|---|" + "---|" * len(next(iter(timelines.values()))),
        *(
            f"| {name} | " + " | ".join(f"{v:.2f}" for v in timeline.values()) + " |"
            for name, timeline in timelines.items()
        ),
        "",
        f"Load average (1 min) before: {load_before[0]:.1f}, after: {load_after[0]:.1f} "
        f"on {os.cpu_count()} cores; figures taken on a busy machine are upper bounds.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = args.out.read_text() if args.out.exists() else ""
    notes = (
        previous[previous.index("## Where the time goes") :]
        if "## Where the time goes" in previous
        else ""
    )
    args.out.write_text("\n".join(lines) + "\n\n" + notes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
