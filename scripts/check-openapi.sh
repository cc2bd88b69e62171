#!/usr/bin/env bash
# Starts a local three-node network with the built binary, fetches a running
# node's /openapi.json and checks it with an OpenAPI 3 validator
# (openapi-spec-validator, from PyPI, in a virtual environment).
# Usage: scripts/check-openapi.sh [path/to/sanctuary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/sanctuary}
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

venv=${OPENAPI_VENV:-target/openapi-venv}
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q openapi-spec-validator
fi

"$bin" network init --dir "$tmp/net" >/dev/null 2>&1
for i in 0 1 2; do
    "$bin" node --config "$tmp/net/node-$i/node.toml" >"$tmp/node-$i.log" 2>&1 &
    pids+=($!)
done
url=$(grep -m1 'api_url' "$tmp/net/network.toml" | sed 's/.*"\(.*\)"/\1/')
# -k: the node's certificate is pinned by clients, not issued by a CA; this
# check is about the document, not the channel.
ready=
for _ in $(seq 1 300); do
    if curl -sfk "$url/readyz" >/dev/null; then ready=1; break; fi
    sleep 0.2
done
[ -n "$ready" ] || { echo "/readyz never 200 on $url"; cat "$tmp"/node-*.log; exit 1; }
curl -sfk "$url/openapi.json" -o "$tmp/openapi.json"
"$venv/bin/openapi-spec-validator" "$tmp/openapi.json"
