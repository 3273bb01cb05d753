"""cancel_and_wait ends a task whose cancellation Python 3.11's wait_for swallowed."""

from __future__ import annotations

import asyncio
import sys

from groundwatch.tasks import cancel_and_wait


async def _confirming(futures: asyncio.Queue[asyncio.Future[int]]) -> None:
    """Like a publisher awaiting acknowledgements: wait_for on one future after another."""
    loop = asyncio.get_running_loop()
    while True:
        fut: asyncio.Future[int] = loop.create_future()
        await futures.put(fut)
        await asyncio.wait_for(fut, 10)


async def test_a_cancel_lost_in_wait_for_is_sent_again() -> None:
    futures: asyncio.Queue[asyncio.Future[int]] = asyncio.Queue()
    task = asyncio.create_task(_confirming(futures))
    fut = await futures.get()
    await asyncio.sleep(0)  # the task is inside wait_for
    fut.set_result(1)  # the acknowledgement arrives in the same iteration as the cancel
    task.cancel()
    await asyncio.sleep(0.05)
    if sys.version_info < (3, 12):
        assert not task.done()  # the cancellation was lost: the task carries on
    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), 5)
    assert task.cancelled()


async def test_ended_tasks_results_and_failures_are_retrieved() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    async def sleeps() -> None:
        await asyncio.sleep(60)

    failed = asyncio.create_task(fails())
    sleeping = asyncio.create_task(sleeps())
    await asyncio.sleep(0)
    await cancel_and_wait([failed, sleeping])
    assert failed.done() and isinstance(failed.exception(), ValueError)
    assert sleeping.cancelled()
