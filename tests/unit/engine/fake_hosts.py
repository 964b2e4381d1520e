"""A stand-in for a host's transport in engine unit tests: it records every command line and
answers each with what the test's `answer` function says (a RunResult, or an error raised)."""

from __future__ import annotations

from collections.abc import Callable

from drove_tui.cluster.command import Command
from drove_tui.cluster.transport import RunResult

Answer = Callable[[str], RunResult | Exception]


class FakeHost:
    def __init__(self, answer: Answer, name: str = "h1") -> None:
        self.host = name
        self.answer = answer
        self.asked: list[str] = []

    async def run(
        self,
        cmd: Command,
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> RunResult:
        line = cmd.line()
        self.asked.append(line)
        reply = self.answer(line)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def close(self) -> None:
        pass
