"""From one received frame to packets with parameters: the decoder the pipeline runs.

``FrameDecoder.decode`` never raises: every problem becomes a ``Rejection`` with its reason
and the raw octets. Lengths, version and CRC are checked before any packet layout (possibly
a compiled fast path that trusts its input) sees the octets. Layouts come only through the
``TelemetryDictionary`` protocol; without a dictionary, frames and packet headers are still
decoded generically (packets with ``name=None``, no parameters, the data field in
``payload``).

A packet spanning several frames is returned by the frame that completes it, with that
frame's header. Reassembly state is kept per (``RawFrame.source``, scid, vcid): merge copies
of a frame heard by several stations (``peek`` gives their identity) before decoding.
Packet sequence-count gaps are counted in ``seq_gaps`` and ``counters.extra["seq_gaps"]``;
derived values that could not be computed, per parameter and reason, in ``not_computed()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundwatch.decoders.api import (
    DecodeError,
    DecodeSummary,
    Framing,
    FramingDef,
    PacketLayout,
    TelemetryDictionary,
)
from groundwatch.decoders.ax25 import parse_ax25
from groundwatch.decoders.crc import crc16_ok
from groundwatch.decoders.reassembly import PacketReassembler, SequenceTracker
from groundwatch.decoders.space_packet import (
    IDLE_APID,
    PRIMARY_HEADER_LEN,
    parse_primary_header,
    split_exact_space_packets,
)
from groundwatch.decoders.tm_frame import (
    FECF_LEN,
    OCF_LEN,
    TRANSFER_FRAME_VERSION,
    FirstHeaderPointer,
    data_field_bounds,
    decode_clcw,
)
from groundwatch.decoders.tm_frame import PRIMARY_HEADER_LEN as FRAME_HEADER_LEN
from groundwatch.decoders.tm_frame import parse_primary_header as parse_frame_header
from groundwatch.model import (
    Ax25Header,
    DecodedPacket,
    DecodeResult,
    ParamValue,
    RawFrame,
    Rejection,
    RejectReason,
    SpacePacketHeader,
    TmFrameHeader,
)
from groundwatch.parts import Counters
from groundwatch.rejects import count_rejections

PACKET_VERSION = 0


@dataclass(slots=True, frozen=True)
class FrameIdentity:
    """What the pipeline needs to merge copies of a frame heard by several stations."""

    scid: int | None  # None for AX.25 and frame-less packets
    vcid: int
    vcfc: int | None
    crc_ok: bool | None  # None: the frame carries no check
    spacecraft: str | None  # None: not one of the dictionary's spacecraft


class FrameDecoder:
    """Decodes TM frames, AX.25 frames or bare space packets, as the framing says."""

    def __init__(
        self,
        dictionary: TelemetryDictionary | None,
        framing: FramingDef | None = None,
        *,
        max_channels: int = 256,
    ) -> None:
        self.dictionary = dictionary
        if framing is None:
            framing = dictionary.framing if dictionary is not None else FramingDef()
        self.framing = framing
        self.counters = Counters()
        self.summary = DecodeSummary()
        self.seq_gaps = 0  # packets missing by sequence count, all APIDs together
        self._reassembler = PacketReassembler(max_channels, framing.fill)
        self._sequences = SequenceTracker(max_channels * 16)
        craft = list(dictionary.spacecraft) if dictionary is not None else []
        self._scid_known = any(s.scid is not None for s in craft)
        self._callsign_known = any(s.callsign is not None for s in craft)
        self._default_spacecraft = (
            craft[0].name
            if len(craft) == 1
            else (dictionary.mission if dictionary is not None else "unknown")
        )
        # The frame bytes last peeked at and their CRC check (the same bytes object only).
        self._peeked_crc: tuple[bytes, bool | None] = (b"", None)
        self._min_tm = FRAME_HEADER_LEN + (FECF_LEN if framing.fecf else 0)
        self._frame_params = list((framing.parameters or {}).items())

    def not_computed(self) -> dict[tuple[str, str, str], int]:
        """(packet, parameter, reason) -> derived values that could not be computed
        (a division by zero, an overflow, an input without a value ...), and values their
        validity made absent (reason ``invalid``: a sentinel or out of the valid range)."""
        counts: dict[tuple[str, str, str], int] = {}
        for layout in self.dictionary.packets if self.dictionary is not None else ():
            for derived in getattr(layout, "derived", ()):
                for reason, n in derived.expression.failures.items():
                    counts[(layout.name, derived.name, reason)] = n
            absent = getattr(layout, "absent_values", None)
            for name, n in absent().items() if absent is not None else ():
                counts[(layout.name, name, "invalid")] = n
        return counts

    # -- cheap look at a frame, for merging duplicates --------------------------------------

    def peek(self, frame: RawFrame) -> FrameIdentity | None:
        """Identity of a frame without decoding it; None when it has no usable header."""
        try:
            return self._peek(frame.data)
        except Exception:  # a malformed frame must not stop the caller either
            return None

    def _peek(self, data: bytes) -> FrameIdentity | None:
        kind = self.framing.kind
        if kind == Framing.TM:
            if not self._tm_length_ok(data):
                return None
            h = parse_frame_header(data)
            if h.version != TRANSFER_FRAME_VERSION:
                return None
            crc_ok = crc16_ok(data) if self.framing.fecf else None
            # decode() of the same frame, which usually follows, reuses this result.
            self._peeked_crc = (data, crc_ok)
            return FrameIdentity(h.scid, h.vcid, h.vcfc, crc_ok, self._spacecraft_for_scid(h.scid))
        if kind == Framing.AX25:
            ax = parse_ax25(data)
            return FrameIdentity(
                None, 0, None, None, self._spacecraft_for_ax25(ax.src, ax.src_ssid)
            )
        if len(data) < PRIMARY_HEADER_LEN:
            return None
        return FrameIdentity(None, 0, None, None, self._default_spacecraft)

    # -- full decode ------------------------------------------------------------------------

    def decode(self, frame: RawFrame) -> DecodeResult:
        result = DecodeResult(frame=frame)
        try:
            kind = self.framing.kind
            if kind == Framing.TM:
                self._decode_tm(frame, result)
            elif kind == Framing.AX25:
                self._decode_ax25(frame, result)
            else:
                self._decode_bare(frame, result)
        except Exception as exc:  # never raise: a decoder bug must not stop the pipeline
            self.counters.errors += 1
            self._reject(result, RejectReason.BAD_PACKET, f"decoder error: {exc!r}", frame.data)
        self._account(result)
        return result

    def _tm_length_ok(self, data: bytes) -> bool:
        fl = self.framing.frame_length
        return len(data) >= self._min_tm and (fl is None or len(data) == fl)

    def _decode_tm(self, frame: RawFrame, result: DecodeResult) -> None:
        data = frame.data
        fl = self.framing.frame_length
        if len(data) < self._min_tm:
            self._reject(
                result,
                RejectReason.SHORT_FRAME,
                f"{len(data)} octets, header needs {self._min_tm}",
                data,
            )
            return
        if fl is not None and len(data) != fl:
            self._reject(
                result, RejectReason.WRONG_LENGTH, f"{len(data)} octets, frames are {fl}", data
            )
            return
        h = parse_frame_header(data)
        if h.version != TRANSFER_FRAME_VERSION:
            self._reject(
                result, RejectReason.BAD_VERSION, f"transfer frame version {h.version}", data
            )
            return
        if self.framing.fecf:
            peeked, crc_ok = self._peeked_crc
            result.crc_ok = crc_ok if peeked is data else crc16_ok(data)
            if not result.crc_ok:
                result.spacecraft = self._spacecraft_for_scid(h.scid)
                self._reject(
                    result,
                    RejectReason.BAD_CRC,
                    f"FECF mismatch (scid {h.scid})",
                    data,
                    vcid=h.vcid,
                )
                return
        spacecraft = self._spacecraft_for_scid(h.scid)
        if spacecraft is None:
            self._reject(
                result, RejectReason.FOREIGN_SCID, f"scid {h.scid} not ours", data, vcid=h.vcid
            )
            return
        result.spacecraft = spacecraft
        bounds = data_field_bounds(data, h, self.framing)
        if bounds is None or bounds[0] >= bounds[1]:
            self._reject(
                result,
                RejectReason.SHORT_FRAME,
                "no room for a data field after the headers",
                data,
                vcid=h.vcid,
            )
            return
        start, end = bounds
        ocf = data[end : end + OCF_LEN] if h.ocf_flag else None
        header = TmFrameHeader(
            scid=h.scid,
            vcid=h.vcid,
            mcfc=h.mcfc,
            vcfc=h.vcfc,
            fhp=h.fhp,
            ocf=ocf,
            idle=h.fhp == FirstHeaderPointer.IDLE_FRAME,
        )
        result.header = header
        result.valid = True
        if self._frame_params:
            self._frame_parameters(result, h, ocf)
        result.idle_frame = header.idle
        outcome = self._reassembler.feed(
            (frame.source, h.scid, h.vcid), h.vcfc, h.fhp, data[start:end]
        )
        result.vc_gap = outcome.vc_gap
        if outcome.vc_late:
            result.vc_late, result.vc_gap_closed = outcome.vc_late, outcome.vc_gap_closed
        for loss in outcome.losses:
            self._reject(result, loss.reason, loss.detail, loss.data, vcid=h.vcid)
        for packet in outcome.packets:
            self._packet(result, packet, h.scid, header, None)

    def _decode_ax25(self, frame: RawFrame, result: DecodeResult) -> None:
        try:
            ax = parse_ax25(frame.data)
        except DecodeError as exc:
            self._reject(result, exc.reason, exc.detail, frame.data)
            return
        spacecraft = self._spacecraft_for_ax25(ax.src, ax.src_ssid)
        header = ax.header()
        result.ax25 = header
        if spacecraft is None:
            self._reject(
                result, RejectReason.FOREIGN_SCID, f"callsign {ax.src} not ours", frame.data
            )
            return
        result.spacecraft = spacecraft
        result.valid = True
        info = ax.info
        if self.dictionary is not None:
            layout = self.dictionary.packet_for_ax25(header, info)
            if layout is not None:
                packet = self._new_packet(result, None, header, None)
                self._apply_layout(result, packet, layout, info)
                return
        packets = split_exact_space_packets(info)
        if packets:
            for p in packets:
                self._packet(result, p, -1, None, header)
        elif self.dictionary is None:
            packet = self._new_packet(result, None, header, None)
            packet.payload = info
            result.packets.append(packet)
        else:
            self._reject(
                result,
                RejectReason.UNKNOWN_APID,
                f"no packet for {ax.src}-{ax.src_ssid} pid 0x{ax.pid:02x}",
                frame.data,
            )

    def _decode_bare(self, frame: RawFrame, result: DecodeResult) -> None:
        data = frame.data
        if len(data) < PRIMARY_HEADER_LEN + 1:
            self._reject(result, RejectReason.SHORT_FRAME, f"{len(data)} octets", data)
            return
        result.spacecraft = self._default_spacecraft
        if PRIMARY_HEADER_LEN + 1 + ((data[4] << 8) | data[5]) == len(data):
            # The usual frame of a bare stream: exactly one packet.
            result.valid = data[0] >> 5 == PACKET_VERSION
            self._packet(result, data, -1, None, None)
            return
        pos = 0
        while pos < len(data):
            if len(data) - pos < PRIMARY_HEADER_LEN:
                self._reject(
                    result,
                    RejectReason.TRUNCATED_PACKET,
                    f"{len(data) - pos} octets left after the packets",
                    data[pos:],
                )
                break
            total = PRIMARY_HEADER_LEN + 1 + ((data[pos + 4] << 8) | data[pos + 5])
            if pos + total > len(data):
                self._reject(
                    result,
                    RejectReason.TRUNCATED_PACKET,
                    f"packet says {total} octets, {len(data) - pos} there",
                    data[pos:],
                )
                break
            if pos == 0:
                result.valid = data[0] >> 5 == PACKET_VERSION
            self._packet(result, data[pos : pos + total], -1, None, None)
            pos += total

    # -- packets ----------------------------------------------------------------------------

    def _packet(
        self,
        result: DecodeResult,
        packet: bytes,
        scid: int,
        frame_header: TmFrameHeader | None,
        ax25: Ax25Header | None,
    ) -> None:
        """One whole space packet (its length already checked against its header)."""
        # Version and APID straight from the first two octets: idle packets, often most of
        # a quiet downlink, cost no header object.
        version = packet[0] >> 5
        if version != PACKET_VERSION:
            vcid = frame_header.vcid if frame_header is not None else None
            self._reject(
                result, RejectReason.BAD_VERSION, f"packet version {version}", packet, vcid=vcid
            )
            return
        if ((packet[0] & 0x7) << 8 | packet[1]) == IDLE_APID:
            result.idle_packets += 1
            return
        hdr = parse_primary_header(packet)
        gap = self._sequences.observe((result.frame.source, scid, hdr.apid), hdr.seq_count)
        if gap:
            self.seq_gaps += gap
            self.counters.bump("seq_gaps", gap)
        data_field = packet[PRIMARY_HEADER_LEN:]
        if self.dictionary is None:
            decoded = self._new_packet(result, frame_header, ax25, hdr)
            decoded.payload = data_field
            result.packets.append(decoded)
            return
        layout = self.dictionary.packet_for(hdr.apid, data_field)
        if layout is None:
            vcid = frame_header.vcid if frame_header is not None else None
            reason, detail = RejectReason.UNKNOWN_APID, f"apid {hdr.apid}"
            explain = getattr(self.dictionary, "explain_miss", None)
            if explain is not None:
                reason, detail = explain(hdr.apid, data_field)
            self._reject(result, reason, detail, packet, vcid=vcid)
            return
        # Optional layout features (packet error control, header parameters) of compiled
        # dictionaries; a layout without them costs two attribute reads.
        check = getattr(layout, "packet_check", None)
        if check is not None and not check(packet):
            vcid = frame_header.vcid if frame_header is not None else None
            self._reject(
                result,
                RejectReason.BAD_PACKET_CRC,
                f"{layout.name}: packet error control mismatch (apid {hdr.apid})",
                packet,
                vcid=vcid,
            )
            return
        if getattr(layout, "whole_packet", False):
            data_field = packet
        try:
            params, obt_ns = layout.decode(data_field)
        except Exception:  # rejected (or counted as a layout bug) by _apply_layout's path
            decoded = self._new_packet(result, frame_header, ax25, hdr)
            self._apply_layout(result, decoded, layout, data_field, raw=packet)
            return
        # The usual packet, built in one call (this runs for every packet of every frame).
        f = result.frame
        result.packets.append(
            DecodedPacket(
                f.ert_ns,
                f.station,
                f.source,
                result.spacecraft or "unknown",
                layout.name,
                len(result.packets),
                frame_header,
                ax25,
                hdr,
                params,
                obt_ns,
            )
        )

    def _frame_parameters(self, result: DecodeResult, h: object, ocf: bytes | None) -> None:
        """The frame's header (and CLCW) fields the framing names as parameters."""
        clcw = decode_clcw(ocf) if ocf is not None else None
        params: dict[str, ParamValue] = {}
        for field, name in self._frame_params:
            if field.startswith("clcw."):
                if clcw is None:
                    continue
                value = clcw[field[5:]]
            else:
                value = int(getattr(h, field))
            params[name] = ParamValue(value, value, None, None)
        packet = self._new_packet(result, result.header, None, None)
        packet.name = self.framing.frame_packet
        packet.params = params
        result.packets.append(packet)

    def _new_packet(
        self,
        result: DecodeResult,
        frame_header: TmFrameHeader | None,
        ax25: Ax25Header | None,
        hdr: SpacePacketHeader | None,
    ) -> DecodedPacket:
        f = result.frame
        return DecodedPacket(
            ert_ns=f.ert_ns,
            station=f.station,
            source=f.source,
            spacecraft=result.spacecraft or "unknown",
            name=None,
            index_in_frame=len(result.packets),
            frame=frame_header,
            ax25=ax25,
            header=hdr,
        )

    def _apply_layout(
        self,
        result: DecodeResult,
        packet: DecodedPacket,
        layout: PacketLayout,
        data_field: bytes,
        raw: bytes | None = None,
    ) -> None:
        vcid = packet.frame.vcid if packet.frame is not None else None
        try:
            params, obt_ns = layout.decode(data_field)
        except DecodeError as exc:
            self._reject(
                result, exc.reason, f"{layout.name}: {exc.detail}", raw or data_field, vcid=vcid
            )
            return
        except Exception as exc:  # a layout bug is this packet's problem, not the frame's
            self.counters.errors += 1
            self._reject(
                result,
                RejectReason.BAD_PACKET,
                f"{layout.name}: {exc!r}",
                raw or data_field,
                vcid=vcid,
            )
            return
        packet.name = layout.name
        packet.params = params
        packet.obt_ns = obt_ns
        packet.index_in_frame = len(result.packets)
        result.packets.append(packet)

    # -- identification and accounting ------------------------------------------------------

    def _spacecraft_for_scid(self, scid: int) -> str | None:
        if self.dictionary is not None:
            sc = self.dictionary.spacecraft_by_scid(scid)
            if sc is not None:
                return sc.name
            if self._scid_known:
                return None
        return f"scid-{scid}"

    def _spacecraft_for_ax25(self, callsign: str, ssid: int) -> str | None:
        if self.dictionary is not None:
            sc = self.dictionary.spacecraft_by_callsign(callsign)
            if sc is not None:
                return sc.name
            if self._callsign_known:
                return None
        return f"{callsign}-{ssid}" if ssid else callsign

    def _reject(
        self,
        result: DecodeResult,
        reason: RejectReason,
        detail: str,
        data: bytes,
        vcid: int | None = None,
    ) -> None:
        f = result.frame
        result.rejections.append(
            Rejection(
                reason=reason,
                detail=detail,
                data=bytes(data),
                ert_ns=f.ert_ns,
                station=f.station,
                source=f.source,
                spacecraft=result.spacecraft,
                vcid=vcid,
            )
        )

    def _account(self, result: DecodeResult) -> None:
        c, s = self.counters, self.summary
        c.received += 1
        c.sent += len(result.packets)
        c.dropped += len(result.rejections)
        s.frames += 1
        s.packets += len(result.packets)
        if result.idle_frame:
            s.idle_frames += 1
            c.bump("idle_frames")
        if result.idle_packets:
            s.idle_packets += result.idle_packets
            c.bump("idle_packets", result.idle_packets)
        if result.vc_gap:
            c.bump("vc_gap_frames", result.vc_gap)
        if result.rejections:
            count_rejections(s.rejected, result.rejections)  # shown by /health as "rejected"
