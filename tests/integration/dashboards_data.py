"""Fills an InfluxDB with schema-conforming points for the dashboard query tests.

STAND-IN for the pipeline: until ``groundwatch.pipeline`` and the simulator run end to end,
this builds the points with the store's own schema code (``store.points``: packet, event and
rejected points; ``store.lineprotocol``) and the link part's ``FrameAccounting`` (``link``
points), writes them over the real v1 ``/write`` API, and hand-writes only ``link_state``
(as the link monitor writes it). It covers what a short simulator run through the pipeline
does not: replay sources, limit events, regex specials in station names on every
measurement. ``test_dashboards_pipeline`` runs the same panel checks on real pipeline data.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from groundwatch.decoders.api import ParameterInfo
from groundwatch.link.accounting import FrameAccounting
from groundwatch.model import (
    DecodedPacket,
    DecodeResult,
    Event,
    EventType,
    FrameMeta,
    ParamValue,
    Point,
    RawFrame,
    Rejection,
    RejectReason,
    Severity,
    SpacePacketHeader,
    TmFrameHeader,
)
from groundwatch.store.lineprotocol import encode_points
from groundwatch.store.points import event_point, packet_point, rejected_point

S = 1_000_000_000
SPACECRAFT = "lander"
STATIONS = ("gs1", "gs-2.b")  # a regex special in a name: the dashboards must escape it
REPLAY = "replay:pass-1"


@dataclass(frozen=True)
class Filled:
    start_ns: int
    end_ns: int
    seconds: int


def value_for(param: ParameterInfo, t: int) -> ParamValue:
    if param.enum:
        raws = sorted(param.enum)
        raw = raws[(t // 10) % len(raws)]
        return ParamValue(raw=raw, eng=param.enum[raw])
    if param.array_length:
        if param.type == "bool":
            flags = [bool((t + i) % 2) for i in range(param.array_length)]
            return ParamValue(raw=flags, eng=flags)
        vals = [float(t + i) for i in range(param.array_length)]
        return ParamValue(raw=vals, eng=vals, unit=param.unit)
    if param.type == "bool":
        return ParamValue(raw=t % 2, eng=bool(t % 2))
    if param.type == "string":
        return ParamValue(raw="v1.2", eng="v1.2")
    return ParamValue(raw=t, eng=float(t) + 0.5, unit=param.unit)


def write(url: str, db: str, points: list[Point]) -> None:
    body = encode_points(points)
    req = urllib.request.Request(f"{url}/write?db={db}&precision=ns", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 204, resp.read()


def fill(url: str, db: str, params: list[ParameterInfo], start_ns: int, seconds: int) -> Filled:
    points: list[Point] = []
    by_packet: dict[str, list[ParameterInfo]] = {}
    for prm in params:
        by_packet.setdefault(prm.packet, []).append(prm)
    accountings = [FrameAccounting(source="live"), FrameAccounting(source=REPLAY)]
    for t in range(seconds):
        now = start_ns + t * S
        for si, station in enumerate(STATIONS):
            for k in range(5):  # five frames a second per station, one bad CRC every 7 s
                ert = now + k * 100_000_000 + si * 1_000
                frame = RawFrame(b"\x00" * 64, ert, station)
                bad = k == 0 and t % 7 == 0
                gap = 1 if k == 1 and t % 11 == 0 else 0
                header = TmFrameHeader(scid=42, vcid=0, mcfc=0, vcfc=0, fhp=0)
                res = DecodeResult(
                    frame, SPACECRAFT, header, crc_ok=not bad, valid=not bad, vc_gap=gap
                )
                if t % 13 == 0 and k == 2:
                    res.rejections.append(
                        Rejection(
                            RejectReason.UNKNOWN_APID,
                            "apid 7",
                            b"\x01\x02",
                            ert,
                            station,
                            "live",
                            SPACECRAFT,
                            0,
                        )
                    )
                    points.append(rejected_point(res.rejections[-1]))
                for accounting in accountings:
                    accounting.observe(res)
                    radio = FrameMeta(rssi_dbm=-100.0 - k - si, snr_db=9.0 - k / 2)
                    accounting.observe_copy(SPACECRAFT, station, radio)
            state = 3 if 10 <= t < seconds - 20 else (2 if t < 10 else 1)
            points += [
                Point(
                    "link_state",
                    {"spacecraft": SPACECRAFT, "station": station, "source": source},
                    {
                        "state": state,
                        "state_text": ("NO_SIGNAL", "LOS", "AOS", "TRACKING")[state],
                        "seconds_since_last_frame": 0.1 * (t % 3),
                    },
                    now,
                )
                for source in ("live", REPLAY)
            ]
            for source in ("live", REPLAY):
                for pi, (packet, prms) in enumerate(by_packet.items()):
                    pkt = DecodedPacket(
                        ert_ns=now + si * 1_000,
                        station=station,
                        source=source,
                        spacecraft=SPACECRAFT,
                        name=packet,
                        index_in_frame=pi,
                        header=SpacePacketHeader(0, 0, 1, 100 + pi, 3, t % 16384, 10),
                        params={p.name: value_for(p, t) for p in prms},
                        obt_ns=now,
                    )
                    points.append(packet_point(pkt))
        for accounting in accountings:
            points += accounting.points(now + S - 1)
        if t in (seconds // 3, 2 * seconds // 3):
            for source in ("live", REPLAY):
                # LOS is per spacecraft (no station tag), a limit event names its station.
                for etype, sev, at in (
                    (EventType.UNEXPECTED_LOS, Severity.CRITICAL, None),
                    (EventType.LIMIT_ENTER, Severity.WARNING, STATIONS[0]),
                ):
                    points.append(
                        event_point(
                            Event(
                                etype,
                                sev,
                                now + 1,
                                SPACECRAFT,
                                at,
                                f"{etype.value} lander",
                                "test event",
                                f"{etype.value}/lander/gs1",
                                f"{etype.value}-{t}",
                                source=source,
                                details={"t": t},
                            )
                        )
                    )
    write(url, db, points)
    return Filled(start_ns, start_ns + seconds * S, seconds)
