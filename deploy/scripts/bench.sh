#!/usr/bin/env bash
# `make bench`: load benchmarks of the LRS on loopback, results in docs/benchmarks.md.
#
# Builds release binaries, starts a private nats-server (free port, temporary store), runs the
# LRS as its own process (`lyceum serve --target lrs`) on PostgreSQL (a fresh database per run,
# dropped afterwards) and on SQLite (a temporary file), drives it with `lyceum-bench`, captures
# the PostgreSQL plans of the statement queries on a 1,000,000-statement store, runs the
# criterion benchmark of statement validation, and rewrites the generated section of
# docs/benchmarks.md. Everything it starts it stops by pid; the shared PostgreSQL and NATS are
# used as they are (NATS on 4222 is never used).
#
# The 1M store is kept between runs in the database $BENCH_STORE_DB (marked with a comment
# naming the generator seed and size); it is rebuilt when absent, incomplete or when the LRS
# can no longer open it. BENCH_RELOAD=1 rebuilds it.
#
# Knobs (environment): BENCH_REPEATS (3), BENCH_INGEST_SECONDS (20), BENCH_QUERY_SECONDS (15),
# BENCH_STORE_SIZE (1000000), BENCH_STORE_DB (lyceum_bench_1m), BENCH_ONLY (space-separated
# subset of: ingest-postgres ingest-sqlite query validate; a subset writes its section into the
# run's results directory, not docs/, unless BENCH_WRITE_DOC=1), BENCH_PG_URL
# (postgres://postgres@127.0.0.1:5432), BENCH_PG_LOG (the server log, for the plans).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

REPEATS=${BENCH_REPEATS:-3}
INGEST_SECONDS=${BENCH_INGEST_SECONDS:-20}
QUERY_SECONDS=${BENCH_QUERY_SECONDS:-15}
STORE_SIZE=${BENCH_STORE_SIZE:-1000000}
STORE_DB=${BENCH_STORE_DB:-lyceum_bench_1m}
ONLY=${BENCH_ONLY:-ingest-postgres ingest-sqlite query validate}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_LOG=${BENCH_PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
SEED=2017
CREDENTIALS=bench:bench-secret-0123456789
PUBLIC_URL=http://127.0.0.1:8080
# What the store marker says; a store made by another generator or size is rebuilt.
STORE_MARK="lyceum-bench store: seed=$SEED size=$STORE_SIZE generator=2"

WORK=$ROOT/.bench
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$WORK/results/$RUN_ID
mkdir -p "$RESULTS/explain"
LRS_BIN=$ROOT/target/release/lyceum
BENCH_BIN=$ROOT/target/release/lyceum-bench

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }
psql_q() { psql "$PG_URL/${2:-postgres}" -v ON_ERROR_STOP=1 -qAtc "$1"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s; }

NATS_PID=
LRS_PID=
TEMP_DBS=()
cleanup() {
  if declare -F stop_lrs >/dev/null; then stop_lrs || true; fi
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; fi
  for db in "${TEMP_DBS[@]}"; do psql_q "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$WORK/nats" "$WORK/sqlite" "$WORK/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 30000))
    if ! ss -ltnH "sport = :$port" | grep -q . && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"; return
    fi
  done
  log "no free port"; exit 1
}

