#!/usr/bin/env bash
# The README's story in one go: SQLite queue, worker pool, producer, kill -9 of the job server
# half-way, restart, and a check that every acknowledged job was carried out exactly once.
#
#   examples/async-queue/demo.sh            (PORT=4731 SIGNUPS=2000 to change the defaults)
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PORT:-4731}
SIGNUPS=${SIGNUPS:-2000}
DIR=$(mktemp -d /tmp/async-queue-XXXXXX)
export GEARMAN_SERVERS=127.0.0.1:$PORT
RUN="node --import tsx examples/async-queue"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

wait_for() { # wait_for FILE PATTERN: until a line of FILE matches
  until grep -q "$2" "$1" 2>/dev/null; do sleep 0.1; done
}
lines() { cat "$1" 2>/dev/null | wc -l; }
starts=0
start_server() {
  starts=$((starts + 1))
  log="$DIR/server-$starts.log"
  node bin/geartrain.js server -p "$PORT" -q sqlite --sqlite-db "$DIR/queue.sqlite" --verbose INFO >"$log" 2>&1 &
  server=$!
  pids+=("$server")
  wait_for "$log" 'listening on'
}

echo "== files in $DIR"
start_server
echo "== job server (pid $server) on port $PORT, queue $DIR/queue.sqlite"
# 10 ms of "work" per job, 8 at a time: slower than the producer, so a backlog builds up.
$RUN/worker.ts --delivered "$DIR/delivered.log" --work-ms 10 >"$DIR/worker.log" 2>&1 &
pids+=($!)
$RUN/producer.ts --simulate "$SIGNUPS" --accepted "$DIR/accepted.log" >"$DIR/producer.log" 2>&1 &
producer=$!
pids+=("$producer")

# Half-way through the sign-ups: kill -9, the way a crash or the OOM killer would.
until [ "$(lines "$DIR/accepted.log")" -ge $((SIGNUPS * 3 / 2)) ]; do sleep 0.1; done
kill -9 "$server"
wait "$server" 2>/dev/null || true
echo "== kill -9 $server after $(lines "$DIR/accepted.log") acknowledged jobs; queued now: $(sqlite3 "$DIR/queue.sqlite" 'SELECT count(*) FROM gearman_queue' 2>/dev/null || echo '?') rows"
sleep 2 # the producer's requests get 503 meanwhile and are retried
start_server
echo "== restarted (pid $server): $(grep -o 'replayed [0-9]* job(s)' "$log" || echo 'nothing replayed')"

wait "$producer"
tail -n 1 "$DIR/producer.log"
$RUN/check.ts --accepted "$DIR/accepted.log" --delivered "$DIR/delivered.log"
sleep 1.5 # the worker prints its counters once a second
tail -n 1 "$DIR/worker.log"
