"""Whole-process speed of ``groundwatch decode`` against space_packet_parser, same file, same run.

    .venv/bin/python bench/bench_decode_cli.py [--rounds 5] [--file F] [--xtce X] [--dictionary D]

Both are run as a user would run them on a capture: a fresh Python process that loads the
dictionary (groundwatch: the YAML; space_packet_parser: the XTCE of the same packets),
reads every packet of the file and writes one JSON line per packet (raw and engineering
value of every parameter) to a file. The default is the real JPSS-1 geolocation capture
(7,200 packets) in ``tests/data/jpss1``.

Each round runs the two processes one after the other; the best round of each counts. Time
is the child's CPU time (user + sys, from ``getrusage``), so other work on the machine does
not skew the ratio; wall time is shown too. The ratio is of whole processes (what a user
waits for); each is also run on an empty capture, so the start-up (imports, loading the
dictionary) and the cost per packet after it are shown apart. space_packet_parser is a
development dependency.

Both run from bytecode, as installed packages do: pip compiles space_packet_parser when it
installs it, so groundwatch's own modules are compiled first too (a checkout run with
PYTHONDONTWRITEBYTECODE would otherwise compile them again in every process). groundwatch's
dictionary cache is warmed by the first round, as it is for a user's second decode.
``groundwatch --help`` is timed too (its start is the CLI's: every command lists there).
"""

from __future__ import annotations

import argparse
import compileall
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "jpss1"
CAPTURE = DATA / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
XTCE = DATA / "jpss1_geolocation_xtce_v1.xml"
DICTIONARY = ROOT / "tests" / "data" / "missions" / "jpss1.yaml"

# The space_packet_parser side: the same work, written as its documentation shows.
SPP_SCRIPT = """
import json, sys
import space_packet_parser as spp

definition = spp.load_xtce(sys.argv[1])
write = sys.stdout.write
with open(sys.argv[2], "rb") as capture:
    for raw_packet in spp.ccsds_generator(capture):
        packet = definition.parse_bytes(raw_packet)
        line = {k: {"raw": getattr(v, "raw_value", v), "eng": v} for k, v in packet.items()}
        write(json.dumps(line) + "\\n")
"""


def run(command: list[str], out: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, JSON lines written) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with out.open("w") as stdout:
        subprocess.run(command, stdout=stdout, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with out.open() as lines:
        count = sum(
            1 for line in lines if line.startswith('{"kind": "packet"') or "PKT_APID" in line
        )
    return cpu, wall, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--file", type=Path, default=CAPTURE)
    parser.add_argument("--xtce", type=Path, default=XTCE)
    parser.add_argument("--dictionary", type=Path, default=DICTIONARY)
    args = parser.parse_args()
    commands = {
        "groundwatch decode": [
            sys.executable, "-m", "groundwatch", "decode", "-d", str(args.dictionary),
            "--format", "raw", "-i", str(args.file),
        ],
        "space_packet_parser": [sys.executable, "-c", SPP_SCRIPT, str(args.xtce), str(args.file)],
    }  # fmt: skip
    best: dict[str, tuple[float, float, int]] = {}
    start: dict[str, float] = {}
    compileall.compile_dir(ROOT / "src" / "groundwatch", quiet=1)
    helped = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.dat"
        empty.write_bytes(b"")
        for _ in range(args.rounds):
            for name, command in commands.items():
                cpu, wall, count = run(command, Path(tmp) / "out.jsonl")
                if name not in best or cpu < best[name][0]:
                    best[name] = (cpu, wall, count)
                nothing = [empty if word == str(args.file) else word for word in command]
                cpu, _, _ = run([str(w) for w in nothing], Path(tmp) / "out.jsonl")
                start[name] = min(start.get(name, cpu), cpu)
            cpu, _, _ = run([sys.executable, "-m", "groundwatch", "--help"], Path(tmp) / "help")
            helped = min(helped, cpu)
    counts = {count for _, _, count in best.values()}
    if len(counts) != 1:
        raise SystemExit(f"the two decoders wrote different packet counts: {best}")
    packets = counts.pop()
    print(f"{args.file.name}: {packets} packets, best of {args.rounds} rounds, whole process")
    print(
        f"{'decoder':22} {'CPU s':>7} {'wall s':>7} {'us/packet':>10} {'start-up s':>11} "
        f"{'us/packet after start-up':>25}"
    )
    after = {}
    for name, (cpu, wall, _) in best.items():
        after[name] = (cpu - start[name]) / packets * 1e6
        print(
            f"{name:22} {cpu:7.3f} {wall:7.3f} {cpu / packets * 1e6:10.1f} "
            f"{start[name]:11.3f} {after[name]:25.1f}"
        )
    ratio = best["space_packet_parser"][0] / best["groundwatch decode"][0]
    marginal = after["space_packet_parser"] / after["groundwatch decode"]
    print(f"groundwatch decode is {ratio:.2f}x as fast as space_packet_parser per packet")
    print(f"(after start-up: {marginal:.2f}x)")
    print(f"groundwatch --help: {helped:.3f} s CPU")
    print(
        json.dumps(
            {
                "packets": packets,
                "ratio": round(ratio, 3),
                "after_start": round(marginal, 3),
                "help_s": round(helped, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
