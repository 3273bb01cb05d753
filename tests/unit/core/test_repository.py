"""The repository speaks to users and contributors: no ticket numbers or working-session
notes in code, tests, benchmarks or docs (say what and why instead)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# Built from parts so that this file does not match itself.
WORKING_NOTES = re.compile(r"\b(" + "iss" + r"ues?|" + "sess" + r"ions?) [0-9]", re.I)
TEXTS = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md", "docs", "src", "tests", "bench",
         "examples", "missions", "deploy", "scripts"]  # fmt: skip


def files() -> list[Path]:
    out = []
    for name in TEXTS:
        path = REPO / name
        candidates = [path] if path.is_file() else path.rglob("*")
        for f in candidates:
            if f.is_file() and f.suffix in {".py", ".md", ".toml", ".yaml", ".yml", ".sh"}:
                if "egg-info" not in f.parts[-2] and "data" not in f.relative_to(REPO).parts:
                    out.append(f)
    return out


def test_no_ticket_numbers_or_session_notes() -> None:
    found = [
        f"{f.relative_to(REPO)}:{n}: {line.strip()}"
        for f in files()
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if WORKING_NOTES.search(line)
    ]
    assert not found, "\n".join(found)
    assert not (REPO / "docs" / "dev").exists()
