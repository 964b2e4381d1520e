"""The docker command lines of a task's life, all built through `Command` (quoted part by part).

Few docker calls per task: the pull is skipped when the image is present; the host lock, the
capacity re-check and `docker run` (attached, or `--detach`: create and start in one docker
call) are one script; the removal (after a log capture when the output was not all seen) is
another. Secrets never reach a command line: the environment goes through
`--env-file /dev/stdin`.
"""

from __future__ import annotations

from typing import Literal

from drove_tui.cluster.command import Command
from drove_tui.models.inventory import HostConfig
from drove_tui.models.task import TaskRecord

MANAGED_LABEL = "drove.managed=1"
CreateMode = Literal["create", "detach", "attach", "reserve"]

# Exit statuses of CREATE_SCRIPT that are not docker's own.
LOCK_TIMEOUT = 75  # another process held the host lock too long
NO_ROOM = 76  # the live containers on the host leave no room for this allocation
ALREADY_EXISTS = 77  # the deterministic name is taken: this task's container exists already
START_FAILED = 78  # created, but it did not start (stderr: docker's text)

# Where a docker endpoint's creates meet, for every drove-tui process (other stores and users
# too): its lock, and its reservations (`NAME cores numa memory r TIME`, TIME by the host's
# clock, one file per container, written under the lock by each create and removed with the
# container, or by the attached run once its container exited). Both are named after
# DOCKER_HOST and the docker command, every character but letters, digits, `.` and `-` made
# `_` (by the shell alone: no process). $d is set before.
HOST_PATHS = """_k="${DOCKER_HOST:-default} $d"; key=
while [ -n "$_k" ]; do
  _r=${_k#?}; _c=${_k%"$_r"}; _k=$_r
  case $_c in [A-Za-z0-9.-]) key=$key$_c ;; *) key=${key}_ ;; esac
done
[ ${#key} -le 200 ] || key=$(printf %s "$key" | cksum | cut -d ' ' -f 1)
lock="/tmp/drove-tui-$key.lock"
resv="/tmp/drove-tui-$key.d"
"""

# $1 docker prefix (word-split on purpose: "sudo docker"), $2 image.
PULL_SCRIPT = """d=$1; img=$2
$d image inspect --format . "$img" >/dev/null 2>&1 && exit 0
exec $d pull "$img"
"""

