"""The simulator's broker connection: a window of publishes in flight that survives a broker
restart.

Publishes are started without waiting for their acknowledgement (``window`` at most in
flight, in order). When the connection is lost, the client is replaced (backoff from
``reconnect_min`` to ``reconnect_max``, for at most ``give_up_after`` seconds) and every
publish not yet acknowledged is sent again, in its order: the broker may get a message twice
(its acknowledgement was lost), never none. Each publish carries callbacks that run once, in
publish order, with True when the broker acknowledged it, or False when it never did (the
publisher stopped, or gave up, first) - so a record written from them says what the broker
really has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from groundwatch.parts import Counters

if TYPE_CHECKING:
    import aiomqtt

log = logging.getLogger(__name__)

Acked = Callable[[bool], None]


@dataclass(slots=True)
class _Publish:
    topic: str
    payload: bytes
    kwargs: dict[str, Any]
    done: list[Acked] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


def quiet_lost_connections(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event loop exception handler: what a lost MQTT client leaves behind (callbacks on
    its closed socket, its disconnection never awaited) is one line, not a traceback; the
    link reconnects by itself. Anything else goes to the default handler."""
    import aiomqtt

    exc = context.get("exception")
    if isinstance(exc, OSError | aiomqtt.MqttError):
        print(f"simulate: {context.get('message', 'connection')}: {exc}", file=sys.stderr)
        return
    loop.default_exception_handler(context)


def _retrieved(task: asyncio.Task[None]) -> None:
    """A replaced publish's outcome is not wanted: read it so asyncio does not report it."""
    if not task.cancelled():
        task.exception()


class BrokerLink:
    """One logical connection to the broker, made of as many clients as restarts need."""

    def __init__(
        self,
        connect: Callable[[], aiomqtt.Client],
        stop: asyncio.Event,
        counters: Counters,
        *,
        window: int = 100,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        give_up_after: float = 300.0,
    ) -> None:
        self._connect = connect
        self._stop = stop
        self.counters = counters
        self.window = window
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.give_up_after = give_up_after
        self.client: aiomqtt.Client | None = None
        self.reconnects = 0
        self.unacked = 0  # publishes never acknowledged (stopped or gave up first)
        self._inflight: deque[_Publish] = deque()

    async def open(self) -> None:
        """The first connection: a broker that cannot be reached now is an error."""
        client = self._connect()
        await client.__aenter__()
        self.client = client

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    async def publish(self, topic: str, payload: bytes, **kwargs: Any) -> None:
        while len(self._inflight) >= self.window:
            await self._settle_head()
        p = _Publish(topic, payload, kwargs)
        self._inflight.append(p)
        self._start(p)

    def after_last(self, done: Acked) -> None:
        """``done`` runs with the outcome of the latest publish (now, if none is in flight)."""
        if self._inflight:
            self._inflight[-1].done.append(done)
        else:
            done(True)

    async def drain(self) -> None:
        while self._inflight:
            await self._settle_head()

    def _start(self, p: _Publish) -> None:
        if self.client is None:
            return
        p.task = asyncio.create_task(self.client.publish(p.topic, p.payload, **p.kwargs))

    async def _settle_head(self) -> None:
        import aiomqtt

        p = self._inflight[0]
        acked = True
        while True:
            try:
                if p.task is None:
                    raise aiomqtt.MqttError("not connected")
                await p.task
                break
            except aiomqtt.MqttError:
                self.counters.errors += 1
                if not await self._reconnect():
                    acked = False
                    break
        self._inflight.popleft()
        if acked:
            self.counters.sent += 1
        else:
            self.unacked += 1
        for done in p.done:
            done(acked)

    async def _reconnect(self) -> bool:
        """A new client, and every publish in flight sent again; False: stopping, or the
        broker stayed away for ``give_up_after`` seconds."""
        if self._stop.is_set():
            return False
        import aiomqtt

        for p in self._inflight:
            if p.task is not None and not p.task.done():
                p.task.cancel()
            if p.task is not None:
                p.task.add_done_callback(_retrieved)
            p.task = None
        await self.close()
        print("simulate: broker connection lost; reconnecting", file=sys.stderr)
        deadline = time.monotonic() + self.give_up_after
        delay = self.reconnect_min
        while not self._stop.is_set() and time.monotonic() < deadline:
            client = self._connect()
            try:
                await client.__aenter__()
            except aiomqtt.MqttError:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, self.reconnect_max)
                continue
            self.client = client
            self.reconnects += 1
            print(f"simulate: reconnected; sending {len(self._inflight)} again", file=sys.stderr)
            for p in self._inflight:
                self._start(p)
            return True
        return False
