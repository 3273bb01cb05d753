"""Decode speed of the demo dictionary's housekeeping packet (44 parameters, mixed types).

    .venv/bin/python bench/bench_dictionary.py [--packets 2000] [--rounds 5]

Measured in one run, on one core, over the same random packets:

(a) the generated fast path (``layout.decode``: one ``struct.Struct`` unpack, masks,
    inlined calibrations, enum labels, giving ``PacketColumns``: engineering and raw value
    tuples; limit states and ``ParamValue`` objects only when the mapping is read);
(b) Construct's plain parse of the same layout (``layout.struct.parse``), and the full
    decode through it (``layout.decode_construct``);
(c) a hand-written ``struct.unpack_from`` decoder of the same layout, below, producing the
    ``ParamValue`` dictionary the fast path's columns read as (checked equal before timing;
    the hand-written decoder builds every ParamValue, the columns do not).

The raw-value stage alone (fast path raws vs. the hand-written unpack and masks) is shown
too. Ratios are against (c). Speed figures are only meaningful as ratios within one run.

XTCE case (``--xtce``, on by default): the CTIM flight database (1.6 MB XTCE, 38 packets,
~9,500 parameters) from ``tests/data/xtce``: its load time, and whole-packet decode speed
per value of its real packets through the frame decoder, with the dictionary loaded from
the XTCE file and from its YAML import, against space_packet_parser (a development
dependency) parsing the same packets from the same XTCE file.
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.decoders.layout import CompiledLayout
from groundwatch.model import ParamValue

DEMO = Path(__file__).resolve().parents[1] / "missions" / "demo-lander.yaml"

# -- (c) the hand-written decoder -----------------------------------------------------
# Layout of missions/demo-lander.yaml packet "housekeeping", written from its table.
HK = struct.Struct(">IHBBHIBIBBHHHfffffhhhhhhHBHBhhbbBHI")
SW_MODE = {0: "BOOT", 1: "SAFE", 2: "CRUISE", 3: "DESCENT", 4: "SURFACE"}
HEATER = {0: "OFF", 1: "AUTO", 2: "MANUAL", 3: "SURVIVAL"}
LINK = {0: "IDLE", 1: "TELEMETRY", 2: "PLAYBACK", 3: "DUMP"}
ANTENNA = {0: "LGA", 1: "MGA", 2: "HGA"}
EPOCH_NS = 946_728_000_000_000_000  # 2000-01-01T12:00:00Z


class BadEnum(Exception):
    pass


def _label(table: dict[int, str], raw: int) -> str:
    label = table.get(raw)
    if label is None:
        raise BadEnum(raw)
    return label


def hand_raws(data: bytes) -> list[Any]:
    (coarse, fine, mode, version, boots, uptime, cpu, mem, wdt, flags, opcode, acc, rej,
     obc, psu, gx, gy, gz, mx, my, mz, w1, w2, w3, adc_a, adc_b, adc_c, adc_d, sun, earth,
     sband, xband, storage, link_hi, link_lo) = HK.unpack_from(data)  # fmt: skip
    link = (link_hi << 32) | link_lo
    seq = (link >> 29) & 0xFFF
    return [
        coarse, fine, mode >> 4, mode & 15, version, boots, uptime, cpu, mem, wdt,
        flags >> 7 == 1, (flags >> 6) & 1 == 1, (flags >> 5) & 1 == 1, (flags >> 4) & 1 == 1,
        (flags >> 3) & 1 == 1, (flags >> 1) & 3, opcode, acc, rej, obc, psu, gx, gy, gz,
        mx, my, mz, w1, w2, w3, adc_a >> 4, ((adc_a & 15) << 8) | adc_b, adc_c >> 4,
        ((adc_c & 15) << 8) | adc_d, sun, earth, sband, xband, storage, link >> 45,
        (link >> 44) & 1 == 1, (link >> 42) & 3, (link >> 41) & 1 == 1,
        seq - 4096 if seq & 0x800 else seq, (link >> 9) & 0xFFFFF, (link >> 8) & 1 == 1,
    ]  # fmt: skip


def hand_decode(data: bytes, limits: dict[str, Any]) -> tuple[dict[str, ParamValue], int]:
    (coarse, fine, mode, version, boots, uptime, cpu, mem, wdt, flags, opcode, acc, rej,
     obc, psu, gx, gy, gz, mx, my, mz, w1, w2, w3, adc_a, adc_b, adc_c, adc_d, sun, earth,
     sband, xband, storage, link_hi, link_lo) = HK.unpack_from(data)  # fmt: skip
    pv = ParamValue
    link = (link_hi << 32) | link_lo
    seq = (link >> 29) & 0xFFF
    seq = seq - 4096 if seq & 0x800 else seq
    sw_mode, heater, link_mode, antenna = mode >> 4, (flags >> 1) & 3, link >> 45, (link >> 42) & 3
    adc_5v = ((adc_a & 15) << 8) | adc_b
    cpu_eng, adc_5v_eng = 0.0 + 0.5 * cpu, 0.0 + 0.002 * adc_5v
    f1, f2, f3, f4, f5 = (flags >> 7 == 1, (flags >> 6) & 1 == 1, (flags >> 5) & 1 == 1,
                          (flags >> 4) & 1 == 1, (flags >> 3) & 1 == 1)  # fmt: skip
    e1, e2, e3, e4 = (link >> 44) & 1 == 1, (link >> 41) & 1 == 1, (link >> 8) & 1 == 1, seq
    params = {
        "sw_mode": pv(sw_mode, _label(SW_MODE, sw_mode), None, None),
        "sw_submode": pv(mode & 15, mode & 15, None, None),
        "sw_version": pv(version, version, None, None),
        "boot_count": pv(boots, boots, None, None),
        "uptime": pv(uptime, uptime, "s", None),
        "cpu_load": pv(cpu, cpu_eng, "%", limits["cpu_load"](cpu_eng)),
        "mem_free": pv(mem, mem, "B", None),
        "watchdog_resets": pv(wdt, wdt, None, None),
        "safe_mode_flag": pv(f1, f1, None, None),
        "fdir_enabled": pv(f2, f2, None, None),
        "gnc_powered": pv(f3, f3, None, None),
        "prop_powered": pv(f4, f4, None, None),
        "payload_powered": pv(f5, f5, None, None),
        "heater_mode": pv(heater, _label(HEATER, heater), None, None),
        "last_opcode": pv(opcode, opcode, None, None),
        "cmds_accepted": pv(acc, acc, None, None),
        "cmds_rejected": pv(rej, rej, None, None),
        "obc_temp": pv(obc, obc, "degC", limits["obc_temp"](obc)),
        "psu_temp": pv(psu, psu, "degC", None),
        "gyro_x": pv(gx, gx, "deg/s", None),
        "gyro_y": pv(gy, gy, "deg/s", None),
        "gyro_z": pv(gz, gz, "deg/s", None),
        "mag_x": pv(mx, 0.0 + 2.0 * mx, "nT", None),
        "mag_y": pv(my, 0.0 + 2.0 * my, "nT", None),
        "mag_z": pv(mz, 0.0 + 2.0 * mz, "nT", None),
        "wheel_speed_1": pv(w1, 0.0 + 0.5 * w1, "rpm", None),
        "wheel_speed_2": pv(w2, 0.0 + 0.5 * w2, "rpm", None),
        "wheel_speed_3": pv(w3, 0.0 + 0.5 * w3, "rpm", None),
        "adc_ref": pv(adc_a >> 4, 0.0 + 0.001 * (adc_a >> 4), "V", None),
        "adc_5v": pv(adc_5v, adc_5v_eng, "V", limits["adc_5v"](adc_5v_eng)),
        "adc_12v": pv(adc_c >> 4, 0.0 + 0.005 * (adc_c >> 4), "V", None),
        "adc_28v": pv(
            ((adc_c & 15) << 8) | adc_d, 0.0 + 0.01 * (((adc_c & 15) << 8) | adc_d), "V", None
        ),
        "sun_angle": pv(sun, 0.0 + 0.01 * sun, "deg", None),
        "earth_angle": pv(earth, 0.0 + 0.01 * earth, "deg", None),
        "sband_temp": pv(sband, sband, "degC", None),
        "xband_temp": pv(xband, xband, "degC", None),
        "storage_used": pv(storage, storage, "%", None),
        "link_mode": pv(link_mode, _label(LINK, link_mode), None, None),
        "encryption": pv(e1, e1, None, None),
        "antenna": pv(antenna, _label(ANTENNA, antenna), None, None),
        "ranging": pv(e2, e2, None, None),
        "seq_errors": pv(e4, e4, None, None),
        "event_count": pv((link >> 9) & 0xFFFFF, (link >> 9) & 0xFFFFF, None, None),
        "checksum_ok": pv(e3, e3, None, None),
    }
    # same rounding of the fine time as groundwatch.decoders.timecodes.decode_cuc
    obt = EPOCH_NS + coarse * 1_000_000_000 + ((fine * 1_000_000_000 + 0x8000) >> 16)
    return params, obt


# -- measurement ----------------------------------------------------------------------


def random_packets(layout: CompiledLayout, count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    packets = []
    for _ in range(count):
        eng: dict[str, Any] = {}
        for info in layout.parameters:
            if info.type == "derived":
                continue
            field = next(f for f in layout.value_field_specs() if f.name == info.name)
            if info.enum:
                eng[info.name] = rng.choice(list(info.enum.values()))
            elif field.kind.value == "float":
                eng[info.name] = rng.uniform(-100.0, 100.0)
            elif field.kind.value == "bool":
                eng[info.name] = rng.random() < 0.5
            else:
                low, high = field.int_range()
                raw = rng.randint(low, high)
                cal = layout.meta(info.name).calibration
                eng[info.name] = cal.to_eng(raw) if cal else raw
        packets.append(layout.build(eng, EPOCH_NS + rng.randrange(2**32) * 1_000_000_000))
    return packets


def best_rates(
    decoders: list[tuple[str, Callable[[bytes], Any], list[bytes]]], rounds: int
) -> list[tuple[str, float]]:
    """Packets/s of each decoder, best of ``rounds``; rounds interleave the decoders so a
    busy moment on a shared machine hits them all alike."""
    best = {label: float("inf") for label, _, _ in decoders}
    for _ in range(rounds):
        for label, fn, packets in decoders:
            start = time.perf_counter()
            for data in packets:
                fn(data)
            best[label] = min(best[label], (time.perf_counter() - start) / len(packets))
    return [(label, 1.0 / best[label]) for label, _, _ in decoders]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    layout = load_dictionary(DEMO).packet("housekeeping")
    packets = random_packets(layout, args.packets)
    limits = {n: layout.meta(n).limits.state for n in ("cpu_load", "obc_temp", "adc_5v")}  # type: ignore[union-attr]
    for data in packets:  # (c) decodes the same layout to the same values
        params, obt = layout.decode(data)  # columns: compared as the mapping they are
        assert repr(hand_decode(data, limits)) == repr((dict(params), obt))
        assert repr(hand_raws(data)) == repr(layout.fast.raws(data))  # type: ignore[union-attr]
    for data in packets[:50]:  # and so does Construct
        params, obt = layout.decode(data)
        assert repr(layout.decode_construct(data)) == repr((dict(params), obt))
    n_params = len(layout.parameters)
    slow = packets[: max(1, len(packets) // 10)]  # Construct is ~50x slower: fewer packets
    fast = layout.fast
    assert fast is not None
    rows = best_rates(
        [
            ("(c) hand-written struct decode", lambda d: hand_decode(d, limits), packets),
            ("(a) generated fast path decode", layout.decode, packets),
            ("(b) Construct parse + stage 2", layout.decode_construct, slow),
            ("(b) Construct plain parse only", layout.struct.parse, slow),
            ("(c) hand-written raws only", hand_raws, packets),
            ("(a) fast path raws only", fast.raws, packets),
        ],
        args.rounds,
    )
    baseline = {"decode": rows[0][1], "raws": rows[4][1]}
    print(
        f"housekeeping packet: {layout.size} octets, {n_params} parameters, {len(packets)} packets"
    )
    print(f"{'decoder':34} {'packets/s':>11} {'params/s':>12} {'vs hand':>8}")
    for label, rate in rows:
        base = baseline["raws" if "raws" in label else "decode"]
        print(f"{label:34} {rate:11,.0f} {rate * n_params:12,.0f} {rate / base:8.2f}")


def xtce_case(rounds: int) -> None:
    import gzip
    import tempfile
    import warnings

    import yaml

    from groundwatch.decoders.api import Framing, FramingDef
    from groundwatch.decoders.frame_decoder import FrameDecoder
    from groundwatch.decoders.space_packet import iter_space_packets
    from groundwatch.decoders.xtce_import import xtce_document
    from groundwatch.model import RawFrame

    data = Path(__file__).resolve().parents[1] / "tests" / "data" / "xtce"
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "ctim.xml"
        xml.write_bytes(gzip.decompress((data / "ctim_xtce_v1.xml.gz").read_bytes()))
        start = time.perf_counter()
        from_xtce = load_dictionary(xml)
        load_s = time.perf_counter() - start
        yaml_file = Path(tmp) / "ctim.yaml"
        yaml_file.write_text(yaml.safe_dump(xtce_document(xml), sort_keys=False))
        start = time.perf_counter()
        from_yaml = load_dictionary(yaml_file)
        yaml_load_s = time.perf_counter() - start
        stream = gzip.decompress((data / "ctim_packets_sample.bin.gz").read_bytes())
        packets = [p.to_bytes() for p in iter_space_packets(stream)] * 20
        frames = [RawFrame(p, 0, "bench", "bench") for p in packets]
        values = 0
        for frame in frames:
            (packet,) = FrameDecoder(from_xtce, FramingDef(kind=Framing.NONE)).decode(frame).packets
            values += len(packet.params)
        try:
            import space_packet_parser as spp
        except ImportError:  # a development dependency
            spp = None
        decoders: list[tuple[str, Callable[[Any], Any], list[Any]]] = []
        for label, dictionary in (("YAML", from_yaml), ("XTCE", from_xtce)):
            decoder = FrameDecoder(dictionary, FramingDef(kind=Framing.NONE))
            decoders.append((f"groundwatch, {label} dictionary", decoder.decode, frames))
        if spp is not None:
            definition = spp.XtcePacketDefinition.from_xtce(
                xml, root_container_name="CCSDSTelemetryPacket"
            )
            warnings.simplefilter("ignore")  # it warns of every packet longer than its layout
            decoders.append(("space_packet_parser", definition.parse_bytes, packets))
        rows = best_rates(decoders, rounds)
    per_packet = values / len(packets)
    print(
        f"\nCTIM XTCE: loaded in {load_s:.2f} s (its YAML import: {yaml_load_s:.2f} s); "
        f"{len(packets)} real packets, {per_packet:.0f} values per packet"
    )
    print(f"{'decoder':34} {'packets/s':>11} {'values/s':>12} {'vs spp':>8}")
    base = rows[-1][1]
    for label, rate in rows:
        print(f"{label:34} {rate:11,.0f} {rate * per_packet:12,.0f} {rate / base:8.2f}")


if __name__ == "__main__":
    main()
    xtce_case(5)
