"""The dictionary cache: a file loaded before loads from its snapshot (without pydantic), the
same dictionary as from the file; a changed file, a damaged or forged entry are never used;
the cache stays within its bounds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from groundwatch.decoders import dictionary_cache
from groundwatch.decoders.decode_cli import packet_line
from groundwatch.decoders.dictionary import MissionDictionary, load_dictionary
from groundwatch.decoders.dictionary_cache import DictionaryCache
from groundwatch.decoders.frame_decoder import FrameDecoder
from groundwatch.model import RawFrame
from groundwatch.sim.framer import SimFramer
from groundwatch.sim.scenario import GenericScenario

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data"
JPSS1 = DATA / "missions" / "jpss1.yaml"
JPSS1_XTCE = DATA / "jpss1" / "jpss1_geolocation_xtce_v1.xml"
JPSS1_CAPTURE = DATA / "jpss1" / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
DEMO = REPO / "missions" / "demo-lander.yaml"
EUROPA = DATA / "missions" / "europa_clipper.yaml"


def entries(cache: DictionaryCache) -> list[Path]:
    return sorted(cache.directory.glob("*.json"))


def unit(dictionary: MissionDictionary, name: str) -> str | None:
    return next(p.unit for p in dictionary.packet("geolocation").parameters if p.name == name)


def copy(source: Path, directory: Path) -> Path:
    target = directory / source.name
    target.write_bytes(source.read_bytes())
    return target


def jpss1_lines(dictionary: MissionDictionary, packets: int = 300) -> list[object]:
    decoder = FrameDecoder(dictionary)
    data, lines = JPSS1_CAPTURE.read_bytes(), []
    while data and len(lines) < packets:
        size = 7 + int.from_bytes(data[4:6], "big")
        lines += [
            packet_line(p, None) for p in decoder.decode(RawFrame(data[:size], 0, "gs")).packets
        ]
        data = data[size:]
    return lines


def demo_lines(dictionary: MissionDictionary) -> list[object]:
    scenario = GenericScenario(dictionary, seed=5)
    framer = SimFramer(dictionary, start_ns=1_780_000_000_000_000_000, seed=5)
    decoder = FrameDecoder(dictionary)
    lines = []
    for _ in range(30):
        tick = scenario.next_tick(1.0)
        assert tick is not None
        for frame in framer.frames(tick):
            result = decoder.decode(RawFrame(frame.data, 7, "gs"))
            lines += [packet_line(p, 7) for p in result.packets]
    return lines


def test_a_dictionary_loaded_before_loads_from_its_snapshot_as_the_same_dictionary(
    tmp_path: Path,
) -> None:
    cache = DictionaryCache(tmp_path / "cache")
    for source, lines in ((JPSS1, jpss1_lines), (JPSS1_XTCE, jpss1_lines), (DEMO, demo_lines)):
        fresh = load_dictionary(source)
        first = load_dictionary(source, cache=cache)  # validates the file, writes the entry
        key = cache.key(source.read_bytes(), "xtce" if source.suffix == ".xml" else "yaml")
        assert cache.get(key) is not None
        again = load_dictionary(source, cache=cache)
        assert lines(again) == lines(first) == lines(fresh)
        assert again.framing == fresh.framing and again.spacecraft == fresh.spacecraft
        assert again.parameters() == fresh.parameters() and again.warnings == fresh.warnings
        assert again.rules.keys() == fresh.rules.keys()
    assert len(entries(cache)) == 3


def test_the_second_load_needs_neither_pydantic_nor_yaml(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from groundwatch.decoders.dictionary import load_dictionary\n"
        "from groundwatch.decoders.dictionary_cache import DictionaryCache\n"
        f"d = load_dictionary({str(JPSS1)!r}, cache=DictionaryCache.default())\n"
        "print(len(d.packets), 'pydantic' in sys.modules, 'yaml' in sys.modules)\n"
    )
    env = {**os.environ, "GROUNDWATCH_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs == [["1", "True", "True"], ["1", "False", "False"]]


def test_a_changed_file_is_validated_again(tmp_path: Path) -> None:
    cache = DictionaryCache(tmp_path / "cache")
    source = copy(JPSS1, tmp_path)
    assert unit(load_dictionary(source, cache=cache), "ADGPSPOSX") == "m"
    source.write_text(source.read_text().replace("unit: m,", "unit: km,"))
    assert unit(load_dictionary(source, cache=cache), "ADGPSPOSX") == "km"
    assert len(entries(cache)) == 2
    source.write_text(source.read_text().replace("mission: jpss1", "mission: ''"))
    with pytest.raises(ValueError, match="mission"):  # an invalid file is refused, as ever
        load_dictionary(source, cache=cache)
    assert len(entries(cache)) == 2


def forge(path: Path, payload: bytes) -> None:
    """An entry written as the module writes one, with a valid digest."""
    key = path.stem
    header = {
        "format": dictionary_cache.FORMAT,
        "key": key,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "digest", "other-key", "python-layout", "unknown-record", "deep"],
)
def test_a_damaged_or_forged_entry_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = DictionaryCache(tmp_path / "cache")
    expected = jpss1_lines(load_dictionary(JPSS1))
    load_dictionary(JPSS1, cache=cache)
    [entry] = entries(cache)
    good = entry.read_bytes()
    header, payload = good.split(b"\n", 1)
    if damage == "garbage":
        entry.write_bytes(b"\x00\xff not json")
    elif damage == "truncated":
        entry.write_bytes(good[: len(good) // 2])
    elif damage == "digest":  # a changed value without a matching digest
        entry.write_bytes(header + b"\n" + payload.replace(b'"geolocation"', b'"geolocatioN"'))
    elif damage == "other-key":  # another dictionary's entry under this name
        other = json.loads(header)
        other["key"] = "0" * 64
        entry.write_bytes(json.dumps(other).encode() + b"\n" + payload)
    elif damage == "python-layout":  # a python layout would run code: never from a cache
        forge(entry, payload.replace(b'"python":null', b'"python":"os:system"'))
    elif damage == "unknown-record":  # only the schema's models are records
        forge(entry, payload.replace(b'"$":"PacketModel"', b'"$":"Popen"'))
    else:
        forge(entry, b"[" * 100_000 + b"]" * 100_000)
    assert b'"python":null' in payload and b'"$":"PacketModel"' in payload
    with pytest.raises(dictionary_cache.CorruptEntry):
        cache.get(entry.stem)
    loaded = load_dictionary(JPSS1, cache=cache)
    assert jpss1_lines(loaded) == expected
    assert entry.read_bytes() == good  # written again from the file
    assert cache.get(entry.stem) is not None


def test_a_snapshot_that_does_not_compile_is_replaced(tmp_path: Path) -> None:
    cache = DictionaryCache(tmp_path / "cache")
    load_dictionary(JPSS1, cache=cache)
    [entry] = entries(cache)
    good = entry.read_bytes()
    payload = good.split(b"\n", 1)[1]
    forge(entry, payload.replace(b'"type":"float32"', b'"type":"float99"', 1))
    assert cache.get(entry.stem) is not None  # well-formed, but it does not compile
    loaded = load_dictionary(JPSS1, cache=cache)
    assert {p.type for p in loaded.packet("geolocation").parameters} >= {"float32"}
    assert entry.read_bytes() == good


def test_python_layouts_are_never_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUNDWATCH_ALLOW_PYTHON_LAYOUTS", "1")
    cache = DictionaryCache(tmp_path / "cache")
    assert load_dictionary(EUROPA, cache=cache).packets
    assert entries(cache) == []


def test_the_cache_keeps_within_its_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dictionary_cache, "MAX_ENTRIES", 3)
    cache = DictionaryCache(tmp_path / "cache")
    sources = []
    for i in range(6):
        source = tmp_path / f"d{i}.yaml"
        source.write_text(JPSS1.read_text().replace("mission: jpss1", f"mission: m{i}"))
        sources.append(source)
        load_dictionary(source, cache=cache)
        written = cache.path(cache.key(source.read_bytes(), "yaml"))
        os.utime(written, (1_000_000 + i, 1_000_000 + i))  # one second apart: an order
    kept = entries(cache)
    newest = {cache.path(cache.key(s.read_bytes(), "yaml")) for s in sources[3:]}
    assert set(kept) == newest
    size = len(kept[0].read_bytes())
    monkeypatch.setattr(dictionary_cache, "MAX_TOTAL_BYTES", size + size // 2)
    load_dictionary(sources[0], cache=cache)
    assert len(entries(cache)) == 1  # the bytes bound, too
    monkeypatch.setattr(dictionary_cache, "MAX_ENTRY_BYTES", size // 2)
    [entry] = entries(cache)
    with pytest.raises(dictionary_cache.CorruptEntry):  # larger than an entry may be
        cache.get(entry.stem)
    load_dictionary(sources[1], cache=cache)  # too large to keep: loaded, not written
    assert entries(cache) == [entry]


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GROUNDWATCH_CACHE_DIR", str(tmp_path))
    assert DictionaryCache.default() is not None
    assert dictionary_cache.default_directory() == tmp_path
    monkeypatch.setenv("GROUNDWATCH_CACHE_DIR", "")
    assert DictionaryCache.default() is None
    monkeypatch.delenv("GROUNDWATCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert dictionary_cache.default_directory() == tmp_path / "xdg" / "groundwatch" / (
            "dictionaries"
        )


def test_an_unwritable_cache_only_costs_the_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cache = DictionaryCache(blocker / "cache")
    assert load_dictionary(JPSS1, cache=cache).packets


def test_an_entry_belongs_to_the_code_and_packages_that_made_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another kind of file, another schema or importer, another installed parser: another
    entry (an upgrade rewrites the package's files)."""
    content = JPSS1.read_bytes()
    yaml_key = DictionaryCache.key(content, "yaml")
    assert yaml_key == DictionaryCache.key(content, "yaml")
    assert DictionaryCache.key(content, "xtce") != yaml_key
    monkeypatch.setitem(dictionary_cache._SOURCES, "yaml", ("schema.py",))
    assert DictionaryCache.key(content, "yaml") != yaml_key
    monkeypatch.undo()
    site = tmp_path / "site"
    (site / "gw_parser").mkdir(parents=True)
    (site / "gw_parser" / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(dictionary_cache._PACKAGES, "yaml", ("gw_parser",))
    before = DictionaryCache.key(content, "yaml")
    (site / "gw_parser" / "__init__.py").write_text("VERSION = 2.0\n")  # upgraded
    assert DictionaryCache.key(content, "yaml") != before


def test_a_fifo_never_blocks_the_cache(tmp_path: Path) -> None:
    """A named pipe put in an entry's place is refused unread; a dictionary read from a pipe
    is loaded as ever, and not cached."""
    cache = DictionaryCache(tmp_path / "cache")
    load_dictionary(JPSS1, cache=cache)
    [entry] = entries(cache)
    good = entry.read_bytes()
    entry.unlink()
    os.mkfifo(entry)
    with pytest.raises(dictionary_cache.CorruptEntry, match="regular"):
        cache.get(entry.stem)
    assert load_dictionary(JPSS1, cache=cache).packets
    assert entry.read_bytes() == good
    pipe = tmp_path / "dictionary.yaml"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_bytes, args=(JPSS1.read_bytes(),))
    writer.start()
    try:
        assert load_dictionary(pipe, cache=cache).packets
    finally:
        writer.join(timeout=10)
    assert entries(cache) == [entry]
