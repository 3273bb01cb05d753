#!/usr/bin/env bash
# Start, stop or show local Mosquitto (1883) and InfluxDB (8086) on 127.0.0.1, data in var/.
# Usage: scripts/services.sh start|stop|status [--mqtt-port N] [--influx-port N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "stop" ] || [ "${1:-}" = "status" ] || bash scripts/setup.sh
exec .venv/bin/python -m groundwatch.services "$@" --dir var/services
