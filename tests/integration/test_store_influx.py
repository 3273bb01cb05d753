"""StoreSink against the real influxd: exact round trip, partial writes."""

from __future__ import annotations

import math
from pathlib import Path

from groundwatch import services
from groundwatch.model import Point
from groundwatch.services import ServiceHandle
from groundwatch.store.sink import StoreSink

from .store_helpers import T0, cfg, expected, feed, read_tm, wait_drained

AWKWARD = [
    'quote " and backslash \\ end\\',
    "comma, equals= space  tab\t",
    "newline\nin the middle",
    "unicode: Δv → 0 ✓",
    "",
    '\\"',
]
FLOATS = [0.1 + 0.2, 1e16, 5e-324, 1.7976931348623157e308, -2.5e-310, 123456789.12345679, -0.0]


async def test_points_are_read_back_exactly(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    sink = StoreSink.from_config(cfg(tmp_path, influxd.url, influx_db))
    await sink.start()
    pts = [
        Point("strings", {"station": "gs 1,a=b"}, {"s": s, "n": i}, T0 + i)
        for i, s in enumerate(AWKWARD)
    ]
    pts += [Point("floats", {}, {"f": f, "b": i % 2 == 0}, T0 + i) for i, f in enumerate(FLOATS)]
    pts.append(Point("floats", {}, {"f": math.nan, "b": True}, T0 + 100))  # f dropped, counted
    assert await sink.put(pts)
    await sink.stop()
    assert sink.encode_stats.fields_dropped == 1

    res = services.influx_query(influxd.url, "SELECT * FROM strings", db=influx_db)
    rows = res["results"][0]["series"][0]["values"]  # type: ignore[index]
    cols = res["results"][0]["series"][0]["columns"]  # type: ignore[index]
    got = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    for i, s in enumerate(AWKWARD):
        assert got[T0 + i]["s"] == s and got[T0 + i]["n"] == i
        assert got[T0 + i]["station"] == "gs 1,a=b"

    res = services.influx_query(influxd.url, "SELECT f, b FROM floats", db=influx_db)
    rows = res["results"][0]["series"][0]["values"]  # type: ignore[index]
    by_t = {r[0]: (r[1], r[2]) for r in rows}
    for i, f in enumerate(FLOATS):
        value, flag = by_t[T0 + i]
        # == also holds for -0.0: the query API's JSON prints it as 0, the sign is not readable
        assert float(value) == f
        assert flag is (i % 2 == 0)
    assert by_t[T0 + 100] == (None, True)


async def test_batches_arrive_exactly_once(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    durable: list[object] = []
    sink = StoreSink.from_config(cfg(tmp_path, influxd.url, influx_db), on_durable=durable.append)
    await sink.start()
    assert await feed(sink, 0, 3000, gap=0) == 3000
    await sink.stop()
    assert read_tm(influxd.url, influx_db) == expected(0, 3000)
    assert durable == list(range(0, 3000, 50))  # every checkpoint, in order


async def test_partial_write_dead_letters_the_bad_line_and_keeps_going(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    c = cfg(tmp_path, influxd.url, influx_db)
    sink = StoreSink.from_config(c)
    await sink.start()
    await feed(sink, 0, 100, gap=0)  # "v" is a float field from now on
    await wait_drained(sink)
    bad = Point("tm", {"spacecraft": "lander", "station": "gs1"}, {"v": "oops"}, T0 + 7)
    mixed = [Point("tm", {"spacecraft": "lander", "station": "gs1"}, {"v": 0.5}, T0 - 1), bad]
    assert await sink.put(mixed)
    await feed(sink, 100, 100, gap=0)
    await wait_drained(sink)
    await sink.stop()
    data = read_tm(influxd.url, influx_db)
    assert data[T0 - 1] == (0.5, None)
    assert {t: data[t] for t in expected(0, 200)} == expected(0, 200)
    text = c.dead_letter.read_text()
    assert 'v="oops"' in text and "field type conflict" in text
    assert sink.counters.extra["dead_letter_lines"] == 1
    assert sink.spool.records == 0 and sink.counters.extra.get("write_failures", 0) == 0


async def test_refused_lines_the_reason_does_not_name_are_found_by_bisection(
    influxd: ServiceHandle, influx_db: str, tmp_path: Path
) -> None:
    c = cfg(tmp_path, influxd.url, influx_db, batch_size=1000)
    sink = StoreSink.from_config(c)
    await sink.start()
    seed = [Point("a", {}, {"x": 1.0}, T0), Point("b", {}, {"y": 1}, T0)]
    assert await sink.put(seed)
    await wait_drained(sink)
    good = [Point("a", {}, {"x": float(i)}, T0 + 10 + i) for i in range(50)]
    bad = [
        Point("a", {}, {"x": "text"}, T0 + 5),  # conflicts with float
        Point("b", {}, {"y": 2.5}, T0 + 6),  # conflicts with integer: not in the message
    ]
    assert await sink.put(good[:20] + bad + good[20:])
    await wait_drained(sink)
    await sink.stop()
    res = services.influx_query(influxd.url, "SELECT x FROM a", db=influx_db)
    rows = res["results"][0]["series"][0]["values"]  # type: ignore[index]
    assert {r[0]: r[1] for r in rows} == {T0: 1.0} | {p.time_ns: p.fields["x"] for p in good}
    text = c.dead_letter.read_text()
    assert 'a x="text"' in text and "b y=2.5" in text
    assert sink.counters.extra["dead_letter_lines"] == 2
    assert sink.spool.records == 0


async def test_auto_detects_influxdb_1x(influxd: ServiceHandle) -> None:
    from groundwatch.store.detect import detect_api, ping_version

    assert (await ping_version(influxd.url)).startswith("1.")
    assert await detect_api(influxd.url) == "v1"
