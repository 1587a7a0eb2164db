#!/usr/bin/env bash
# Instructions per Query spent recognising SQL-level prepared-statement
# commands (src/proto/sqlcmd.c), counted with callgrind on an -O2 build.
#   bash bench/sqlcmd_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/linkpool-sqlcmd-cost.XXXXXX)
trap 'rm -rf "$out"' EXIT
${CC:-cc} -O2 -g -std=gnu11 -D_GNU_SOURCE -Isrc -o "$out/cost" bench/sqlcmd_cost.c src/proto/sqlcmd.c src/proto/sqlname.c
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$out/cost" >/dev/null 2>&1
# Inclusive counts of the four case functions, divided by their calls.
callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null |
	awk '/sqlcmd_cost\.c:(candidate_select|scan_select_semi|scan_prepare|scan_execute) / {
		n = $1; gsub(",", "", n); f = $0;
		sub(/.*sqlcmd_cost\.c:/, "", f); sub(/ .*/, "", f); if (seen[f]++) next;
		printf "%-18s %7.1f instructions per Query\n", f, n / 100000 }'
