"""Stand-ins for a host's transport in engine unit tests.

`ScriptedHost` is the Transport surface (`host`, `run`, `close`) once; a test's fake says only
how it answers a command (`reply`). `FakeHost` records every command line and answers with
what the test's `answer` function says (a RunResult, or an error raised).
"""

from __future__ import annotations

from collections.abc import Callable

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import OnLine, RunResult

Answer = Callable[[str], RunResult | Exception]


class ScriptedHost:
    """A transport whose answers come from `reply` (raise in it to fail the command)."""

    host = "h1"

    async def run(
        self,
        cmd: Command,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
        on_line: OnLine | None = None,
    ) -> RunResult:
        done = await self.reply(cmd, stdin)
        if on_line is None:
            return done
        # A create run attached ends with a marker (see executor.CREATE_SCRIPT); the fakes
        # answer with the script's status, so the marker is added: 0 is a container that
        # exited 0, anything else a failure before anything was run.
        argv = cmd.argv()
        stderr = done.stderr
        if "attach" in argv:
            tag = argv[argv.index("attach") + 1]
            word = "exit" if done.exit_status == 0 else "fail"
            stderr += f"\n{tag} {word} {done.exit_status}\n".encode()
        for raw in done.stdout.splitlines():
            on_line("stdout", raw)
        for raw in stderr.splitlines():
            if raw:
                on_line("stderr", raw)
        return RunResult(done.exit_status, b"", b"")

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class FakeHost(ScriptedHost):
    def __init__(self, answer: Answer, name: str = "h1") -> None:
        self.host = name
        self.answer = answer
        self.asked: list[str] = []

    async def reply(self, cmd: Command, stdin: bytes | None) -> RunResult:
        line = cmd.line()
        self.asked.append(line)
        answer = self.answer(line)
        if isinstance(answer, Exception):
            raise answer
        return answer
