"""Ticks to frames, through the dictionary's layouts and the frame layer's builders.

Every packet's data field is built by its ``PacketLayout`` (Construct) and immediately
decoded back by the same layout, so the values kept in ``SimPacket.values`` are exactly what
a decoder will see after quantisation (raw integer rounding, float32, calibration). Space
packets get consecutive sequence counts per APID and are packed into fixed-length TM
frames (FHP, frame counts, OCF, FECF) by ``TmFramePacker``; an AX.25 mission gets one UI
frame per packet; framing ``none`` sends each space packet as its own frame.

The link model's fate is applied here: a *corrupted* frame has a few bits flipped inside
its data field, so its FECF fails (framings without an FECF have no way to tell, so their
corrupted frames are lost instead); a *lost* frame is built (the frame counters advance, as
on board) but flagged not to be sent. A packet is *expected* downstream only when every
frame holding a part of it is delivered intact.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from groundwatch.decoders.api import Framing, PacketLayout, SpacecraftDef, TelemetryDictionary
from groundwatch.decoders.ax25 import Ax25Frame, build_ax25
from groundwatch.decoders.packing import TmFramePacker
from groundwatch.decoders.space_packet import MAX_SEQ_COUNT, build_space_packet
from groundwatch.decoders.tm_frame import FECF_LEN, OCF_LEN
from groundwatch.decoders.tm_frame import PRIMARY_HEADER_LEN as TM_HEADER_LEN
from groundwatch.sim.link_model import FrameFate
from groundwatch.sim.scenario import PacketValues, Tick


@dataclass(slots=True)
class SimPacket:
    name: str
    apid: int | None
    seq_count: int | None
    index_in_frame: int  # among the packets that complete in their last frame
    values: dict[str, Any]  # engineering values as they decode
    raw: dict[str, Any]
    obt_ns: int | None
    expected: bool = True  # every frame carrying it is delivered intact
    first_frame: int = 0


@dataclass(slots=True)
class SimFrame:
    index: int  # frames built since the start, lost ones included
    data: bytes  # the octets to send (bits flipped when corrupted)
    t_s: float  # scenario time of the tick
    obt_ns: int
    fate: FrameFate
    packets: list[SimPacket] = field(default_factory=list)  # packets completing here
    truth: dict[str, float] = field(default_factory=dict)

    @property
    def sent(self) -> bool:
        return self.fate is not FrameFate.LOST


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def with_selector(layout: PacketLayout, data_field: bytes) -> bytes:
    """The data field with the layout's packet-id selector value in place (``build`` leaves
    it to the values given, and a scenario does not know which parameter carries it)."""
    selector = getattr(layout, "selector", None)
    if selector is None:
        return data_field
    stamped: bytes = selector.stamp(data_field)
    return stamped


def pick_spacecraft(dictionary: TelemetryDictionary, name: str | None) -> SpacecraftDef:
    for sc in dictionary.spacecraft:
        if name is None or sc.name == name:
            return sc
    known = ", ".join(sc.name for sc in dictionary.spacecraft) or "none"
    raise ValueError(f"spacecraft {name!r} is not in the dictionary (known: {known})")


class SimFramer:
    def __init__(
        self,
        dictionary: TelemetryDictionary,
        *,
        spacecraft: str | None = None,
        vcid: int = 0,
        start_ns: int | None = None,
        seed: int = 0,
        flush_each_tick: bool = True,
        ax25_destination: str = "CQ",
        decode_values: bool = True,
    ) -> None:
        self.dictionary = dictionary
        self.framing = dictionary.framing
        self.spacecraft = pick_spacecraft(dictionary, spacecraft)
        self.start_ns = time.time_ns() if start_ns is None else start_ns
        self.flush_each_tick = flush_each_tick
        # False skips the decode that fills SimPacket.values/raw (not needed without a record)
        self.decode_values = decode_values
        self.ax25_destination = ax25_destination
        self.rng = random.Random(seed * 65_537 + 11)
        self._seq: dict[int, int] = {}
        self._count = 0  # frames built so far
        # fates of the latest frames: a packet spans at most 64 frames of >= 1 kB
        self._recent: deque[FrameFate] = deque(maxlen=256)
        self._ends: dict[int, list[SimPacket]] = {}  # frame index -> packets completing there
        self.packer: TmFramePacker | None = None
        if self.framing.kind is Framing.TM:
            if self.spacecraft.scid is None:
                raise ValueError(f"spacecraft {self.spacecraft.name} has no scid for TM frames")
            self.packer = TmFramePacker(self.spacecraft.scid, vcid, self.framing)

    # --- packets ------------------------------------------------------------------------

    def build_packet(self, pv: PacketValues, obt_ns: int) -> tuple[bytes, SimPacket]:
        """(octets on the link, what they decode to) for one packet."""
        layout = pv.layout
        data_field = with_selector(layout, layout.build(pv.eng, obt_ns))
        params, obt = layout.decode(data_field) if self.decode_values else ({}, obt_ns)
        sim = SimPacket(
            name=layout.name,
            apid=layout.apid,
            seq_count=None,
            index_in_frame=0,
            values={k: _jsonable(p.eng) for k, p in params.items()},
            raw={k: _jsonable(p.raw) for k, p in params.items()},
            obt_ns=obt,
        )
        if self.framing.kind is Framing.AX25:
            return self._ax25(layout, data_field), sim
        if layout.apid is None:
            raise ValueError(f"packet {layout.name} has no APID: cannot make a space packet")
        seq = self._seq.get(layout.apid, 0)
        self._seq[layout.apid] = (seq + 1) % MAX_SEQ_COUNT
        sim.seq_count = seq
        sec = getattr(layout, "secondary_header", None)
        if sec is None:
            sec = getattr(layout, "time", None) is not None
        return build_space_packet(layout.apid, seq, data_field, sec_hdr_flag=bool(sec)), sim

    def _ax25(self, layout: PacketLayout, info: bytes) -> bytes:
        src = getattr(layout, "ax25_callsign", None) or self.spacecraft.callsign
        if not src:
            raise ValueError(f"packet {layout.name}: no AX.25 callsign in the dictionary")
        pid = getattr(layout, "ax25_pid", None)
        frame = Ax25Frame(dst=self.ax25_destination, src=src, info=info)
        if pid is not None:
            frame.pid = pid
        return build_ax25(frame)

    # --- frames -------------------------------------------------------------------------

    def frames(self, tick: Tick) -> list[SimFrame]:
        obt_ns = self.start_ns + round(tick.t_s * 1e9)
        built = [self.build_packet(pv, obt_ns) for pv in tick.packets]
        if self.packer is None:
            out = []
            for octets, sim in built:
                sim.first_frame = self._count
                out.append(self._frame(octets, tick, obt_ns, [sim]))
            return out
        return self._pack(built, tick, obt_ns)

    def _frame(self, octets: bytes, tick: Tick, obt_ns: int, packets: list[SimPacket]) -> SimFrame:
        index = self._count
        fate = tick.fate
        if fate is FrameFate.CORRUPTED and not (self.packer and self.framing.fecf):
            fate = FrameFate.LOST  # nothing on the link would catch the bit errors
        self._recent.append(fate)
        self._count += 1
        data = self._corrupt(octets) if fate is FrameFate.CORRUPTED else octets
        for i, sim in enumerate(packets):
            sim.index_in_frame = i
            oldest = self._count - len(self._recent)
            span = list(self._recent)[max(sim.first_frame - oldest, 0) :]
            sim.expected = all(f is FrameFate.OK for f in span)
        return SimFrame(index, data, tick.t_s, obt_ns, fate, packets, dict(tick.truth))

    def _pack(
        self, built: list[tuple[bytes, SimPacket]], tick: Tick, obt_ns: int
    ) -> list[SimFrame]:
        assert self.packer is not None
        raw_frames: list[bytes] = []
        base = self._count
        for octets, sim in built:
            sim.first_frame = base + len(raw_frames)
            raw_frames += self.packer.pack([octets])
            last = base + len(raw_frames) - (0 if self.packer.pending else 1)
            self._ends.setdefault(last, []).append(sim)
        if self.flush_each_tick:
            raw_frames += self.packer.flush()
        return [
            self._frame(octets, tick, obt_ns, self._ends.pop(base + i, []))
            for i, octets in enumerate(raw_frames)
        ]

    def _corrupt(self, frame: bytes) -> bytes:
        """Flip three bits of the data field: header intact, FECF no longer matches."""
        trailer = (OCF_LEN if self.framing.ocf else 0) + FECF_LEN
        lo, hi = TM_HEADER_LEN, len(frame) - trailer
        out = bytearray(frame)
        for _ in range(3):
            pos = self.rng.randrange(lo, hi)
            out[pos] ^= 1 << self.rng.randrange(8)
        return bytes(out)
