"""A recorded demo pass: the lunar descent as ``groundwatch demo`` publishes it, archived.

The same scenario, seed and framer as the demo (``--rate 10 --speedup 10``: one frame every
0.1 s of reception time, one scenario second per frame), written to a raw frame archive as a
live station would have (frames the link model lost never arrive), plus a contact plan: the
hakuto pass is planned to go on (its loss is unexpected), the nominal one ends at touchdown.
"""

from __future__ import annotations

from pathlib import Path

from groundwatch.archive.writer import FrameArchive
from groundwatch.decoders.dictionary import load_dictionary
from groundwatch.link.events import iso
from groundwatch.model import RawFrame
from groundwatch.sim.commands import make_scenario
from groundwatch.sim.framer import SimFramer

REPO = Path(__file__).resolve().parents[2]
DICTIONARY = REPO / "missions" / "demo-lander.yaml"
EXPECT_DIR = REPO / "tests" / "data" / "expect"
T0 = 1_790_000_000_000_000_000
FRAME_NS = 100_000_000  # --rate 10
STATION = "gs-moon-1"
SEED = 1  # the demo's
LOS_THRESHOLD_S = 3.0  # the demo's


def record_demo_pass(directory: Path, variant: str) -> tuple[int, int]:
    """Archive the pass; returns the reception times of its first and last frames."""
    d = load_dictionary(DICTIONARY)
    scenario = make_scenario(d, "lunar-descent", variant=variant, seed=SEED)
    framer = SimFramer(d, seed=SEED, start_ns=T0)
    archive = FrameArchive(directory)
    archive.open()
    first = last = None
    while (tick := scenario.next_tick(1.0)) is not None:
        for f in framer.frames(tick):
            if not f.sent:
                continue
            t = T0 + f.index * FRAME_NS
            archive.append(RawFrame(f.data, t, STATION, "live", "mqtt"), f"x-{STATION}")
            first = t if first is None else first
            last = t
    archive.close()
    assert first is not None and last is not None
    return first, last


def write_replay_config(tmp: Path, influx_url: str, database: str, variant: str,
                        first_ns: int, last_ns: int) -> Path:  # fmt: skip
    """The demo's settings; the contact plan says whether the end of the pass is planned."""
    end = last_ns + 3600 * 10**9 if variant == "hakuto" else last_ns
    schedule = tmp / "contacts.yaml"
    schedule.write_text(
        "contacts:\n"
        f"  - {{spacecraft: demo-lander, station: {STATION}, start: '{iso(first_ns - 60 * 10**9)}',"
        f" end: '{iso(end)}'}}\n"
    )
    return demo_settings_file(tmp, schedule, influx_url, database)


def demo_settings_file(
    tmp: Path,
    schedule: Path,
    influx_url: str,
    database: str,
    los_threshold: float = LOS_THRESHOLD_S,
) -> Path:
    """The demo's settings (LOS threshold, influx alert sink, no archive) with a contact plan."""
    cfg = tmp / "gw.toml"
    cfg.write_text(f"""
[mission]
dictionary = "{DICTIONARY}"
schedule = "{schedule}"

[store]
url = "{influx_url}"
database = "{database}"
spool_dir = "{tmp}/spool"
dead_letter = "{tmp}/dead-letter.lp"

[archive]
enabled = false
dir = "{tmp}/archive"

[link]
los_threshold = {los_threshold}

[[alerts]]
type = "influx"
""")
    return cfg
