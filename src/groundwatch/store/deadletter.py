"""Lines InfluxDB refused for good (400/422), and the file they are kept in.

InfluxDB 1.x answers a batch with bad lines by storing every other line and returning 400
``partial write: <first reason> dropped=N``. Retrying the batch is wrong (it fails again)
and dropping it loses nothing InfluxDB kept but also says nothing of which lines it did
not keep. ``refused_lines`` names them from the reason where it can (field type conflicts,
unparsable lines); the sink bisects whatever the reason does not explain (writes are
idempotent, so re-sending a stored line changes nothing).

The dead-letter file is plain text, one comment line with the time, status and reason,
then the refused lines exactly as sent, so an operator can fix and re-send them with curl.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from groundwatch.store.lineprotocol import field_type, parse_line

_TYPE_CONFLICT = re.compile(
    r'input field "(?P<field>(?:[^"\\]|\\.)*)" on measurement "(?P<meas>(?:[^"\\]|\\.)*)" '
    r"is type (?P<input>\w+), already exists as type (?P<existing>\w+)"
)


def _conflicting(lines: list[bytes], reason: str) -> set[int]:
    out: set[int] = set()
    for m in _TYPE_CONFLICT.finditer(reason):
        field_name = m.group("field").replace('\\"', '"')
        meas = m.group("meas").replace('\\"', '"')
        for i, line in enumerate(lines):
            try:
                parsed = parse_line(line)
            except ValueError:
                continue
            if parsed.measurement != meas or field_name not in parsed.fields:
                continue
            if field_type(parsed.fields[field_name]) == m.group("input"):
                out.add(i)
    return out


def refused_lines(lines: list[bytes], reason: str) -> set[int]:
    """Indexes of ``lines`` that ``reason`` says InfluxDB refused."""
    out = _conflicting(lines, reason)
    if "unable to parse" in reason:
        for i, line in enumerate(lines):
            if f"unable to parse '{line.decode('utf-8', 'replace')}'" in reason:
                out.add(i)
    return out


class DeadLetterFile:
    """Append-only; blocking (the sink calls ``write`` through ``asyncio.to_thread``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0

    def write(self, lines: list[bytes], status: int, reason: str) -> None:
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        one_line_reason = " ".join(reason.split())
        with open(self.path, "ab") as f:
            f.write(f"# {stamp} status={status} reason={one_line_reason}\n".encode())
            for line in lines:
                f.write(line + b"\n")
            f.flush()
        self.lines += len(lines)
