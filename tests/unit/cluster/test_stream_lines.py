"""pump_lines, the one line splitter of every transport's streams: lines of any length come
through in order (split past MAX_LINE), and the end is always signalled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from drove_tui.cluster.transport import MAX_LINE, READ_CHUNK, LineQueue, pump_lines


def reader(*chunks: bytes | Exception) -> Callable[[int], Awaitable[bytes]]:
    pending = list(chunks)

    async def read(n: int) -> bytes:
        assert n == READ_CHUNK
        if not pending:
            return b""
        item = pending.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return read


async def drained(read: Callable[[int], Awaitable[bytes]], **kw: object) -> list[bytes | None]:
    queue: LineQueue = asyncio.Queue()
    await pump_lines("stdout", read, queue, **kw)  # type: ignore[arg-type]
    out: list[bytes | None] = []
    while not queue.empty():
        item = queue.get_nowait()
        out.append(None if item is None else item[1])
    return out


async def test_lines_split_across_chunks_are_joined_and_the_last_unterminated_one_kept() -> None:
    got = await drained(reader(b"on", b"e\ntw", b"o\n\nthr", b"ee"))
    assert got == [b"one", b"two", b"", b"three", None]


async def test_a_line_over_max_line_comes_in_ordered_pieces() -> None:
    big = b"x" * (MAX_LINE * 2 + 5)
    chunks = [big[i : i + READ_CHUNK] for i in range(0, len(big), READ_CHUNK)]
    got = await drained(reader(*chunks, b"\nend\n"))
    assert got == [b"x" * MAX_LINE, b"x" * MAX_LINE, b"x" * 5, b"end", None]


async def test_a_failing_read_still_ends_the_stream() -> None:
    assert await drained(reader(b"a\nb", OSError("gone")), quiet=(OSError,)) == [b"a", None]
    assert await drained(reader(b"a\n", RuntimeError("bug"))) == [b"a", None]
