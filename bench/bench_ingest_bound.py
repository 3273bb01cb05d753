"""Where the CPU goes in live ingest, and the best ratio to the ceiling this machine allows.

    .venv/bin/python -m bench.bench_ingest_bound [--rates 1000,3000,6000] [--seconds 8]

On a small machine InfluxDB at its ceiling uses nearly every core, so every CPU second the
publisher, the broker and the subscriber spend per frame is taken from InfluxDB. Measured
from /proc/<pid>/stat (utime + stime, all threads):

* the ceiling: points/s of pre-built line-protocol batches, and influxd's CPU per point;
* the load alone: publisher and Mosquitto CPU per frame while a null subscriber (paho,
  QoS 1, acks every message, decodes and stores nothing) takes the frames, at a few rates.

With the subscriber's own CPU per frame (groundwatch's, from bench_ingest's run, or 0 for the
best any subscriber could do) the best points/s ratio to the ceiling is
``c_influx / (c_influx + (c_pub + c_broker + c_sub) / packets_per_frame)``.

The publisher speaks MQTT 3.1.1 itself over a plain socket (a few lines: CONNECT, QoS 1
PUBLISH, PUBACK counting) because paho costs tens of microseconds of Python per message, and
that CPU is taken from InfluxDB on this machine. Debian's mosquitto_pub cannot stand in: -l
sends one message per text line (the frames hold newline and NUL octets), and -f/-m/-s with
--repeat publish one identical payload (the merger drops repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import select
import socket
import statistics
import tempfile
import time
from binascii import crc_hqx  # CRC-16/CCITT-FALSE, as decoders.crc
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from groundwatch import services

DICTIONARY = Path(__file__).resolve().parents[1] / "missions" / "demo-lander.yaml"
TOPIC = b"gs/gs1/frames"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14, 15


def template_frame(packets: int) -> tuple[bytes, list[int]]:
    """One TM frame of ``packets`` housekeeping packets; offsets of their CUC time fields."""
    from groundwatch.decoders.dictionary import load_dictionary
    from groundwatch.decoders.packing import TmFramePacker
    from groundwatch.decoders.space_packet import build_space_packet

    d = load_dictionary(DICTIONARY)
    hk = d.packet("housekeeping")
    data = hk.build({}, obt_ns=time.time_ns())
    pkts = [build_space_packet(hk.apid or 0, i, data, sec_hdr_flag=True) for i in range(packets)]
    frame = TmFramePacker(0x2A, 1, d.framing).frames_for(pkts)[0]
    size = len(pkts[0])
    offsets = [6 + i * size + 6 for i in range(packets)]  # frame header, packet header
    return frame, offsets


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


class FramePublishes:
    """QoS 1 PUBLISH packets of distinct frames: one template, patched in place per frame.

    Frame n gets frame counts n, on-board times n * packets + k and its own FECF (the merger
    drops repeated frames), and packet id ``n % 65535 + 1``. The FECF is updated, not
    recomputed: a CRC is linear, so crc(template ^ delta) = crc(template) ^ crc0(delta), and
    crc0 of one changed octet at a known place comes from a table (crc_hqx over the whole
    frame costs ~6 us, more than the rest of the publisher's work per frame)."""

    def __init__(self, packets: int, envelope: bool = False) -> None:
        self.envelope = False
        frame, offsets = template_frame(packets)
        var = len(TOPIC).to_bytes(2, "big") + TOPIC
        head = b"\x32" + _varint(len(var) + 2 + len(frame)) + var
        self.pid_at = len(head)
        at = self.frame_at = self.pid_at + 2
        self.template = head + b"\0\0" + frame
        self.offsets = [at + o for o in offsets]
        self.crc_end = len(self.template) - 2
        self.crc = crc_hqx(frame[:-2], 0xFFFF)
        changed = [at + 2, at + 3] + [o + i for o in self.offsets for i in range(4)]
        self.crc_tables = {
            p: [crc_hqx(bytes([v ^ self.template[p]]) + bytes(self.crc_end - p - 1), 0)
                for v in range(256)]
            for p in changed
        }  # fmt: skip
        for n in (1, 0x1234567):  # the tables agree with the CRC of the whole frame
            b = self.build(n)
            assert crc_hqx(memoryview(b)[at:], 0xFFFF) == 0, n
        if envelope:  # the same frames in groundwatch's JSON envelope, with a station ERT
            self.envelope = True
            size = len(self._payload(frame, time.time_ns()))  # fixed: base64, 19-digit ns
            var = len(TOPIC).to_bytes(2, "big") + TOPIC
            self.env_head = b"\x32" + _varint(len(var) + 2 + size) + var

    @staticmethod
    def _payload(frame: bytes, ert_ns: int) -> bytes:
        return (
            b'{"frame":"' + base64.b64encode(frame) + b'","ert":' + str(ert_ns).encode()
            + b',"station":"gs1","rssi_dbm":-105.5,"snr_db":8.25,"freq_offset_hz":-420.0,'
            b'"crc_ok":true}'
        )  # fmt: skip

    def _enveloped(self, n: int) -> bytearray:
        self.envelope = False
        frame = bytes(self.build(n)[self.frame_at :])
        self.envelope = True
        pid = (n % 65535 + 1).to_bytes(2, "big")
        return bytearray(self.env_head + pid + self._payload(frame, time.time_ns()))

    def build(self, n: int) -> bytearray:
        if self.envelope:
            return self._enveloped(n)
        b = bytearray(self.template)
        at, tables = self.frame_at, self.crc_tables
        b[self.pid_at : at] = (n % 65535 + 1).to_bytes(2, "big")
        b[at + 2] = b[at + 3] = count = n & 0xFF  # master and virtual channel frame counts
        crc = self.crc ^ tables[at + 2][count] ^ tables[at + 3][count]
        k = n * len(self.offsets)
        for off in self.offsets:  # CUC coarse time: a distinct on-board time per packet
            cuc = (k & 0xFFFFFFFF).to_bytes(4, "big")
            b[off : off + 4] = cuc
            crc ^= (
                tables[off][cuc[0]] ^ tables[off + 1][cuc[1]] ^ tables[off + 2][cuc[2]]
                ^ tables[off + 3][cuc[3]]
            )  # fmt: skip
            k += 1
        b[self.crc_end :] = crc.to_bytes(2, "big")
        return b


def publisher(
    port: int,
    rate: float,
    seconds: float,
    packets: int,
    report: Connection,
    envelope: bool = False,
) -> None:
    """Publish ``rate`` distinct frames/s at QoS 1 for ``seconds`` (at most ``window``
    unacknowledged; ``envelope``: in JSON station envelopes); report ("start", cpu) when
    timing starts and a result dict at the end."""
    pubs = FramePublishes(packets, envelope)
    window = 2000  # in flight, unacknowledged; well below the 65535 packet ids
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cid = b"bench-pub"
    var = b"\x00\x04MQTT\x04\x02\x00\x00"  # MQTT 3.1.1, clean session, no keepalive
    body = var + len(cid).to_bytes(2, "big") + cid
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    connack = b""
    while len(connack) < 4:
        connack += sock.recv(4 - len(connack))
    assert connack[:2] == b"\x20\x02" and connack[3] == 0, connack
    sent = acked = 0
    pending = b""

    def read_acks(timeout: float) -> None:
        nonlocal acked, pending
        if not select.select([sock], [], [], timeout)[0]:
            return
        data = pending + sock.recv(1 << 16)
        i, end = 0, len(data)
        while end - i >= 2 and end - i >= 2 + data[i + 1]:  # acks are 2 + 2 octets
            acked += data[i] >> 4 == 4  # PUBACK
            i += 2 + data[i + 1]
        pending = data[i:]

    cpu0 = time.process_time()
    report.send(("start", cpu0))
    start = time.monotonic()
    while (now := time.monotonic() - start) < seconds:
        due = min(int(now * rate), acked + window)
        if due > sent:
            sock.sendall(b"".join([pubs.build(n) for n in range(sent, due)]))
            sent = due
        read_acks(0.005)  # a tick: 200 wake-ups a second, frames sent in batches
    deadline = time.monotonic() + 30
    while acked < sent and time.monotonic() < deadline:
        read_acks(0.05)
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu0
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    report.send({"sent": sent, "acked": acked, "cpu_s": cpu, "wall_s": wall})


def null_subscriber(port: int, report: Connection) -> None:
    """Receives frames at QoS 1 and acks them (paho does, after on_message); nothing else.
    Answers each request with the count so far; stops on "stop"."""
    import paho.mqtt.client as mqtt

    got = [0]

    def on_message(c: Any, u: Any, m: Any) -> None:
        got[0] += 1

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-null")
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.subscribe("gs/+/frames", qos=1)
    c.loop_start()
    report.send("ready")
    while report.recv() != "stop":
        report.send(got[0])
    c.loop_stop()
    c.disconnect()
    report.send(got[0])


@dataclass
class LoadCost:
    rate: float
    frames: int
    received: int
    wall_s: float
    pub_us: float  # publisher CPU per frame
    broker_us: float  # Mosquitto CPU per frame


def measure_load(
    mosq: services.ServiceHandle, rate: float, seconds: float, packets: int
) -> LoadCost:
    """Publisher and broker CPU per frame with a null subscriber at ``rate`` frames/s."""
    ctx = mp.get_context("spawn")
    sub_end, sub_child = ctx.Pipe()
    sub = ctx.Process(target=null_subscriber, args=(mosq.port, sub_child))
    sub.start()
    assert sub_end.poll(20) and sub_end.recv() == "ready"
    time.sleep(0.3)  # the SUBSCRIBE reaches the broker
    pub_end, pub_child = ctx.Pipe()
    pub = ctx.Process(target=publisher, args=(mosq.port, rate, seconds, packets, pub_child))
    pub.start()
    assert pub_end.poll(60) and pub_end.recv()[0] == "start"
    b0 = cpu_s(mosq.pid)
    result = pub_end.recv()
    received, deadline = -1, time.monotonic() + 30
    while received < result["acked"] and time.monotonic() < deadline:
        sub_end.send("count")  # the broker's work ends when the subscriber has them all
        received = sub_end.recv()
        time.sleep(0.05)
    b1 = cpu_s(mosq.pid)
    sub_end.send("stop")
    sub_end.recv()
    pub.join(10)
    sub.join(10)
    n = max(1, result["acked"])
    return LoadCost(
        rate, result["acked"], received, result["wall_s"], result["cpu_s"] / n * 1e6,
        (b1 - b0) / n * 1e6,
    )  # fmt: skip


@dataclass
class Ceiling:
    points_per_s: float  # median over rounds
    influx_us: float  # influxd CPU per point
    influx_cores: float  # influxd CPU seconds per second while posting
    poster_us: float  # this process's CPU per point (aiohttp posting pre-built batches)


def measure_ceiling(influx: services.ServiceHandle, rounds: int = 3, n: int = 60_000) -> Ceiling:
    """Raw line-protocol ingest of the same influxd (bench_store.ceiling: pre-built batches
    of 5000, two in flight), with influxd's CPU per point; ``rounds`` runs, median rate."""
    from bench.bench_store import ceiling
    from groundwatch.model import Point
    from groundwatch.store.lineprotocol import encode_lines

    def lines(first: int, count: int) -> list[bytes]:
        tags = {"spacecraft": "demo-lander", "station": "gs1", "source": "live"}
        return encode_lines(
            [
                Point("housekeeping", tags, {f"p{j}": j * 0.5 + i for j in range(46)},
                      10**18 + i * 1000)
                for i in range(first, first + count)
            ]
        )  # fmt: skip

    services.influx_query(influx.url, 'CREATE DATABASE "ceiling"', method="POST")
    asyncio.run(ceiling(influx.url, "ceiling", lines(0, 5000), 5000))  # series exist first
    rates: list[float] = []
    influx_cpu = poster_cpu = wall = 0.0
    for r in range(rounds):
        body = lines(5000 + r * n, n)
        c0, p0 = cpu_s(influx.pid), time.process_time()
        s = asyncio.run(ceiling(influx.url, "ceiling", body, 5000))
        influx_cpu += cpu_s(influx.pid) - c0
        poster_cpu += time.process_time() - p0
        wall += s
        rates.append(n / s)
    total = rounds * n
    return Ceiling(
        statistics.median(rates), influx_cpu / total * 1e6, influx_cpu / wall,
        poster_cpu / total * 1e6,
    )  # fmt: skip


def ratio_bound(influx_us_per_point: float, other_us_per_frame: float, packets: int) -> float:
    """Best points/s ratio to the ceiling when each frame also costs ``other_us_per_frame``."""
    return influx_us_per_point / (influx_us_per_point + other_us_per_frame / packets)


def print_load(costs: list[LoadCost]) -> None:
    print("load alone (null subscriber: receive + PUBACK only):")
    for c in costs:
        print(
            f"  {c.rate:6.0f} frames/s offered, {c.frames / c.wall_s:6.0f} acked/s, "
            f"{c.received} received of {c.frames}: publisher {c.pub_us:5.1f} us/frame, "
            f"mosquitto {c.broker_us:5.1f} us/frame"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,2000,3000")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--packets", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        mosq = services.start_mosquitto(tmp / "mosquitto")
        influx = services.start_influxd(tmp / "influxdb", database="bench")
        try:
            ceil = measure_ceiling(influx)
            costs = [
                measure_load(mosq, float(r), args.seconds, args.packets)
                for r in args.rates.split(",")
            ]
        finally:
            services.stop_pid(mosq.pid)
            services.stop_pid(influx.pid)
    print(
        f"ceiling: {ceil.points_per_s:.0f} points/s; influxd {ceil.influx_us:.1f} us/point "
        f"({ceil.influx_cores:.2f} cores), poster {ceil.poster_us:.1f} us/point"
    )
    print_load(costs)
    best = min(costs, key=lambda c: c.pub_us + c.broker_us)
    load_us = best.pub_us + best.broker_us
    ci, bound = ceil.influx_us, ratio_bound(ceil.influx_us, load_us, args.packets)
    print(
        f"bound, any subscriber: {ci:.1f} / ({ci:.1f} + {load_us:.1f}/{args.packets}) = {bound:.2f}"
    )


if __name__ == "__main__":
    main()