# Serialise creates per docker endpoint: hold flock on a descriptor of this shell (not `flock
# FILE CMD`, whose child can outlive a killed parent with the lock held), check the chosen
# cores and memory against every allocation on the host, reserve them, create.
#
# The census is every managed container on the host plus the reservations younger than two
# minutes or made after the engine's listing: creates in flight, run attached after the lock
# was let go, whose container docker may not list yet. The containers are the engine's own
# view when it sends one (its last probe's listing, less what it removed since: see
# Capacity.census), else what `docker ps` lists now (the labels are the truth). A
# reservation that no longer counts and whose container is gone is dropped (its remover was
# killed) by the next create that finds room.
#
# $1 prefix $2 name $3 cores "0,1" $4 numa $5 memory MB $6 cpu multiplier $7 node memory MB
# $8 lock wait s $9 mode; $10 marker tag; $11 the containers (Capacity.census), or "-" to
# ask docker; then the `docker create` arguments. Modes:
# - create: only create (configs are copied in before the start);
# - detach: `docker run --detach`, create and start in one docker call;
# - attach: `docker run` attached (see below), its output streaming through this channel.
# - reserve: only the reservation; the engine runs the container through docker's API
#   (engine/api_run.py). The script says `reserved`, lets the lock go and waits for a line
#   on stdin: `ended` (the container exited, was never made or will not start) drops it;
#   anything else, or the end of stdin, keeps it (it ages out).
CREATE_SCRIPT = (
    """d=$1; name=$2; want=$3; numa=$4; mem=$5; mult=$6; cap=$7; wait=$8; mode=$9
shift 9; tag=$1; known=$2; shift 2
say() { case $mode in attach|reserve) printf '%s %s\\n' "$tag" "$*" >&2 ;; esac; }
fail() { say fail "$1"; exit "$1"; }
"""
    + HOST_PATHS
    + """# Opened read-only: flock needs no write access, so every user can share the file; the
# reservations' folder is shared the way /tmp is (sticky). Whatever the user's umask, every
# other user must be able to read the lock and the reservations written here.
umask 022
[ -e "$lock" ] || : >>"$lock"
[ -d "$resv" ] || { mkdir -p "$resv" && chmod 1777 "$resv"; } 2>/dev/null
[ -h "$resv" ] && { echo "$resv is a symbolic link: remove it" >&2; fail 1; }
exec 9<"$lock"
flock -w "$wait" 9 || {
  echo "timed out after $wait s waiting for the host lock $lock" >&2; fail 75; }
if [ "$known" = - ]; then
  # A missing label must not shift the fields: the census line keeps four.
  fmt='{{.Names}} {{or (.Label "drove.cores") "-"}} {{or (.Label "drove.numa") "0"}}'
  fmt="$fmt"' {{or (.Label "drove.memory_mb") "0"}}'
  census=$($d ps -a --filter label=drove.managed=1 --format "$fmt" </dev/null) || {
    echo "docker ps failed" >&2; fail 1; }
else
  census=$known
fi
# The census, then every reservation whose name docker could have given (other names are
# someone else's files: never read, never removed), each read by the shell itself: a
# directory, FIFO or link there is skipped, never opened.
out=$({ printf '%s\\n' "$census"
  for f in "$resv"/*; do
    case ${f##*/} in *[!A-Za-z0-9_.-]*) continue ;; esac
    [ -f "$f" ] && [ ! -h "$f" ] || continue
    l=; { read -r l <"$f"; } 2>/dev/null || [ -n "$l" ] && printf '@r %s %s\\n' "${f##*/}" "$l"
  done; } | awk -v me="$name" -v want="$want" -v numa="$numa" -v mem="$mem" -v mult="$mult" \\
  -v cap="$cap" '
  function count(f) {
    if (f[1] == me || seen[f[1]]++) return
    k = split(f[2], cs, ","); for (j = 1; j <= k; j++) used[cs[j]]++
    if (f[3] == numa) held += f[4]
  }
  function seconds(t) { return t >= 1000000000 && t < 100000000000 }
  BEGIN {
    # The time: srand() gives the previous seed, and seeds from the clock; some awks use
    # another unit than seconds: then date says it.
    srand(); now = srand()
    if (!seconds(now)) { now = 0; cmd = "date +%s"; cmd | getline now; close(cmd) }
    timed = seconds(now)
  }
  NF == 0 { next }
  $1 == "@since" { since = $2 + 0; next }
  $1 == "@r" { base[++nr] = $2; sub(/^@r [^ ]* /, ""); line[nr] = $0; next }
  { listed[$1] = 1; if ($1 == me) found = 1; split($0, f, " "); count(f) }
  END {
    # A reservation counts while it was younger than two minutes when the containers were
    # listed (now, by docker ps; or by the probe of the engine: the create may have waited long
    # since), by the clock of the host. Without a time (an older drove-tui wrote it) it
    # counts as old; on a host without a time, every reservation counts.
    if (since == "") since = now
    for (i = 1; i <= nr; i++) {
      n = split(line[i], f, " ")
      t = (n >= 6 && f[5] == "r" && f[6] ~ /^[0-9]+$/) ? f[6] + 0 : -1
      if (!timed || (t >= 0 && since - t < 120)) count(f)
      else if (!(base[i] in listed)) stale = stale " " base[i]
    }
    if (found) exit 77
    k = split(want, w, ",")
    for (i = 1; i <= k; i++) if (used[w[i]] + 1 > mult) {
      print "core " w[i] " is already taken on this host" > "/dev/stderr"; exit 76 }
    if (held + mem > cap) {
      print "only " (cap - held) " MB are free on NUMA node " numa > "/dev/stderr"; exit 76 }
    printf "%.0f%s\\n", (timed ? now : 0), (timed ? stale : "")
  }') || fail $?
now=${out%% *}; stale=${out#"$now"}
[ -z "$stale" ] || (cd "$resv" && rm -f -- $stale) 2>/dev/null
printf '%s %s %s %s r %s\\n' "$name" "$want" "$numa" "$mem" "$now" >"$resv/$name" || fail 1
case $mode in
create)
  id=$($d create "$@") || { rm -f "$resv/$name"; exit 1; }
  echo "$id"
  exit 0 ;;
detach)
  # One docker call creates and starts (as `docker run` does); a container that exists
  # after a failure was created but did not start.
  id=$($d run --detach "$@") && { echo "$id"; exit 0; }
  $d container inspect --format . "$name" </dev/null >/dev/null 2>&1 && exit 78
  rm -f "$resv/$name"
  exit 1 ;;
reserve)
  exec 9<&-
  say reserved
  read -r word || word=
  [ "$word" = ended ] && rm -f "$resv/$name"
  exit 0 ;;
esac
"""
    # attach: `docker run` without --detach, its output streaming through this channel for
    # the task's whole life; the host lock is let go first (the reservation holds the
    # allocation until docker lists the container). The client is not told our signals
    # (--sig-proxy=false): giving up on this channel kills the client, never the container,
    # which the next drove-tui adopts. The last line on stderr is a marker (`TAG word`) that
    # says how it ended: `exit N` (the container's exit code, from docker when the client's
    # status is not 0), `notstarted`, `running` (the client ended, the container did not),
    # `unknown` (docker cannot say now), or `fail N` before anything was run. No marker: the
    # script itself was cut short. Once the container has exited, its labels hold its
    # allocation until it is removed, and it runs no more: the reservation goes before the
    # `exit` marker (ended), so that the engine's removal needs no shell (docker_api).
    + """exec 9<&-
ended() { rm -f "$resv/$name"; say exit "$1"; }
$d run --sig-proxy=false "$@"; rc=$?
[ "$rc" = 0 ] && { ended 0; exit 0; }
st=$($d container inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name" \\
  </dev/null 2>&1) && set -- $st || set -- missing "$st"
case $1 in
exited|dead) ended "$2" ;;
running|paused|restarting|removing) say running ;;
created) say notstarted ;;
*) case "$st" in
  *"No such"*) rm -f "$resv/$name"; say notstarted ;;
  *) say unknown ;;
  esac ;;
esac
exit "$rc"
"""
)

