"""Generate ``cygnss.yaml`` (a groundwatch dictionary) from CYGNSS's CSV packet definitions.

    .venv/bin/python tests/data/missions/cygnss_from_csv.py   # rewrites cygnss.yaml

The CSVs (``tests/data/cygnss/defs``) give each mnemonic's start byte and bit (MSB first,
counted from the start of the primary header), bit size and type. Type letters: U unsigned,
I signed, F float; the digits give the byte order (``1234`` big-endian, ``4321``/``21``
little-endian). Only packets whose APID occurs in the recorded stream are converted. The
primary header fields (bytes 0-5) are dropped: a groundwatch layout starts at the data
field. Conversion formulas that are linear (``X*0.8``, ``0.0016*x - 0.07``, ``0 57.29``)
become polynomial calibrations; the others (thermistor curves with ``iif``/``LN``) are
kept in the description and the parameter is left raw. State tables are not in the data.
``tests/unit/dictionary/test_real_data.py`` checks that the YAML is up to date.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFS = HERE.parent / "cygnss" / "defs"
OUTPUT = HERE / "cygnss.yaml"
STREAM_APIDS = [384, 386, 391, 392, 393, 394, 1313]
PRIMARY_HEADER_BITS = 48


def _apid_names() -> dict[int, str]:
    with (DEFS / "Overview.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    return {int(row[4]): row[0] for row in rows[1:] if len(row) > 4 and row[4].isdigit()}


def _linear(formula: str) -> list[float] | None:
    """Coefficients [c0, c1] when ``formula`` is linear in x, else None."""
    text = formula.strip()
    if not text:
        return None
    if re.fullmatch(r"[-+0-9.eE]+\s+[-+0-9.eE]+", text):
        c0, c1 = (float(part) for part in text.split())
        return [c0, c1]
    # Evaluated with groundwatch's own safe expression language, never eval().
    from groundwatch.decoders.expr import UnsafeExpression, compile_expression

    try:
        expression = compile_expression(text.replace("X", "x").replace("^", "**"))
    except UnsafeExpression:
        return None
    if expression.names != {"x"}:
        return None
    f0, f1, f2, f9 = (float(expression({"x": v})) for v in (0, 1, 2, 977))
    c1 = f1 - f0
    if abs((f2 - f0) - 2 * c1) > 1e-9 * max(1.0, abs(c1)) or abs(f9 - f0 - 977 * c1) > 1e-6 * max(
        1.0, abs(977 * c1)
    ):
        return None
    return [round(f0, 15), round(c1, 15)]


def _type(code: str, bits: int) -> dict[str, Any]:
    letter, digits = code[0], code[1:]
    little = digits in ("21", "4321", "87654321")
    if letter == "F":
        return {"type": f"float{bits}{'le' if little else ''}"}
    if letter == "U" and digits == "1" and bits > 8:
        return {"type": "bytes", "length": bits // 8}
    kind = "uint" if letter == "U" else "int"
    suffix = "le" if little and bits % 8 == 0 and bits > 8 else ""
    return {"type": f"{kind}{bits}{suffix}"}


def _packet(name: str, apid: int) -> dict[str, Any]:
    with (DEFS / f"{name}.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = [h.strip() for h in rows[0]]
    parameters: list[dict[str, Any]] = []
    seen: set[str] = set()
    position = PRIMARY_HEADER_BITS
    for row in rows[1:]:
        entry = dict(zip(header, (cell.strip() for cell in row), strict=False))
        start = int(entry["Start Byte"]) * 8 + int(entry["Start Bit"])
        bits = int(entry["Data Size"])
        if start < PRIMARY_HEADER_BITS:
            continue
        if start != position:
            raise SystemExit(f"{name}: {entry['Mnemonic']} starts at bit {start}, not {position}")
        position += bits
        mnemonic = entry["Mnemonic"]
        while mnemonic in seen:
            mnemonic += "_DUP"
        seen.add(mnemonic)
        param: dict[str, Any] = {"name": mnemonic, **_type(entry["Type"], bits)}
        if entry.get("Units"):
            param["unit"] = entry["Units"]
        description = entry.get("Description", "")
        formula = entry.get("Conversion Formula", "")
        coefficients = _linear(formula)
        if coefficients is not None and param["type"] != "bytes":
            param["calibration"] = {"polynomial": coefficients}
        elif formula:
            description += f" [conversion not applied: {formula}]"
        if entry.get("States"):
            description += f" [states: {entry['States']}]"
        if description:
            param["description"] = description
        parameters.append(param)
    return {
        "name": name,
        "apid": apid,
        "subsystem": name.split("_")[0],
        "description": f"CYGNSS {name} (from {name}.csv)",
        "parameters": parameters,
    }


def generate() -> str:
    names = _apid_names()
    document = {
        "mission": "cygnss",
        "spacecraft": [{"name": "CYGNSS-F7"}],
        "framing": {"kind": "none"},
        "packets": [_packet(names[apid], apid) for apid in STREAM_APIDS],
    }
    head = "# Generated by cygnss_from_csv.py from tests/data/cygnss/defs: do not edit.\n"
    return head + yaml.safe_dump(document, sort_keys=False, width=100)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[2] / "src"))
    OUTPUT.write_text(generate())
    print(f"wrote {OUTPUT}")
