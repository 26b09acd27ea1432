#!/bin/bash
# before/after: same client, same commands, fresh database per version.
set -u
cd /work/main
export CONFAB_WRITE_PER_SEC=0 CONFAB_MAX_SOCKETS_PER_USER=0 CONFAB_MAX_SOCKETS_PER_ADDRESS=0
export CONFAB_SIGNUPS_PER_HOUR=0 CONFAB_ROOMS_PER_HOUR=0
ulimit -n 30000
C=/tmp/bench13/confab-bench
R=bench/results/2026-12-06-team
mkdir -p $R
start() {
  DATABASE_URL=$DB CONFAB_BIND=127.0.0.1:8000 RUST_LOG=warn $SERVER > /tmp/bench13/server-$V.log 2>&1 &
  PID=$!
  for i in $(seq 1 100); do curl -sf http://127.0.0.1:8000/readyz >/dev/null && return; sleep 0.2; done
  echo "server did not start"; exit 1
}
stop() { kill $PID; wait $PID 2>/dev/null; }
for V in before after; do
  if [ $V = before ]; then SERVER=/tmp/before/confab; else SERVER=target/release/confab; fi
  DB=/tmp/bench13/$V.db; rm -f $DB*; S=/tmp/bench13/sessions-$V.txt; rm -f $S
  B="$C --sessions $S"
  start
  $B --json-out $R/fanout.jsonl fanout --clients 1000 --messages 3000 --warmup 200 --label $V-sat
  $B --json-out $R/fanout.jsonl fanout --rooms 100 --clients 10 --senders 10 --rate 1 --stage-secs 20 --warmup 5 --room-prefix r --label $V-rooms100
  stop
  $C seed --db $DB --room seeded --messages 100000
  start
  $B --json-out $R/join.jsonl join --joins 1000 --label $V-join
  stop
  start
  $B --json-out $R/idle.jsonl idle --connections 5000 --hold-secs 20 --label $V-idle5k --server-pid $PID
  stop
done
