#!/bin/bash
# Runs once, right after the influxdb image's initial setup (DOCKER_INFLUXDB_INIT_MODE=setup):
# maps the InfluxDB 1.x database name groundwatch's dashboards query (InfluxQL) to the bucket.
# Without this DBRP mapping InfluxQL on 2.x answers "database not found".
set -euo pipefail

db="${INFLUXDB_DATABASE:?set INFLUXDB_DATABASE in .env}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-}"
if [ -z "$bucket_id" ]; then
  bucket_id=$(influx bucket list --name "${DOCKER_INFLUXDB_INIT_BUCKET}" \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}" \
    --hide-headers | cut -f1)
fi

influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}" \
  --bucket-id "$bucket_id" \
  --db "$db" \
  --rp autogen \
  --default
echo "groundwatch: InfluxQL database '$db' now maps to bucket ${DOCKER_INFLUXDB_INIT_BUCKET}"
