"""Packing space packets into fixed-length TM transfer frames (the simulator's side).

Built with the same Construct layouts the decoder's tests parse with (``TmFrameFormat``).
Packets may span frames; the first header pointer of each frame points at the first packet
header that starts in it (0x7FF when none does). ``flush()`` fills the frame in progress with
an idle packet (APID 0x7FF); ``idle_frame()`` makes a frame with FHP 0x7FE.
"""

from __future__ import annotations

from collections.abc import Iterable

from groundwatch.decoders.api import FramingDef
from groundwatch.decoders.space_packet import PRIMARY_HEADER_LEN, build_idle_packet
from groundwatch.decoders.tm_frame import (
    FECF_LEN,
    OCF_LEN,
    FirstHeaderPointer,
    TmFrame,
    TmFrameFormat,
)
from groundwatch.decoders.tm_frame import (
    PRIMARY_HEADER_LEN as FRAME_HEADER_LEN,
)

MIN_IDLE_PACKET = PRIMARY_HEADER_LEN + 1
IDLE_FRAME_FILL = 0x55  # 132.0-B leaves idle data to the mission; alternate bits help sync


class TmFramePacker:
    """Packs a stream of space packets into frames of one virtual channel.

    ``ocf`` is the 4-octet operational control field put in every frame when the framing
    carries one (a CLCW with all flags clear by default). The master channel frame count
    follows the virtual channel's unless a shared ``mcfc`` start is given and others advance
    it (``next_mcfc`` is public for a simulator multiplexing several virtual channels).
    """

    def __init__(
        self,
        scid: int,
        vcid: int,
        framing: FramingDef,
        *,
        ocf: bytes = bytes(OCF_LEN),
        vcfc: int = 0,
        mcfc: int = 0,
    ) -> None:
        if framing.frame_length is None:
            raise ValueError("TM packing needs a fixed frame_length in the framing")
        if len(ocf) != OCF_LEN:
            raise ValueError("the OCF is 4 octets")
        self.scid = scid
        self.vcid = vcid
        self.framing = framing
        self.ocf = ocf if framing.ocf else None
        self.next_vcfc = vcfc % 256
        self.next_mcfc = mcfc % 256
        self._format = TmFrameFormat(framing)
        self.data_field_length = (
            framing.frame_length
            - FRAME_HEADER_LEN
            - (OCF_LEN if framing.ocf else 0)
            - (FECF_LEN if framing.fecf else 0)
        )
        if not 0 < self.data_field_length < FirstHeaderPointer.IDLE_FRAME:
            raise ValueError(f"frame length {framing.frame_length} leaves no usable data field")
        self._buf = bytearray()  # data field octets of the frame in progress
        self._fhp: int | None = None  # first packet start in the frame in progress

    @property
    def frame_length(self) -> int:
        assert self.framing.frame_length is not None
        return self.framing.frame_length

    @property
    def pending(self) -> int:
        """Octets waiting in the frame in progress."""
        return len(self._buf)

    def pack(self, packets: Iterable[bytes]) -> list[bytes]:
        """Append packets; returns the frames completed so far (the rest waits)."""
        frames: list[bytes] = []
        size = self.data_field_length
        for packet in packets:
            if self._fhp is None:
                self._fhp = len(self._buf)
            pos = 0
            while pos < len(packet):
                take = min(len(packet) - pos, size - len(self._buf))
                self._buf += packet[pos : pos + take]
                pos += take
                if len(self._buf) == size:
                    fhp = FirstHeaderPointer.NO_PACKET_START if self._fhp is None else self._fhp
                    frames.append(self._emit(bytes(self._buf), fhp))
                    self._buf = bytearray()
                    self._fhp = None
        return frames

    def flush(self) -> list[bytes]:
        """Complete the frame in progress with idle fill; returns the finished frames."""
        if not self._buf:
            return []
        room = self.data_field_length - len(self._buf)
        if room < MIN_IDLE_PACKET:
            # Too little room for an idle packet: let it run on through one whole frame.
            room += self.data_field_length
        frames = self.pack([build_idle_packet(room)])
        assert not self._buf
        return frames

    def frames_for(self, packets: Iterable[bytes]) -> list[bytes]:
        """Pack and flush: every packet given is in the returned frames."""
        return self.pack(packets) + self.flush()

    def idle_frame(self) -> bytes:
        """An idle frame (FHP 0x7FE); it advances the frame counters like any frame."""
        return self._emit(bytes([IDLE_FRAME_FILL]) * self.data_field_length, 0x7FE)

    def _emit(self, data_field: bytes, fhp: int) -> bytes:
        frame = TmFrame(
            scid=self.scid,
            vcid=self.vcid,
            mcfc=self.next_mcfc,
            vcfc=self.next_vcfc,
            fhp=int(fhp),
            data_field=data_field,
            ocf=self.ocf,
        )
        self.next_mcfc = (self.next_mcfc + 1) % 256
        self.next_vcfc = (self.next_vcfc + 1) % 256
        return self._format.build(frame)
