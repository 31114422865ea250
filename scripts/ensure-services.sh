#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and NATS with JetStream
# (127.0.0.1:4222) are running for the integration and end-to-end tests,
# starting the machine's own servers if they have stopped; that the
# independent peers the tests use (openssl, mosquitto_pub, prometheus) are
# installed; and that a Docker engine runs for the container tier (Debian's
# docker.io, dockerd started as root when it is not running) with
# debootstrap for the image's base where no registry serves one, and
# docker-compose for docker/compose.yaml.
# The embedded mode (`make demo`) needs none of this.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 100); do listening "$port" && return 0; sleep 0.1; done
  echo "ensure-services: $name did not start on port $port" >&2
  return 1
}

if ! listening 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: installing PostgreSQL from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  echo "ensure-services: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for 5432 PostgreSQL
fi

if ! listening 4222; then
  if ! command -v nats-server >/dev/null && [[ ! -x /usr/sbin/nats-server ]]; then
    echo "ensure-services: installing nats-server from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  fi
  echo "ensure-services: starting NATS with JetStream" >&2
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server || echo /usr/sbin/nats-server)" -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_for 4222 NATS
fi

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v mosquitto_pub >/dev/null || missing+=(mosquitto-clients)
command -v prometheus >/dev/null || missing+=(prometheus)
# SoftHSM2 is the PKCS#11 token the key-provider tests make in a temp dir; opensc's pkcs11-tool inspects it.
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)
# pkcs11js builds with node-gyp at install: a C++ compiler, make and Python.
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
# TPM 2.0 devices: a software TPM per device (swtpm, its EK certificates from swtpm_setup) driven by tpm2-tools.
command -v swtpm >/dev/null || missing+=(swtpm)
command -v swtpm_setup >/dev/null || missing+=(swtpm-tools)
command -v tpm2_quote >/dev/null || missing+=(tpm2-tools)
# A second, independent CBOR/COSE stack that reads the PSA tokens the emulator emits (interop tests).
/usr/bin/python3 -c 'import cbor2, cryptography' 2>/dev/null || missing+=(python3-cbor2 python3-cryptography)
if (( ${#missing[@]} > 0 )); then
  echo "ensure-services: installing ${missing[*]} from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

# The container tier (test/containers): Debian's docker.io and a running dockerd, and Debian's docker-compose
# (1.29: Compose v2 is not packaged there) for docker/compose.yaml.
docker_missing=()
command -v dockerd >/dev/null || docker_missing+=(docker.io)
command -v debootstrap >/dev/null || docker_missing+=(debootstrap)
command -v docker-compose >/dev/null || docker_missing+=(docker-compose)
if (( ${#docker_missing[@]} > 0 )); then
  echo "ensure-services: installing ${docker_missing[*]} from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${docker_missing[@]}" >&2
fi
if ! docker info >/dev/null 2>&1; then
  echo "ensure-services: starting dockerd" >&2
  mkdir -p /var/log
  (setsid dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { echo "ensure-services: dockerd did not start (see /var/log/dockerd.log)" >&2; exit 1; }
fi