# $1 prefix $2 container: remove it with its volumes, and its reservation; the status is
# docker's (no error when the container is gone already).
REMOVE_SCRIPT = (
    """d=$1; c=$2
"""
    + HOST_PATHS
    + """$d rm -f -v "$c" </dev/null >/dev/null || exit
rm -f "$resv/$c"
"""
)

# $1 prefix $2 container: print its log with timestamps, then remove it with its volumes and
# its reservation; the status is the log's (non-zero: no log), or REMOVE_FAILED.
FINISH_SCRIPT = (
    """d=$1; c=$2
"""
    + HOST_PATHS
    + """$d logs --timestamps "$c" </dev/null; logs=$?
$d rm -f -v "$c" </dev/null >/dev/null || exit 3
rm -f "$resv/$c"
exit $logs
"""
)
REMOVE_FAILED = 3  # FINISH_SCRIPT: docker rm failed (its text on stderr)


def container_name(instance_id: str) -> str:
    """The deterministic container name: a repeated create can never make a second one."""
    return f"drove-{instance_id}"


def pull(host: HostConfig, image: str) -> Command:
    """Pull `image` unless the host already has it (as `docker run` does)."""
    return Command.script(PULL_SCRIPT, host.docker, image)


def create(
    host: HostConfig,
    record: TaskRecord,
    args: list[str],
    *,
    node_memory_mb: int,
    lock_wait_s: float,
    mode: CreateMode,
    tag: str = "-",
    census: str | None = None,
) -> Command:
    """Under the host lock: re-check the allocation against every container on the host,
    then create (and start, detached or attached, per `mode`); `tag` starts the attached
    mode's markers. `census`: the host's containers as Capacity.census gives them; None
    asks `docker ps` on the host."""
    return Command.script(
        CREATE_SCRIPT,
        host.docker,
        container_name(record.instance_id),
        ",".join(str(c) for c in record.cores),
        record.numa_node or 0,
        record.memory_mb,
        host.cpu_multiplier,
        node_memory_mb,
        max(1, int(lock_wait_s)),
        mode,
        tag,
        # Shown as ****** in messages (not secret: long, and of no use there).
        "-" if census is None else Command.secret(census),
        *args,
    )


def copy_in(host: HostConfig, name: str) -> Command:
    """Copy a tar stream (stdin) into the created container's root."""
    return Command.docker(host, "cp", "-", f"{name}:/")


def start(host: HostConfig, name: str) -> Command:
    """Start a created container."""
    return Command.docker(host, "start", name)


def kill(host: HostConfig, name: str) -> Command:
    """SIGKILL the container at once (Drove's kill)."""
    return Command.docker(host, "kill", name)


def inspect_state(host: HostConfig, name: str) -> Command:
    """`<status> <exit code>` of the container, e.g. `exited 3`."""
    return Command.docker(
        host, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name
    )


def finish(host: HostConfig, name: str) -> Command:
    """Print the container's whole log (timestamped), then remove it with its volumes."""
    return Command.script(FINISH_SCRIPT, host.docker, name)


def remove(host: HostConfig, name: str) -> Command:
    """Remove the container, its volumes and its reservation (no error when it is gone)."""
    return Command.script(REMOVE_SCRIPT, host.docker, name)


def remove_image(host: HostConfig, image: str) -> Command:
    """Remove the image (used when images are not cached)."""
    return Command.docker(host, "rmi", image)


def events(host: HostConfig, since: str) -> Command:
    """One stream of starts and exits of every managed container on the host, as JSON
    lines."""
    return Command.docker(
        host,
        "events",
        "--since",
        since,
        "--filter",
        f"label={MANAGED_LABEL}",
        "--filter",
        "type=container",
        "--filter",
        "event=start",
        "--filter",
        "event=die",
        "--format",
        "{{json .}}",
    )


def follow_logs(host: HostConfig, name: str, *, tail: int | None) -> Command:
    """Stream the container's output with timestamps as it comes."""
    args = ["logs", "--follow", "--timestamps"]
    if tail is not None:
        args += ["--tail", str(tail)]
    return Command.docker(host, *args, name)


def capture_logs(host: HostConfig, name: str, *, tail: int | None) -> Command:
    """The container's output so far, with timestamps."""
    args = ["logs", "--timestamps"]
    if tail is not None:
        args += ["--tail", str(tail)]
    return Command.docker(host, *args, name)
