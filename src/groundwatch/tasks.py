"""Stopping asyncio tasks for certain.

On Python 3.11 a cancellation can be lost: ``asyncio.wait_for`` returns its inner result
instead of raising ``CancelledError`` when the inner awaitable finishes in the same loop
iteration as the cancel (fixed in 3.12, where ``wait_for`` is built on ``asyncio.timeout``).
aiomqtt waits for every acknowledgement with ``wait_for``, so a task cancelled while a
publish is being confirmed can carry on as if nothing happened, and whoever awaits it then
waits for ever. ``cancel_and_wait`` cancels again until each task has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_AFTER = 0.5  # seconds a cancelled task may take before it is cancelled again


async def cancel_and_wait(
    tasks: asyncio.Future[Any] | Iterable[asyncio.Future[Any]],
    *,
    recancel_after: float = RECANCEL_AFTER,
) -> None:
    """Cancel ``tasks`` and return once every one has ended, cancelling again each
    ``recancel_after`` seconds one has not. Their results and exceptions are retrieved
    (and dropped), so asyncio does not report them as never retrieved. A cancellation of
    the caller itself is not swallowed: the tasks get their cancel and the caller's
    ``CancelledError`` propagates."""
    pending = {tasks} if isinstance(tasks, asyncio.Future) else set(tasks)
    every = set(pending)
    while True:
        pending = {t for t in pending if not t.done()}
        if not pending:
            break
        for t in pending:
            t.cancel()
        await asyncio.wait(pending, timeout=recancel_after)
    for t in every:
        if not t.cancelled():
            t.exception()
