#!/usr/bin/env bash
# make images: builds Rampart's image (IMAGE, default rampart:dev) with BuildKit.
#
# The base is the official Node image when a registry serves it; when none is
# reachable (BASE_IMAGE unset and the pull fails) it is built here from Debian
# and the npm registry by scripts/build-base-image.sh. The machine's extra CA
# certificates (NODE_EXTRA_CA_CERTS) are handed to the build as a BuildKit
# secret: they reach the commands that download, never a layer of the image.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${IMAGE:-rampart:dev}"
OFFICIAL_BASE="node:24-bookworm-slim"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"

# A docker client that builds with BuildKit: one with the buildx plugin, or a
# client before 23 (Debian's docker.io) whose builder has BuildKit built in.
buildkit_client() {
  local candidate version
  for candidate in ${DOCKER:-docker /usr/bin/docker}; do
    command -v "$candidate" >/dev/null || continue
    if "$candidate" buildx version >/dev/null 2>&1; then echo "$candidate buildx build --load"; return; fi
    version="$("$candidate" version --format '{{.Client.Version}}' 2>/dev/null || true)"
    if [[ "${version%%.*}" =~ ^[0-9]+$ ]] && (( ${version%%.*} < 23 )); then echo "env DOCKER_BUILDKIT=1 $candidate build"; return; fi
  done
  echo "build-images: no docker client that builds with BuildKit (install the buildx plugin, or Debian's docker.io)" >&2
  return 1
}
build="$(buildkit_client)"

# Node's headers (pkcs11js is compiled against them in the build stage): the official image carries them;
# scripts/build-base-image.sh makes an image of them alone beside its base (<base>-node-headers).
base="${BASE_IMAGE:-}"
headers="${NODE_HEADERS_IMAGE:-}"
if [[ -z "$base" ]]; then
  if docker image inspect "$OFFICIAL_BASE" >/dev/null 2>&1 || timeout 60 docker pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
    base="$OFFICIAL_BASE"
  else
    echo "build-images: $OFFICIAL_BASE cannot be pulled; building a base from Debian and the npm registry" >&2
    base="$("$ROOT/scripts/build-base-image.sh")"
    headers="${headers:-${base}-node-headers}"
  fi
fi
headers="${headers:-$base}"

secret=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -s "$NODE_EXTRA_CA_CERTS" ]]; then
  secret=(--secret "id=extra-ca,src=$NODE_EXTRA_CA_CERTS")
fi

echo "build-images: $IMAGE from $base" >&2
started=$SECONDS
$build --progress=plain --build-arg "BASE_IMAGE=$base" --build-arg "NODE_HEADERS_IMAGE=$headers" --build-arg "PNPM_VERSION=$PNPM_VERSION" \
  "${secret[@]}" -t "$IMAGE" "$ROOT" >"${BUILD_LOG:-/tmp/rampart-image-build.log}" 2>&1 \
  || { tail -40 "${BUILD_LOG:-/tmp/rampart-image-build.log}" >&2; exit 1; }
size="$(docker image inspect "$IMAGE" --format '{{.Size}}')"
echo "build-images: $IMAGE built in $((SECONDS - started)) s, $((size / 1000000)) MB" >&2
