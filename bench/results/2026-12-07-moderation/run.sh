#!/bin/bash
# before (mod-base) / after (mod-enforce): same client, same commands,
# a fresh database per version; two rounds, alternating.
set -u
export CONFAB_WRITE_PER_SEC=0 CONFAB_MAX_SOCKETS_PER_USER=0 CONFAB_MAX_SOCKETS_PER_ADDRESS=0
export CONFAB_SIGNUPS_PER_HOUR=0 CONFAB_ROOMS_PER_HOUR=0
ulimit -n 20000
# confab-before: mod-base (9a0a255), confab-after: mod-enforce, both
# `cargo build --release`; confab-bench from this tree.
D=/tmp/enforce-bench
C=$D/confab-bench
R=$D/results
PORT=18437
mkdir -p $R
start() {
  DATABASE_URL=$DB CONFAB_BIND=127.0.0.1:$PORT RUST_LOG=warn $SERVER > $D/server-$V.log 2>&1 &
  PID=$!
  for i in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && return; sleep 0.2; done
  echo "server did not start"; exit 1
}
stop() { kill $PID; wait $PID 2>/dev/null; }
for V in before after; do rm -f $D/$V.db* $D/sessions-$V.txt; done
for ROUND in 1 2; do
  for V in before after; do
    SERVER=$D/confab-$V
    DB=$D/$V.db
    B="$C --sessions $D/sessions-$V.txt"
    start
    $B --json-out $R/fanout.jsonl fanout --url http://127.0.0.1:$PORT --clients 1000 --messages 3000 --warmup 200 --label $V-sat-$ROUND
    $B --json-out $R/fanout.jsonl fanout --url http://127.0.0.1:$PORT --rooms 100 --clients 10 --senders 10 --rate 1 --stage-secs 20 --warmup 5 --room-prefix r --label $V-rooms100-$ROUND
    stop
  done
done
echo finished
