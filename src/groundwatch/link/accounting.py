"""Frame accounting: what every link received, counted, and written once a second.

A link here is (spacecraft, station, virtual channel). ``observe`` takes every decode result
(every copy from every station, so each station's own reception is counted); ``points`` is
called by the pipeline once a second and returns one ``link`` point per link with cumulative
counters and the rates over the interval since the previous call.

Input that the decoder could not attribute to a spacecraft is counted under spacecraft
``unknown`` (and vcid ``none`` is simply left out of the tags), so random bytes on a station's
topic are still visible per station.

What stations say about their reception (envelope metadata: RSSI, SNR, frequency offset,
their CRC verdict, their clock) is counted per copy by ``observe_copy`` and written in the
same ``link`` series, tagged by spacecraft and station (see ``link.radio``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from groundwatch.link.radio import RadioAccounting
from groundwatch.model import DecodeResult, FrameMeta, LinkKey, Point, RejectReason
from groundwatch.rejects import count_rejections

LINK_MEASUREMENT = "link"
UNKNOWN_SPACECRAFT = "unknown"


@dataclass(slots=True)
class LinkCounts:
    """Cumulative counters of one link."""

    frames: int = 0
    bytes: int = 0
    valid_frames: int = 0
    crc_failures: int = 0
    frame_gaps: int = 0  # gap occurrences on the virtual channel frame count
    frames_missing: int = 0  # frames lost in those gaps
    late_frames: int = 0  # frames that came after newer ones (and were not lost after all)
    packets: int = 0
    idle_frames: int = 0
    idle_packets: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    # Earth-received time minus on-board time of the latest packet that carries one: light
    # time plus clock offset; its trend shows the spacecraft clock's drift.
    obt_offset_ns: int | None = None

    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def copy(self) -> LinkCounts:
        return LinkCounts(
            self.frames,
            self.bytes,
            self.valid_frames,
            self.crc_failures,
            self.frame_gaps,
            self.frames_missing,
            self.late_frames,
            self.packets,
            self.idle_frames,
            self.idle_packets,
            dict(self.rejected),
            self.obt_offset_ns,
        )


def link_key_of(result: DecodeResult) -> LinkKey:
    """The link a decode result belongs to."""
    spacecraft = result.spacecraft
    vcid = result.header.vcid if result.header is not None else None
    if spacecraft is None:
        for rej in result.rejections:
            if rej.spacecraft is not None:
                spacecraft = rej.spacecraft
                vcid = rej.vcid if vcid is None else vcid
                break
    return LinkKey(spacecraft or UNKNOWN_SPACECRAFT, result.frame.station, vcid)


class FrameAccounting:
    """Counts frames, bytes, CRC failures, gaps, rejections and idle data per link."""

    def __init__(self, source: str | None = None) -> None:
        # source: the ``source`` tag of the points; None leaves it to the pipeline.
        self.source = source
        self._counts: dict[LinkKey, LinkCounts] = {}
        # (spacecraft, station, vcid or header None) -> the counts of link_key_of(result)
        self._by_values: dict[tuple[str, str, int | None], LinkCounts] = {}
        self._previous: dict[LinkKey, LinkCounts] = {}
        self._previous_ns: int | None = None
        self.radio = RadioAccounting()

    def observe_copy(self, spacecraft: str | None, station: str, meta: FrameMeta) -> None:
        """Every station's copy of a frame that came with metadata (duplicates too)."""
        self.radio.observe(spacecraft or UNKNOWN_SPACECRAFT, station, meta)

    def observe(self, result: DecodeResult) -> None:
        # Once per decoded frame: the counters of a known link are found by plain values,
        # without building its LinkKey (a frozen dataclass) every time.
        spacecraft = result.spacecraft
        header = result.header
        if spacecraft is not None:
            c = self._by_values.get(
                (spacecraft, result.frame.station, header.vcid if header is not None else None)
            )
        else:
            c = None
        if c is None:
            c = self._link_counts(result)
        c.frames += 1
        c.bytes += len(result.frame.data)
        if result.valid:
            c.valid_frames += 1
        if result.crc_ok is False:
            c.crc_failures += 1
        if result.vc_gap > 0:
            c.frame_gaps += 1
            c.frames_missing += result.vc_gap
        elif result.vc_late:  # a frame counted missing came late after all
            c.frames_missing -= result.vc_late
            c.frame_gaps -= result.vc_gap_closed
            c.late_frames += 1
        packets = result.packets
        c.packets += len(packets)
        for pkt in reversed(packets):
            if pkt.obt_ns is not None:
                c.obt_offset_ns = pkt.ert_ns - pkt.obt_ns
                break
        if result.idle_frame:
            c.idle_frames += 1
        c.idle_packets += result.idle_packets
        # A bad CRC is already counted as crc_failures; count it under its reason too,
        # so "rejected" adds up to everything that was not decoded.
        count_rejections(c.rejected, result.rejections)

    def _link_counts(self, result: DecodeResult) -> LinkCounts:
        key = link_key_of(result)
        c = self._counts.get(key)
        if c is None:
            c = self._counts[key] = LinkCounts()
        if result.spacecraft is not None and len(self._by_values) < 10_000:
            header = result.header
            self._by_values[
                (result.spacecraft, key.station, header.vcid if header is not None else None)
            ] = c
        return c

    def forget_station(self, station: str) -> None:
        """Drop a long-silent station's counters (bounded per-station state); if it sends
        again its cumulative counters start from zero (a counter reset in ``link``)."""
        for key in [k for k in self._counts if k.station == station]:
            del self._counts[key]
            self._previous.pop(key, None)
        for vk in [k for k in self._by_values if k[1] == station]:
            del self._by_values[vk]

    def counts(self) -> dict[LinkKey, LinkCounts]:
        """A copy of the cumulative counters per link (console, tests)."""
        return {k: v.copy() for k, v in self._counts.items()}

    def points(self, now_ns: int) -> list[Point]:
        """One ``link`` point per link: cumulative counters plus per-second rates."""
        if self._previous_ns is None or now_ns <= self._previous_ns:
            interval_s = 0.0
        else:
            interval_s = (now_ns - self._previous_ns) / 1e9
        out: list[Point] = []
        for key, c in self._counts.items():
            prev = self._previous.get(key, LinkCounts())
            fields: dict[str, float | int | str | bool] = {
                "frames": c.frames,
                "bytes": c.bytes,
                "valid_frames": c.valid_frames,
                "crc_failures": c.crc_failures,
                "frame_gaps": c.frame_gaps,
                "frames_missing": c.frames_missing,
                "late_frames": c.late_frames,
                "packets": c.packets,
                "idle_frames": c.idle_frames,
                "idle_packets": c.idle_packets,
                "rejected": c.rejected_total(),
            }
            for reason in RejectReason:
                n = c.rejected.get(reason.value)
                if n:
                    fields[f"rejected_{reason.value}"] = n
            d_frames = c.frames - prev.frames
            d_crc = c.crc_failures - prev.crc_failures
            if interval_s > 0:
                fields["frames_per_s"] = d_frames / interval_s
                fields["bytes_per_s"] = (c.bytes - prev.bytes) / interval_s
                fields["packets_per_s"] = (c.packets - prev.packets) / interval_s
                fields["rejected_per_s"] = (c.rejected_total() - prev.rejected_total()) / (
                    interval_s
                )
            if c.obt_offset_ns is not None:
                fields["obt_offset_s"] = c.obt_offset_ns / 1e9
            # Fraction of this interval's frames that failed the CRC (0 when none arrived).
            fields["crc_failure_ratio"] = d_crc / d_frames if d_frames > 0 else 0.0
            tags = key.tags()
            if self.source is not None:
                tags["source"] = self.source
            out.append(Point(LINK_MEASUREMENT, tags, fields, now_ns))
        self._previous = {k: v.copy() for k, v in self._counts.items()}
        self._previous_ns = now_ns
        for p in self.radio.points(now_ns):
            if self.source is not None:
                p.tags["source"] = self.source
            out.append(p)
        return out
