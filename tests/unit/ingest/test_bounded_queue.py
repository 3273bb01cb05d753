"""The frame queue between sources and the decode stage is bounded in items and bytes."""

from __future__ import annotations

import asyncio

from groundwatch.ingest.base import ITEM_OVERHEAD, BoundedItemQueue
from groundwatch.model import RawFrame, RefusedFrame, RejectedInput, RejectReason


def _frame(n: int) -> RawFrame:
    return RawFrame(bytes(n), 0, "gs1")


async def test_put_waits_while_the_bytes_are_over_the_bound() -> None:
    q = BoundedItemQueue(maxsize=100, max_bytes=10_000)
    await q.put(_frame(6_000))
    await q.put(_frame(6_000))  # the bound was not reached yet: accepted
    assert q.full() and q.nbytes == 12_000 + 2 * ITEM_OVERHEAD
    blocked = asyncio.create_task(q.put(_frame(10)))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    q.get_nowait()
    await asyncio.wait_for(blocked, 1)
    assert q.qsize() == 2 and q.peak_bytes == 12_000 + 2 * ITEM_OVERHEAD


async def test_an_item_larger_than_the_bound_passes_alone() -> None:
    q = BoundedItemQueue(maxsize=100, max_bytes=1_000)
    await asyncio.wait_for(
        q.put(RefusedFrame(_frame(5_000), RejectReason.OVERSIZED, "5000 bytes")), 1
    )
    assert q.full()
    got = await q.get()
    assert isinstance(got, RefusedFrame) and q.nbytes == 0 and not q.full()


async def test_items_bound_still_holds() -> None:
    q = BoundedItemQueue(maxsize=2, max_bytes=1 << 30)
    q.put_nowait(_frame(1))
    q.put_nowait(_frame(1))
    assert q.full()


async def test_rejected_inputs_count_their_bytes() -> None:
    q = BoundedItemQueue(maxsize=100, max_bytes=10_000)
    bad = RejectedInput(bytes(6_000), 0, "gs1", RejectReason.BAD_ENVELOPE, "not JSON")
    await q.put(bad)
    await q.put(bad)
    assert q.full() and q.nbytes == 12_000 + 2 * ITEM_OVERHEAD
