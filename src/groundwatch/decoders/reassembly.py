"""Space packets out of a virtual channel's frames (132.0-B 4.1.2.7, 133.0-B 4.1.3).

A packet may start in one frame and end in a later frame of the same virtual channel. The
first header pointer (FHP) says where the first packet header of a frame starts; the octets
before it finish the packet in progress. When the virtual-channel frame count jumps (a lost
frame) or an idle frame arrives, the packet in progress cannot be finished: it is dropped
and counted as LOST_CONTINUATION, and decoding resumes at the next frame's FHP.

Frames that arrive late (a broker redelivering messages after newer ones, a slower station
delivering a frame the others missed) are told apart from a counter jump: the frame counts
skipped by a recent gap (at most ``LATE_WINDOW`` behind the newest frame) are remembered, and
a frame carrying one of them fills that gap (``vc_late``; ``vc_gap_closed`` once its last
missing frame came) instead of being counted as a jump of almost a whole counter cycle. Its
whole packets are decoded; its fragments, whose other parts went by already, are losses.

State is kept per (source, scid, vcid); the pipeline merges duplicate frames from several
stations before decoding. Channels and APIDs are kept in bounded LRU maps so random input
(say, every SCID under the sun) cannot grow memory without limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from groundwatch.decoders.space_packet import MAX_SEQ_COUNT, PRIMARY_HEADER_LEN
from groundwatch.decoders.tm_frame import FirstHeaderPointer
from groundwatch.model import RejectReason

ChannelKey = tuple[str, int, int]  # (source, scid, vcid)
ApidKey = tuple[str, int, int]  # (source, scid, apid)
K = TypeVar("K")
V = TypeVar("V")
FRAME_COUNT_MODULO = 256
LATE_WINDOW = 128  # frame counts behind the newest that a late frame may carry


class BoundedLru(Generic[K, V]):
    """A dict that forgets its least recently used entry beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class Loss:
    """Octets that could not become a packet, with the reason."""

    reason: RejectReason
    detail: str
    data: bytes


@dataclass(slots=True)
class ChannelOutcome:
    packets: list[bytes] = field(default_factory=list)  # whole packets, header included
    losses: list[Loss] = field(default_factory=list)
    vc_gap: int = 0  # frames missing on this virtual channel before this one
    vc_late: int = 0  # 1: a late frame that an earlier gap had counted as missing
    vc_gap_closed: int = 0  # 1: ... and the last missing frame of that gap


@dataclass(slots=True)
class _ChannelState:
    last_vcfc: int
    partial: bytearray | None = None  # start of a packet whose end is in a later frame
    # Frame counts skipped by recent gaps -> the gap's id; and frames each gap still misses.
    missing: dict[int, int] = field(default_factory=dict)
    gap_left: dict[int, int] = field(default_factory=dict)
    gaps: int = 0

    def skipped(self, first: int, n: int) -> None:
        """Remember the ``n`` frame counts from ``first`` (a gap small enough to tell)."""
        self._expire(first + n)
        if n > LATE_WINDOW:
            return
        gap = self.gaps = self.gaps + 1
        for k in range(n):
            self.missing[(first + k) % FRAME_COUNT_MODULO] = gap
        self.gap_left[gap] = n

    def _expire(self, newest: int) -> None:
        if self.missing:
            for count in [
                c for c in self.missing if (newest - c) % FRAME_COUNT_MODULO > LATE_WINDOW
            ]:
                gap = self.missing.pop(count)
                self.gap_left[gap] -= 1
                if not self.gap_left[gap]:
                    del self.gap_left[gap]

    def filled(self, vcfc: int) -> tuple[int, int] | None:
        """(1, 1 if the gap is now complete) when ``vcfc`` was counted missing."""
        gap = self.missing.pop(vcfc, None)
        if gap is None:
            return None
        self.gap_left[gap] -= 1
        if self.gap_left[gap]:
            return 1, 0
        del self.gap_left[gap]
        return 1, 1


def _complete(partial: bytearray) -> int | None:
    """Length of the packet in ``partial`` once its header is there."""
    if len(partial) < PRIMARY_HEADER_LEN:
        return None
    return PRIMARY_HEADER_LEN + 1 + ((partial[4] << 8) | partial[5])