wait_tcp() { # port seconds
  for _ in $(seq 1 $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# --- build ---------------------------------------------------------------------------------
T_START=$(now)
bash deploy/scripts/dev-services.sh   # PostgreSQL running, nats-server installed
T0=$T_START
log "building release binaries (lyceum, lyceum-bench)"
cargo build --release -p lyceum -p lyceum-bench
T_BUILD=$(( $(now) - T0 ))

# --- NATS ----------------------------------------------------------------------------------
NATS_PORT=$(free_port)
rm -rf "$WORK/nats"; mkdir -p "$WORK/nats"
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
wait_tcp "$NATS_PORT" 10 || { log "nats-server did not start"; cat "$WORK/nats.log" >&2; exit 1; }
log "nats-server on 127.0.0.1:$NATS_PORT (pid $NATS_PID)"

# --- the LRS -------------------------------------------------------------------------------
LRS_PORT=
start_lrs() { # database-url label
  LRS_PORT=$(free_port)
  mkdir -p "$WORK/data"
  local log_from
  log_from=$(stat -c %s "$WORK/lrs-$2.log" 2>/dev/null || echo 0)
  LYCEUM_DATA_DIR=$WORK/data \
  LYCEUM_PUBLIC_URL=$PUBLIC_URL \
  LYCEUM_NATS_URL=nats://127.0.0.1:$NATS_PORT \
  LYCEUM_LRS_ADDR=127.0.0.1:$LRS_PORT \
  LYCEUM_LRS_DATABASE_URL=$1 \
  LYCEUM_LRS_BOOTSTRAP_CLIENT=$CREDENTIALS \
  LYCEUM_LOG_FILTER=warn \
  LYCEUM_SHUTDOWN_GRACE_SECS=10 \
    "$LRS_BIN" serve --target lrs >>"$WORK/lrs-$2.log" 2>&1 &
  LRS_PID=$!
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$LRS_PORT/readyz" 2>/dev/null; then
      log "LRS ($2) on 127.0.0.1:$LRS_PORT (pid $LRS_PID)"
      return 0
    fi
    if ! kill -0 "$LRS_PID" 2>/dev/null; then
      wait "$LRS_PID" 2>/dev/null || true
      LRS_PID=
      log "the LRS ($2) exited; its log says:"
      tail -c +$((log_from + 1)) "$WORK/lrs-$2.log" | grep -v -E '^ +([0-9]+: | at )' | head -n 6 >&2
      return 1
    fi
    sleep 0.1
  done
  log "the LRS ($2) was not ready within 60 s"; return 1
}
stop_lrs() {
  [ -n "$LRS_PID" ] || return 0
  kill -TERM "$LRS_PID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$LRS_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$LRS_PID" 2>/dev/null || true
  wait "$LRS_PID" 2>/dev/null || true
  LRS_PID=
}
bench() { "$BENCH_BIN" "$@" --url "http://127.0.0.1:$LRS_PORT" --credentials "$CREDENTIALS" --seed "$SEED" --home-page "$PUBLIC_URL"; }

LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE (nproc $(nproc))"
TIMINGS="build $T_BUILD s"

# --- ingest --------------------------------------------------------------------------------
ingest_runs() { # backend label rep
  bench ingest --backend "$1" --scenario ingest-batch --batch 100 --clients 4 \
    --seconds "$INGEST_SECONDS" --first $(( $3 * 1000000000 )) --out "$RESULTS/$1-ingest-batch-$3.json" >/dev/null
  bench ingest --backend "$1" --scenario ingest-single --batch 1 --clients 32 \
    --seconds "$INGEST_SECONDS" --first $(( $3 * 1000000000 + 500000000 )) --out "$RESULTS/$1-ingest-single-$3.json" >/dev/null
}
T0=$(now)
for rep in $(seq 1 "$REPEATS"); do
  if wants ingest-postgres; then
    db=lyceum_bench_ingest_$$_$rep
    TEMP_DBS+=("$db")
    psql_q "CREATE DATABASE $db" >/dev/null
    start_lrs "$PG_URL/$db" "postgres-ingest"
    log "ingest on PostgreSQL, run $rep of $REPEATS (load $(loadavg))"
    ingest_runs postgres "postgres-ingest" "$rep"
    stop_lrs
    psql_q "DROP DATABASE $db WITH (FORCE)" >/dev/null
  fi
  if wants ingest-sqlite; then
    rm -rf "$WORK/sqlite"; mkdir -p "$WORK/sqlite"
    start_lrs "sqlite://$WORK/sqlite/lrs.db" "sqlite-ingest"
    log "ingest on SQLite, run $rep of $REPEATS (load $(loadavg))"
    ingest_runs sqlite "sqlite-ingest" "$rep"
    stop_lrs
    rm -rf "$WORK/sqlite"
  fi
done
if wants ingest-postgres || wants ingest-sqlite; then TIMINGS="$TIMINGS; ingest $(( $(now) - T0 )) s"; fi

# --- queries on the 1M store ---------------------------------------------------------------
outbox_drained() { # waits until the relay has published what the load left
  for _ in $(seq 1 600); do
    local n
    n=$(psql_q "SELECT count(*) FROM outbox" "$STORE_DB" 2>/dev/null || echo 0)
    [ "$n" = 0 ] && return 0
    sleep 1
  done
  log "the outbox still has rows"
}

build_store() {
  log "building the store: $STORE_SIZE statements into $STORE_DB"
  psql_q "DROP DATABASE IF EXISTS $STORE_DB WITH (FORCE)" >/dev/null
  psql_q "CREATE DATABASE $STORE_DB" >/dev/null
  start_lrs "$PG_URL/$STORE_DB" "postgres-store"
  local t0; t0=$(now)
  bench load --backend postgres --count "$STORE_SIZE" --batch 100 --clients 4 --out "$RESULTS/postgres-load.json" >/dev/null
  cp "$RESULTS/postgres-load.json" "$WORK/store-load.json"   # reported again while the store is reused
  TIMINGS="$TIMINGS; load of $STORE_SIZE statements $(( $(now) - t0 )) s"
  outbox_drained
  stop_lrs
  t0=$(now)
  psql_q "VACUUM (ANALYZE)" "$STORE_DB"
  TIMINGS="$TIMINGS; VACUUM ANALYZE $(( $(now) - t0 )) s"
  psql_q "COMMENT ON DATABASE $STORE_DB IS '$STORE_MARK'" >/dev/null
}

store_ready() {
  local mark
  mark=$(psql_q "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$STORE_DB'" 2>/dev/null || true)
  [ "$mark" = "$STORE_MARK" ]
}

capture_plans() { # the LRS runs the queries once more with auto_explain logging their plans
  if [ ! -r "$PG_LOG" ]; then
    echo "explain_how=The PostgreSQL log ($PG_LOG) is not readable here, so no plans were captured." >>"$RESULTS/meta.env"
    return
  fi
  local opts="options[session_preload_libraries]=auto_explain&options[auto_explain.log_min_duration]=0&options[auto_explain.log_analyze]=on&options[auto_explain.log_buffers]=on&options[auto_explain.log_timing]=on"
  start_lrs "$PG_URL/$STORE_DB?$opts" "postgres-explain"
  for kind in agent verb-since activity-related registration; do
    local size; size=$(stat -c %s "$PG_LOG")
    bench query --backend postgres --kind "$kind" --loaded "$STORE_SIZE" --clients 1 --seconds 10 --max 5 --warmup 0 >/dev/null
    sleep 1
    # Log entries of this database: a timestamped line and its tab-indented continuation.
    tail -c +$((size + 1)) "$PG_LOG" | awk -v db="@$STORE_DB " '
      /^[0-9]{4}-[0-9]{2}-[0-9]{2} / { keep = index($0, db) > 0 && index($0, "plan:") > 0; if (keep) print "----"; }
      keep { print }' >"$RESULTS/explain/raw-query-$kind.txt"
    # The page query: the slowest logged plan that is not the credentials or consistency read.
    awk -v RS='----\n' '
      index($0, "xapi_clients") == 0 && index($0, "MAX(stored_ms)") == 0 && index($0, "Query Text") > 0 {
        match($0, /duration: [0-9.]+ ms/); d = substr($0, RSTART + 10, RLENGTH - 13) + 0;
        if (d >= best) { best = d; plan = $0 }
      }
      END { printf "%s", plan }' "$RESULTS/explain/raw-query-$kind.txt" \
      | sed -E 's/^[0-9-]+ [0-9:.]+ UTC \[[0-9]+\] [^ ]+ LOG:  //; s/^\t//' >"$RESULTS/explain/query-$kind.txt"
    [ -s "$RESULTS/explain/query-$kind.txt" ] || log "no plan captured for $kind"
  done
  stop_lrs
  echo "explain_how=Captured with auto_explain (log_analyze, log_buffers) while a freshly started LRS ran 5 queries of each kind with the benchmark's parameters; shown: the slowest page query of each kind. These are the first executions on their connections, so PostgreSQL planned them for their parameter values (custom plans); under sustained load the LRS's prepared statements may switch to generic plans." >>"$RESULTS/meta.env"
}

if wants query; then
  T0=$(now)
  [ "${BENCH_RELOAD:-0}" = 1 ] && psql_q "COMMENT ON DATABASE $STORE_DB IS NULL" >/dev/null 2>&1 || true
  if store_ready && start_lrs "$PG_URL/$STORE_DB" "postgres-store"; then
    log "reusing the store in $STORE_DB"
    TIMINGS="$TIMINGS; store reused"
    if [ -f "$WORK/store-load.json" ]; then cp "$WORK/store-load.json" "$RESULTS/postgres-load.json"; fi
  else
    stop_lrs
    build_store
    start_lrs "$PG_URL/$STORE_DB" "postgres-store"
  fi
  outbox_drained
  for rep in $(seq 1 "$REPEATS"); do
    for kind in agent verb-since activity-related registration; do
      log "query $kind, run $rep of $REPEATS (load $(loadavg))"
      bench query --backend postgres --kind "$kind" --loaded "$STORE_SIZE" --clients 4 \
        --seconds "$QUERY_SECONDS" --out "$RESULTS/postgres-query-$kind-$rep.json" >/dev/null
    done
  done
  stop_lrs
  capture_plans
  psql_q "SELECT pg_size_pretty(pg_database_size('$STORE_DB'))" >"$RESULTS/store-size.txt" || true
  TIMINGS="$TIMINGS; store and queries $(( $(now) - T0 )) s"
fi

# --- validation (criterion) ----------------------------------------------------------------
CRITERION_ARGS=()
if wants validate; then
  T0=$(now)
  log "criterion: statement validation and canonicalisation"
  rm -rf "$ROOT/target/criterion/statements"
  cargo bench -p lyceum-xapi --bench validate -- --warm-up-time 2 --measurement-time 5 --noplot \
    >"$RESULTS/criterion.txt" 2>&1 || { log "criterion failed:"; tail -n 20 "$RESULTS/criterion.txt" >&2; exit 1; }
  cp -r "$ROOT/target/criterion/statements" "$RESULTS/criterion"
  CRITERION_ARGS=(--criterion "$RESULTS/criterion")
  TIMINGS="$TIMINGS; validation $(( $(now) - T0 )) s"
fi

# --- report --------------------------------------------------------------------------------
libsqlite=$(awk '/^name = "libsqlite3-sys"/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock | head -n 1)
{
  echo "command=make bench"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nproc=$(nproc)"
  echo "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
  echo "memory=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
  echo "kernel=Linux $(uname -r)"
  echo "rustc=$(rustc -V | cut -d' ' -f1-2)"
  echo "postgres=$(psql_q 'SHOW server_version' | cut -d' ' -f1) (shared_buffers $(psql_q 'SHOW shared_buffers'), synchronous_commit $(psql_q 'SHOW synchronous_commit'))"
  echo "sqlite=bundled by libsqlite3-sys $libsqlite (WAL, synchronous=NORMAL)"
  echo "nats=$(nats-server --version | sed 's/nats-server: //') (JetStream, file storage)"
  echo "repeats=$REPEATS"
  echo "setup=the LRS is one release-built process (\`lyceum serve --target lrs\`, database pool 16) with a private nats-server; \`lyceum-bench\` runs beside it on the same $(nproc) CPUs, over HTTP/1.1 keep-alive on loopback. Ingest runs ${INGEST_SECONDS} s after a 3 s warm-up on a fresh database (PostgreSQL) or file (SQLite) per run; batches come from 4 clients, single statements from 32. Queries run ${QUERY_SECONDS} s from 4 clients after a 2 s warm-up, on the $STORE_SIZE-statement store ($(cat "$RESULTS/store-size.txt" 2>/dev/null || echo '?') on disk), with parameters drawn from the stored statements."
  echo "load_before=$LOAD_BEFORE"
  echo "load_after=$(loadavg)"
  echo "timings=$TIMINGS; in all $(( $(now) - T_START )) s"
} >>"$RESULTS/meta.env"
# A partial run (BENCH_ONLY) must not replace the full results in the docs.
DOC=docs/benchmarks.md
if [ "$ONLY" != "ingest-postgres ingest-sqlite query validate" ] && [ "${BENCH_WRITE_DOC:-0}" != 1 ]; then
  DOC=$RESULTS/benchmarks.md
fi
"$BENCH_BIN" report --results "$RESULTS" --doc "$DOC" "${CRITERION_ARGS[@]}"
ln -sfn "$RESULTS" "$WORK/results/latest"
log "done: ${DOC#"$ROOT"/} (raw results in ${RESULTS#"$ROOT"/})"
