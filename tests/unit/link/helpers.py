"""Synthetic decode results for link and alert tests (no decoder involved)."""

from __future__ import annotations

from groundwatch.model import (
    DecodedPacket,
    DecodeResult,
    LimitState,
    ParamValue,
    RawFrame,
    Rejection,
    RejectReason,
    TmFrameHeader,
)

S = 1_000_000_000


def result(
    t_ns: int,
    station: str = "gs1",
    spacecraft: str | None = "lander",
    vcid: int = 0,
    crc_ok: bool = True,
    vc_gap: int = 0,
    params: dict[str, float] | None = None,
    limits: dict[str, LimitState] | None = None,
    size: int = 100,
    idle: bool = False,
    source: str = "live",
) -> DecodeResult:
    frame = RawFrame(b"\x00" * size, t_ns, station, source)
    header = TmFrameHeader(scid=42, vcid=vcid, mcfc=0, vcfc=0, fhp=0, idle=idle)
    packets = []
    if params:
        pv = {k: ParamValue(raw=v, eng=v, limit=(limits or {}).get(k)) for k, v in params.items()}
        packets.append(
            DecodedPacket(t_ns, station, source, spacecraft or "?", "pkt", 0, header, params=pv)
        )
    rejections = []
    if not crc_ok:
        rejections.append(
            Rejection(
                RejectReason.BAD_CRC, "crc", frame.data, t_ns, station, source, spacecraft, vcid
            )
        )
    return DecodeResult(
        frame=frame,
        spacecraft=spacecraft,
        header=header if spacecraft else None,
        crc_ok=crc_ok,
        valid=crc_ok and spacecraft is not None,
        idle_frame=idle,
        vc_gap=vc_gap,
        packets=packets if crc_ok else [],
        rejections=rejections,
    )