class PacketReassembler:
    """Feeds frame data fields in, gets whole packets out, per virtual channel."""

    def __init__(self, max_channels: int = 1024, fill: int | None = None) -> None:
        self._channels: BoundedLru[ChannelKey, _ChannelState] = BoundedLru(max_channels)
        # The mission's fill octet after the last packet of a frame (``framing.fill``).
        self._fill = bytes([fill]) if fill is not None else None

    def reset(self) -> None:
        self._channels = BoundedLru(self._channels.capacity)

    def feed(self, key: ChannelKey, vcfc: int, fhp: int, data_field: bytes) -> ChannelOutcome:
        out = ChannelOutcome()
        st = self._channels.get(key)
        if st is None:
            # First frame heard on this channel: octets before the FHP belong to a packet
            # whose start was never received here; that is not a loss we can count.
            st = _ChannelState(last_vcfc=vcfc)
            self._channels.put(key, st)
            after_gap = False
        else:
            filled = st.filled(vcfc)
            if filled is not None:
                out.vc_late, out.vc_gap_closed = filled
                return self._late(fhp, data_field, out)
            out.vc_gap = (vcfc - st.last_vcfc - 1) % FRAME_COUNT_MODULO
            if out.vc_gap:
                st.skipped(st.last_vcfc + 1, out.vc_gap)
            elif st.missing:
                st._expire(vcfc)
            st.last_vcfc = vcfc
            after_gap = out.vc_gap > 0
        if after_gap and st.partial is not None:
            out.losses.append(
                Loss(
                    RejectReason.LOST_CONTINUATION,
                    f"{out.vc_gap} frame(s) lost on the virtual channel inside a packet",
                    bytes(st.partial),
                )
            )
            st.partial = None
            after_gap = False  # the lost packet is counted once, not again for its tail

        if fhp == FirstHeaderPointer.IDLE_FRAME:
            if st.partial is not None:
                out.losses.append(
                    Loss(
                        RejectReason.LOST_CONTINUATION,
                        "idle frame inside a packet",
                        bytes(st.partial),
                    )
                )
                st.partial = None
            return out

        n = len(data_field)
        if fhp == FirstHeaderPointer.NO_PACKET_START:
            if st.partial is not None:
                self._continue(st, data_field, out, n)
            elif after_gap and n:
                out.losses.append(
                    Loss(
                        RejectReason.LOST_CONTINUATION,
                        f"{out.vc_gap} frame(s) lost before this continuation",
                        data_field,
                    )
                )
                # Mark the channel as waiting for the next FHP without counting again.
                st.partial = None
            return out

        if fhp >= n:
            out.losses.append(
                Loss(
                    RejectReason.BAD_FHP,
                    f"first header pointer {fhp} outside a {n}-octet data field",
                    data_field,
                )
            )
            st.partial = None
            return out

        if st.partial is not None:
            self._continue(st, data_field[:fhp], out, fhp)
            if st.partial is not None:
                total = _complete(st.partial)
                want = "?" if total is None else str(total - len(st.partial))
                out.losses.append(
                    Loss(
                        RejectReason.PACKET_OVERRUN,
                        f"packet needs {want} more octets but the next starts at {fhp}",
                        bytes(st.partial),
                    )
                )
                st.partial = None
        elif after_gap and fhp > 0:
            out.losses.append(
                Loss(
                    RejectReason.LOST_CONTINUATION,
                    f"{out.vc_gap} frame(s) lost before the tail of a packet",
                    data_field[:fhp],
                )
            )

        pos = fhp
        fill = self._fill
        while pos < n:
            if fill and data_field[pos] == fill[0] and not data_field[pos:].lstrip(fill):
                break  # only fill octets left: no packet starts here
            if n - pos < PRIMARY_HEADER_LEN:
                st.partial = bytearray(data_field[pos:])
                break
            total = PRIMARY_HEADER_LEN + 1 + ((data_field[pos + 4] << 8) | data_field[pos + 5])
            if pos + total > n:
                st.partial = bytearray(data_field[pos:])
                break
            out.packets.append(data_field[pos : pos + total])
            pos += total
        return out

    @staticmethod
    def _late(fhp: int, data_field: bytes, out: ChannelOutcome) -> ChannelOutcome:
        """A late frame: its whole packets; the channel's state is not touched (newer frames
        went by), so the octets before its FHP and a packet it leaves unfinished are lost."""
        n = len(data_field)
        if fhp == FirstHeaderPointer.IDLE_FRAME:
            return out
        if fhp == FirstHeaderPointer.NO_PACKET_START or fhp >= n:
            if n:
                out.losses.append(
                    Loss(RejectReason.LOST_CONTINUATION, "late frame inside a packet", data_field)
                )
            return out
        if fhp:
            out.losses.append(
                Loss(
                    RejectReason.LOST_CONTINUATION,
                    "late frame: the tail of a packet already given up",
                    data_field[:fhp],
                )
            )
        pos = fhp
        while pos < n:
            total = (
                PRIMARY_HEADER_LEN + 1 + ((data_field[pos + 4] << 8) | data_field[pos + 5])
                if n - pos >= PRIMARY_HEADER_LEN
                else n + 1
            )
            if pos + total > n:
                out.losses.append(
                    Loss(
                        RejectReason.LOST_CONTINUATION,
                        "late frame: a packet continued in frames that went by",
                        data_field[pos:],
                    )
                )
                break
            out.packets.append(data_field[pos : pos + total])
            pos += total
        return out

    @staticmethod
    def _continue(st: _ChannelState, chunk: bytes, out: ChannelOutcome, limit: int) -> None:
        """Append ``chunk`` to the packet in progress; emit it when complete."""
        assert st.partial is not None
        st.partial += chunk
        total = _complete(st.partial)
        if total is None or len(st.partial) < total:
            return
        out.packets.append(bytes(st.partial[:total]))
        extra = len(st.partial) - total
        if extra:
            out.losses.append(
                Loss(
                    RejectReason.BAD_FHP,
                    f"packet ended {extra} octets before the first header pointer ({limit})",
                    bytes(st.partial[total:]),
                )
            )
        st.partial = None


class SequenceTracker:
    """Counts packet sequence-count gaps per (source, scid, apid), modulo 16384.

    A plain dict, forgetting the oldest-inserted APID beyond ``max_apids`` (a real mission has
    far fewer; only random input reaches the cap): cheaper per packet than an LRU."""

    def __init__(self, max_apids: int = 4096) -> None:
        self.max_apids = max_apids
        self._last: dict[ApidKey, int] = {}

    def observe(self, key: ApidKey, seq_count: int) -> int:
        """Packets missing before this one (0 for the first packet of an APID)."""
        last = self._last.get(key)
        self._last[key] = seq_count
        if last is None:
            if len(self._last) > self.max_apids:
                del self._last[next(iter(self._last))]
            return 0
        return (seq_count - last - 1) % MAX_SEQ_COUNT
