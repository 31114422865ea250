#!/usr/bin/env bash
# Distributed mode on one machine: the attestation service, the gateway,
# two telemetry replicas, the failures and updates services, each its own process, against real NATS (JetStream)
# and PostgreSQL, with the API front (one base URL) before their REST APIs. Ctrl-C stops them all (SIGTERM: each drains and closes).
# Development secrets (CA key-encryption key, operator token, the demo
# tenant's token) are made once under .rampart/secrets.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

# The default ports come from the one table, @rampart/contracts/ports (built), as PORT_API, PORT_GATEWAY_HTTP, …
while IFS='=' read -r name port; do declare "PORT_$name=$port"; done < <(node --input-type=module -e '
  import { DEFAULT_PORTS } from "./packages/contracts/dist/ports.js";
  for (const [name, port] of Object.entries(DEFAULT_PORTS)) console.log(`${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}=${port}`);
')
[[ -n "${PORT_API:-}" ]] || { echo "up-distributed: no port table; run pnpm build first" >&2; exit 1; }
API_PORT="${API_PORT:-$PORT_API}"
MQTT_PORT="${MQTT_PORT:-$PORT_MQTT}"

export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
DB_NAME="${RAMPART_DB:-rampart}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/${DB_NAME}}"
DATA="${RAMPART_DATA_DIR:-.rampart}"
PKI="$DATA/pki"
SECRETS="$DATA/secrets"
CLI="node apps/cli/dist/main.js"
# Every CLI call below goes to this platform's API front, never to the user's current context, and takes its
# token from the environment (an argument would show in ps and /proc/<pid>/cmdline).
export RAMPART_API="http://127.0.0.1:${API_PORT}"

if [[ "$DATABASE_URL" == *"127.0.0.1:5432/${DB_NAME}" ]]; then
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'" postgres | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE ${DB_NAME}" postgres >/dev/null
fi

$CLI pki init --dir "$PKI" >/dev/null
mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
secret() { [[ -s "$SECRETS/$1" ]] || (umask 077 && eval "$2" > "$SECRETS/$1"); cat "$SECRETS/$1"; }
KEK="$(secret ca-key-encryption.key 'openssl rand -base64 32')"
UPDATES_KEK="$(secret updates-key-encryption.key 'openssl rand -base64 32')"
OPERATOR="$(secret platform-operator.token 'echo rmp_op_$(openssl rand -hex 32)')"

pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap cleanup EXIT INT TERM

HTTP_PORT=$PORT_ATTESTATION PLATFORM_CA_CERT_FILE="$PKI/platform-ca.crt" PLATFORM_CA_KEY_FILE="$PKI/platform-ca.key" \
  MANUFACTURER_CA_FILE="$PKI/manufacturer-ca.crt" CA_KEY_ENCRYPTION_KEY="$KEK" PLATFORM_ADMIN_TOKEN="$OPERATOR" \
  PUBLIC_BASE_URL="$RAMPART_API" \
  node services/attestation/dist/main.js & pids+=($!)
HTTP_PORT=$PORT_TELEMETRY node services/telemetry/dist/main.js & pids+=($!)
HTTP_PORT=$PORT_TELEMETRY_REPLICA node services/telemetry/dist/main.js & pids+=($!)
HTTP_PORT=$PORT_FAILURES node services/failures/dist/main.js & pids+=($!)
HTTP_PORT=$PORT_GATEWAY_HTTP MQTT_PORT="$MQTT_PORT" TLS_CERT_FILE="$PKI/gateway.crt" TLS_KEY_FILE="$PKI/gateway.key" \
  MANUFACTURER_CA_FILE="$PKI/manufacturer-ca.crt" PLATFORM_CA_FILE="$PKI/platform-ca.crt" node services/gateway/dist/main.js & pids+=($!)
HTTP_PORT=$PORT_UPDATES UPDATES_KEY_ENCRYPTION_KEY="$UPDATES_KEK" DEVICE_HOST=127.0.0.1 DEVICE_PORT=$PORT_UPDATES_DEVICE \
  TLS_CERT_FILE="$PKI/gateway.crt" TLS_KEY_FILE="$PKI/gateway.key" PLATFORM_CA_FILE="$PKI/platform-ca.crt" \
  MANUFACTURER_CA_FILE="$PKI/manufacturer-ca.crt" node services/updates/dist/main.js & pids+=($!)
HTTP_PORT="$API_PORT" ATTESTATION_URL="http://127.0.0.1:$PORT_ATTESTATION" TELEMETRY_URL="http://127.0.0.1:$PORT_TELEMETRY" \
  FAILURES_URL="http://127.0.0.1:$PORT_FAILURES" UPDATES_URL="http://127.0.0.1:$PORT_UPDATES" node services/api/dist/main.js & pids+=($!)

# Ready when the front has read every service's OpenAPI document and reaches each (its /readyz): only then does a
# path such as /v1/tenants route. A service that dies or never gets there stops the script with the front's answer.
ready=false
for _ in $(seq 1 600); do
  curl -sf "$RAMPART_API/readyz" >/dev/null && { ready=true; break; }
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "up-distributed: a service exited during start-up (pid $pid)" >&2; exit 1; }; done
  sleep 0.1
done
$ready || { echo "up-distributed: the platform was not ready after 60 s: $(curl -s "$RAMPART_API/readyz")" >&2; exit 1; }
# The demo tenant (once) and the emulator's images as known-good.
if [[ ! -s "$SECRETS/tenant-demo.token" ]]; then
  (umask 077 && RAMPART_TOKEN="$OPERATOR" $CLI tenant create demo --name Demo --output json \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).administratorToken))' \
    > "$SECRETS/tenant-demo.token")
fi
RAMPART_TOKEN="$OPERATOR" $CLI measurement release-demo-images >/dev/null

cat >&2 <<MSG
Rampart (distributed) is up: API $RAMPART_API/v1 (OpenAPI $RAMPART_API/docs)
  gateway mqtts://127.0.0.1:$MQTT_PORT, attestation http://127.0.0.1:$PORT_ATTESTATION, telemetry http://127.0.0.1:$PORT_TELEMETRY and :$PORT_TELEMETRY_REPLICA,
  failures http://127.0.0.1:$PORT_FAILURES, updates http://127.0.0.1:$PORT_UPDATES (devices: https://127.0.0.1:$PORT_UPDATES_DEVICE)
Run a fleet against it:
  RAMPART_API=$RAMPART_API RAMPART_TOKEN=\$(cat $SECRETS/tenant-demo.token) $CLI fleet run --gateway 127.0.0.1:$MQTT_PORT --pki $PKI
MSG
wait -n "${pids[@]}"
