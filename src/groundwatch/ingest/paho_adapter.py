"""The one place that reaches into aiomqtt's and paho's private parts.

The MQTT source needs three things neither library offers in public: manual PUBACKs (an ack
only once the frame is archived), pausing the socket reader when its queue is high
(backpressure onto the broker instead of drops) and reading the socket in large chunks.
Everything that touches a private attribute is here, for exactly the versions pinned in
``pyproject.toml`` (``PINNED``); ``check_versions`` refuses others at start-up with a clear
message, and ``tests/integration/test_paho_adapter.py`` exercises every hook against a real
Mosquitto, so an upgrade that breaks one fails there first.

Private names used: ``aiomqtt.Client._client`` (the paho client), ``._queue`` (incoming
messages), ``._disconnected`` (future failed on a lost connection); ``paho.Client._sock``
(replaced by a buffered reader), ``._out_packet`` (paho's output queue) and
``._packet_queue`` (queue raw bytes for sending).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
from collections.abc import Callable
from importlib import metadata
from typing import Any, NamedTuple

import aiomqtt

from groundwatch.parts import Counters

log = logging.getLogger(__name__)

# Exactly what pyproject.toml pins; the private attributes above are those of these releases.
PINNED = {"paho-mqtt": "2.2.0", "aiomqtt": "2.5.1"}

PUBACK = struct.Struct("!BBH")  # MQTT 3.1.1 PUBACK: type 4, remaining length 2, packet id
MESSAGE_OVERHEAD = 200  # bytes a queued message costs besides its payload (object, topic)


def check_versions() -> list[str]:
    """Mismatches between the installed and the pinned versions (empty when they match)."""
    wrong = []
    for dist, want in PINNED.items():
        try:
            have = metadata.version(dist)
        except metadata.PackageNotFoundError:
            have = "not installed"
        if have != want:
            wrong.append(f"{dist} {have} (groundwatch's MQTT source needs exactly {want})")
    return wrong


class Incoming(NamedTuple):
    """One received message, as paho handed it over (aiomqtt's Message costs more to make
    and gives nothing this source uses)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    properties: Any = None  # MQTT 5 only


