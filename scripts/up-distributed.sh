#!/usr/bin/env bash
# Distributed mode on one machine: the gateway and two telemetry replicas,
# each its own process, against real NATS (JetStream) and PostgreSQL.
# Ctrl-C stops them all (SIGTERM: each drains and closes cleanly).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
DB_NAME="${RAMPART_DB:-rampart}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/${DB_NAME}}"
PKI="${RAMPART_DATA_DIR:-.rampart}/pki"

if [[ "$DATABASE_URL" == *"127.0.0.1:5432/${DB_NAME}" ]]; then
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'" postgres | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE ${DB_NAME}" postgres >/dev/null
fi

# The development PKI (manufacturer CA, platform CA, gateway certificate).
node packages/cli/dist/main.js pki init --dir "$PKI"

pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap cleanup EXIT INT TERM

HTTP_PORT=8081 node services/telemetry/dist/main.js & pids+=($!)
HTTP_PORT=8082 node services/telemetry/dist/main.js & pids+=($!)
HTTP_PORT=8080 MQTT_PORT="${MQTT_PORT:-8883}" TLS_CERT_FILE="$PKI/gateway.crt" TLS_KEY_FILE="$PKI/gateway.key" \
  MANUFACTURER_CA_FILE="$PKI/manufacturer-ca.crt" node services/gateway/dist/main.js & pids+=($!)

cat >&2 <<MSG
Rampart (distributed) is starting: gateway mqtts://127.0.0.1:${MQTT_PORT:-8883}, telemetry http://127.0.0.1:8081 and :8082
Run a fleet against it:  node packages/cli/dist/main.js fleet run --gateway 127.0.0.1:${MQTT_PORT:-8883} --pki $PKI
MSG
wait -n "${pids[@]}"
