#!/bin/bash
set -u
cd /work/main
export CONFAB_WRITE_PER_SEC=0 CONFAB_MAX_SOCKETS_PER_USER=0 CONFAB_MAX_SOCKETS_PER_ADDRESS=0
export CONFAB_SIGNUPS_PER_HOUR=0 CONFAB_ROOMS_PER_HOUR=0
C=/tmp/bench13/confab-bench
R=bench/results/2026-12-06-team
DB=/tmp/bench13/modern.db; rm -f $DB*; S=/tmp/bench13/sessions-modern.txt; rm -f $S
DATABASE_URL=$DB CONFAB_BIND=127.0.0.1:8000 RUST_LOG=warn target/release/confab > /tmp/bench13/server-modern.log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:8000/readyz >/dev/null && break; sleep 0.2; done
B="$C --sessions $S"
for round in 1 2; do
  $B --json-out $R/unread.jsonl fanout --clients 100 --messages 5000 --warmup 200 --room-prefix legacy --label after-legacy-100
  $B --json-out $R/unread.jsonl fanout --clients 100 --messages 5000 --warmup 200 --room-prefix modern --modern --label after-modern-100
done
kill $PID