class BufferedSocket:
    """paho's socket, read 64 KiB at a time.

    paho reads one message per call with three or four recv() calls (command octet, each
    length octet, body) and the event loop wakes once per message; under load that is most
    of the source's CPU. Reading large chunks and looping while bytes are buffered (paho's
    ``pending()`` hook, there for TLS) takes a burst of messages per wake-up and one system
    call. Everything else goes to the socket itself."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            data: bytes = self._sock.recv(max(n, 65536))
            if len(data) <= n:
                return data
            self._buf = buf = data
            pos = 0
        end = self._pos = min(pos + n, len(buf))
        return buf[pos:end]

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReadPause:
    """Reads the socket (several messages per wake-up, see ``BufferedSocket``) and, for
    backpressure onto the broker, stops reading it while the incoming queue is high.

    Measured with Mosquitto 2.0: once acknowledgements flow, the broker sends far more than
    ``max_inflight_messages`` unacknowledged messages to a slow subscriber, so a bounded
    queue overflows and drops (and a dropped QoS 1 message stays unacknowledged until the
    next reconnect). Not reading makes TCP push back instead: the broker keeps the frames
    queued for our session. aiomqtt has no such switch; this replaces the socket reader it
    installed, and removes and re-adds it (the reader stops within one message of the high
    mark; messages already buffered wait for the resume).
    """

    BURST = 64  # messages per wake-up at most: the pipeline gets its turn between bursts

    def __init__(self, client: aiomqtt.Client, high: int, low: int) -> None:
        self.client = client
        self.high, self.low = high, low
        self.paused = False
        self.pauses = 0
        self._fd: int | None = None

    def install(self) -> None:
        """Take over reading from aiomqtt (once connected: its reader is registered)."""
        paho = self.client._client
        sock = paho.socket()
        if sock is None:
            return
        if not isinstance(sock, BufferedSocket):
            paho._sock = sock = BufferedSocket(sock)
        self._fd = sock.fileno()
        asyncio.get_running_loop().add_reader(self._fd, self._read)  # replaces aiomqtt's

    def after_put(self, size: int, high: bool = False) -> None:
        """``high``: the queue is over another bound (its bytes)."""
        if not self.paused and (high or size >= self.high):
            sock = self.client._client.socket()
            if sock is None:
                return
            self._fd = sock.fileno()
            asyncio.get_running_loop().remove_reader(self._fd)
            self.paused = True
            self.pauses += 1

    def after_get(self, size: int, high: bool = False) -> None:
        if self.paused and not high and size <= self.low:
            self.paused = False
            sock = self.client._client.socket()
            if sock is not None and sock.fileno() == self._fd:
                loop = asyncio.get_running_loop()
                loop.add_reader(self._fd, self._read)
                if isinstance(sock, BufferedSocket) and sock.pending():
                    loop.call_soon(self._read)  # buffered: the socket may never wake us

    def _read(self) -> None:
        # What aiomqtt's own reader does (read, report a broken connection), for every
        # message already buffered unless the queue reached its high mark.
        paho = self.client._client
        try:
            for _ in range(self.BURST):
                paho.loop_read()
                sock = paho.socket()
                if self.paused or not isinstance(sock, BufferedSocket) or not sock.pending():
                    return
            # Still buffered: go on after the other tasks had their turn (the socket may
            # not wake us again, the bytes are read already).
            asyncio.get_running_loop().call_soon(self._read)
        except Exception as exc:
            disconnected = self.client._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)


class Acks:
    """PUBACKs of archived frames, written together.

    paho's ack() sends each PUBACK on its own, and through aiomqtt each costs a thread-safe
    call_soon (a self-pipe write), add_writer, one send() and remove_writer: more CPU per
    frame than receiving it (and the broker then reads them one by one too). Here acks wait
    up to ``DELAY`` (or until ``BATCH`` are due) and go out in one send(), in the order the
    frames were archived; through paho's output queue (so after anything paho has not
    finished writing) when that queue is not empty or the socket takes less than all.
    ``done(n)`` runs once n acks are written or queued (or lost with the connection: the
    broker then delivers those frames again)."""

    DELAY = 0.005  # s: at 1,000 frames/s an event-loop pass holds one ack; this batches ~5
    BATCH = 32  # at once: well below the broker's max_inflight_messages (100)

    def __init__(self, client: aiomqtt.Client, done: Callable[[int], None]) -> None:
        self.paho = client._client
        self.loop = asyncio.get_running_loop()
        self.done = done
        self.mids: list[int] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, mid: int) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop's thread
            self.loop.call_soon_threadsafe(self.add, mid)
            return
        self.mids.append(mid)
        if len(self.mids) >= self.BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = self.loop.call_later(self.DELAY, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        mids, self.mids = self.mids, []
        if not mids:
            return
        paho = self.paho
        data = b"".join([PUBACK.pack(0x40, 2, m) for m in mids])
        try:
            sock = paho.socket()
            if sock is not None and not paho._out_packet:
                # A full TLS socket says SSLWantWriteError: queue the acks like a full socket
                with contextlib.suppress(BlockingIOError, ssl.SSLWantWriteError):
                    data = data[sock.send(data) :]
            if data and sock is not None:
                paho._packet_queue(0x40, data, 0, 0)
        except OSError as exc:  # the reader sees the broken connection too
            log.debug("mqtt: %d acks lost with the connection (%s)", len(mids), exc)
        finally:
            self.done(len(mids))


class CountingQueue(asyncio.Queue[Incoming]):
    """The incoming queue: bounded in messages and in payload bytes, pausing the socket
    when high (``ReadPause``); a drop can then only follow a failed pause, and is counted.
    The byte bound can be passed by one message (the one that crossed it)."""

    counters: Counters | None = None
    pause: ReadPause | None = None
    max_bytes: int = 64 << 20

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.nbytes = 0

    def put_nowait(self, item: Incoming) -> None:
        try:
            super().put_nowait(item)
        except asyncio.QueueFull:
            if self.counters is not None:
                self.counters.dropped += 1
                self.counters.bump("mqtt_queue_dropped")
            raise
        self.nbytes += len(item.payload) + MESSAGE_OVERHEAD
        if self.pause is not None:
            self.pause.after_put(self.qsize(), self.nbytes >= self.max_bytes)

    def get_nowait(self) -> Incoming:
        item = super().get_nowait()
        self.nbytes -= len(item.payload) + MESSAGE_OVERHEAD
        if self.pause is not None:
            self.pause.after_get(self.qsize(), self.nbytes > self.max_bytes // 4)
        return item


class Session:
    """The private hooks of one connected ``aiomqtt.Client``."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.paho = client._client
        self.queue: CountingQueue = client._queue  # type: ignore[assignment]

    def take_messages(self, on_message: Callable[[Incoming], None]) -> None:
        """Manual acks, and paho's messages to ``on_message`` instead of aiomqtt's."""
        self.paho.manual_ack_set(True)

        def handler(_c: Any, _u: Any, m: Any) -> None:
            on_message(Incoming(m.topic, m.payload, m.mid, m.qos, m.properties))

        self.paho.on_message = handler

    def ack(self, mid: int, qos: int) -> None:
        """paho's own acknowledgement (QoS 2 flow), one message at a time."""
        self.paho.ack(mid, qos)

    async def messages(self, stop: asyncio.Future[Any]) -> Any:
        """aiomqtt's messages until ``stop``; raises MqttError on a disconnection.

        Like ``client.messages``, but a message already queued is taken without creating a
        task and waiting on it (aiomqtt's iterator does that for every message: under load,
        the queue is never empty and that overhead is most of the ingest cost).
        """
        queue = self.queue
        disconnected: asyncio.Future[Any] = self.client._disconnected
        while not stop.done():
            try:
                yield queue.get_nowait()
                continue
            except asyncio.QueueEmpty:
                pass
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {get, stop, disconnected}, return_when=asyncio.FIRST_COMPLETED
            )
            if get in done:
                yield get.result()
                continue
            get.cancel()
            if disconnected in done:
                raise aiomqtt.MqttError("Disconnected during message iteration") from (
                    disconnected.exception()
                )
            return
