#!/usr/bin/env bash
# Measures how long GET /metrics takes with 10,000 clients connected to
# linkpool (goal: under 50 ms). Needs PostgreSQL 15 server binaries, psycopg
# and a built linkpool; as root it may raise the descriptor limit itself.
#
#   bench/scrape.sh                       # 10,000 clients, 50 scrapes
#   CLIENTS=2000 SCRAPES=20 bench/scrape.sh
#   LINKPOOL_BIN=build-asan/linkpool bench/scrape.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export LINKPOOL_BIN=${LINKPOOL_BIN:-$PWD/build/linkpool}
[ -x "$LINKPOOL_BIN" ] || { echo "build linkpool first: meson setup build && ninja -C build" >&2; exit 1; }
exec timeout 600 /usr/bin/python3 bench/scrape.py
