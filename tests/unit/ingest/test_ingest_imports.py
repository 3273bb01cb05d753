"""Ingest is transport: its sources never load the decoders (KISS framing is shared)."""

from __future__ import annotations

import subprocess
import sys


def test_sources_do_not_import_the_decoders() -> None:
    code = (
        "import sys\n"
        "import groundwatch.ingest.kiss_tcp, groundwatch.ingest.mqtt, groundwatch.ingest.udp\n"
        "import groundwatch.envelope, groundwatch.ingest.station_time\n"
        "print(sorted(m for m in sys.modules if m.startswith('groundwatch.decoders')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
