#!/usr/bin/env bash
# Install what is missing, then run the main job: a simulated lunar descent that loses its
# link, with local Mosquitto and InfluxDB, the live console, the LOS alert and a pass report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/groundwatch demo "$@"
