"""Per-message cost of a station envelope against a bare frame, in one process and one run.

Run: ``.venv/bin/python bench/bench_envelope.py [--messages N] [--envelope json|tinygs|mqtt5]
[--profile]``. For each message it does exactly the per-message work the MQTT source and the
pipeline do around an enveloped frame and around a raw one: ``EnvelopeFrames.make`` (envelope,
station-time guard, unique-timestamp rule), the archive record (``encode_record``, version 2
with metadata), the station radio accounting and the link monitor's look at the station's
RSSI/SNR. Decoding and storing are left out: they are
the same for both. Prints µs per message for each, the difference and the ratio
envelope/raw, measured in the same run (CPU time, ``time.process_time``, best of rounds).
``--profile`` prints the cProfile of the envelope path.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from collections.abc import Callable

from groundwatch.archive.format import encode_record
from groundwatch.config import LinkConfig
from groundwatch.envelope import EnvelopeSettings
from groundwatch.ingest.station_time import EnvelopeFrames
from groundwatch.link.monitor import LinkMonitor
from groundwatch.link.radio import RadioAccounting
from groundwatch.model import LinkKey, RawFrame
from groundwatch.sim.envelopes import Envelope, Radio, wrap

S = 1_000_000_000
FRAME_BYTES = 223  # a typical LoRa/FSK TM frame
STATION = "gs-1"


def messages(kind: Envelope, n: int, t0: int) -> list[tuple[bytes, list[tuple[str, str]]]]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        radio = Radio(rssi_dbm=-105.0 + (i % 7), snr_db=8.0 - (i % 5) / 2)
        payload, props = wrap(kind, rng.randbytes(FRAME_BYTES), STATION, t0 + i * 10**6, radio)
        out.append((payload, props or []))
    return out


def path(kind: Envelope) -> Callable[[list[tuple[bytes, list[tuple[str, str]]]], int], None]:
    payload = {"json": "json", "tinygs": "json", "mqtt5": "mqtt5"}.get(kind.value, "raw")
    preset = "tinygs" if kind is Envelope.TINYGS else "groundwatch"
    settings = EnvelopeSettings(payload=payload, json_preset=preset)  # type: ignore[arg-type]

    def run(msgs: list[tuple[bytes, list[tuple[str, str]]]], t0: int) -> None:
        frames = EnvelopeFrames(settings, "mqtt")
        radio = RadioAccounting()
        monitor = LinkMonitor.from_config(LinkConfig(), [], {}, None)
        key = LinkKey("sc", STATION)
        for i, (body, props) in enumerate(msgs):
            item = frames.make(body, STATION, props, receipt_ns=t0 + i * 10**6 + 5 * 10**6)
            assert isinstance(item, RawFrame), item
            encode_record(item)
            if item.meta is not None:
                radio.observe("sc", item.station, item.meta)
                monitor.observe_radio(key, item.meta, item.ert_ns)

    return run


def timed(run: Callable[..., None], msgs: list, t0: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run(msgs, t0)
        best = min(best, time.process_time() - start)
    return best / len(msgs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--envelope", choices=["json", "tinygs", "mqtt5"], default="json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    kind = Envelope(args.envelope)
    t0 = time.time_ns() - 60 * S
    raw_msgs = messages(Envelope.RAW, args.messages, t0)
    env_msgs = messages(kind, args.messages, t0)
    raw_run, env_run = path(Envelope.RAW), path(kind)
    raw_us = env_us = float("inf")
    for _ in range(args.rounds):  # interleaved: a busy machine skews both alike
        raw_us = min(raw_us, timed(raw_run, raw_msgs, t0, 1))
        env_us = min(env_us, timed(env_run, env_msgs, t0, 1))
    print(f"messages: {args.messages}, frame {FRAME_BYTES} bytes, envelope {kind.value}")
    print(f"raw:      {raw_us:7.2f} µs/message")
    print(f"{kind.value + ':':9} {env_us:7.2f} µs/message  (+{env_us - raw_us:.2f} µs)")
    print(f"ratio {kind.value}/raw: {env_us / raw_us:.2f}")
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(env_run, env_msgs, t0)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
