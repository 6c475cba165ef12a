#!/usr/bin/env bash
# Builds strata in Release and runs benchmark suites side by side with the peers: raw CAF
# 0.17, CAF's remote actors over TCP, Boost.Interprocess message queues, Erlang/OTP when
# `erl` is installed (Debian's erlang-base; absent, its rows are skipped with a note), and
# for the chat gateway a Node.js server on the npm `ws` package (bench/gateway/node; without
# node and npm, its rows are skipped with a note). Installs what else it needs first.
#
#   scripts/bench.sh                      # every suite
#   scripts/bench.sh ping-pong skynet     # the named ones
#   scripts/bench.sh --list               # the suites
#
# Writes bench/results/latest.json, latest.md and the plots of the scaling suites
# (bench/results/plots/*.png), where the suites not run keep their earlier rows; every run's
# raw lines stay in bench/results/raw/.
# A workload that computes a wrong result, or fails, stops the whole run (exit 1).
#
# Environment: RUNS (runs per suite and system, default 3), BUILD_DIR (default
# build-release), SPAWN_SIZES (default "10000 100000 1000000 10000000"), JOBS (default 2),
# QUICK=1 (every local suite's size a hundredth, cross-process and
# isolation shorter: to try the harness),
# RUN_TIMEOUT (seconds a single run may take before it counts as failed, default 1200).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/deps.sh
source "$root/scripts/lib/deps.sh"

# Everything runs inside main, read whole before it starts: bash reads a script as it goes,
# and this one runs for many minutes.
main() {
all_suites=(ping-pong counting fan-in thread-ring chameneos big fork-join-throughput
    fork-join-creation skynet spawn supervision cross-process isolation gateway)
declare -A about=(
  [ping-pong]="Savina ping-pong: round trip between two actors (1,000,000 round trips)"
  [counting]="Savina counting: one producer, one counter (5,000,000 messages)"
  [fan-in]="fan-in: two producers, one receiver (2 x 5,000,000 messages)"
  [thread-ring]="Savina thread ring: a token passed 5,000,000 times round 503 actors"
  [chameneos]="Savina chameneos: 100 creatures meet 1,000,000 times in a mall"
  [big]="Savina big: 120 actors ping random others, 20,000 pings each, each answered"
  [fork-join-throughput]="Savina fork-join throughput: 100,000 messages to each of 60 workers"
  [fork-join-creation]="Savina fork-join creation: 1,000,000 actors, one message each"
  [skynet]="skynet: a tree of 1,111,111 actors summing 1,000,000 leaves"
  [spawn]="spawn N idle actors, then message each: time per spawn, resident bytes per actor"
  [supervision]="100,000 crashes in a row; one_for_all restart of 1,000; 10,000 dynamic starts"
  [cross-process]="between two OS processes: round trip, one-way throughput, process restart"
  [isolation]="task vs thread vs process placement: start, memory, round trip, restart, blast radius"
  [gateway]="chat gateway over WebSocket: 1,000 clients at rising rates; 10,000 idle connections held"
)

if [[ "${1:-}" == "--list" ]]; then
  for s in "${all_suites[@]}"; do
    printf '%-22s %s\n' "$s" "${about[$s]}"
  done
  exit 0
fi
suites=("$@")
if ((${#suites[@]} == 0)); then
  suites=("${all_suites[@]}")
fi
for s in "${suites[@]}"; do
  if [[ -z "${about[$s]:-}" ]]; then
    echo "bench: unknown suite '$s' (scripts/bench.sh --list)" >&2
    exit 2
  fi
done

runs="${RUNS:-3}"
run_timeout="${RUN_TIMEOUT:-1200}"
build_dir="$root/${BUILD_DIR:-build-release}"
jobs="${JOBS:-2}"
read -r -a spawn_sizes <<<"${SPAWN_SIZES:-10000 100000 1000000 10000000}"

gateway=0
[[ " ${suites[*]} " == *" gateway "* ]] && gateway=1

# The plots need gnuplot; Erlang is a peer the user may or may not have installed. The
# gateway suite's peer needs Node.js and npm: Debian's, unless a node is there already (a
# nodejs from elsewhere carries its own npm, which Debian's npm package would conflict with).
STRATA_DEB_PACKAGES+=(gnuplot-nox)
if ((gateway)) && ! command -v node >/dev/null; then
  STRATA_DEB_PACKAGES+=(nodejs npm)
fi
strata_install_deps

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON \
  >/dev/null
targets=(bench_micro bench_micro_caf bench_supervision bench_nodes bench_report)
((gateway)) && targets+=(chat_gateway chat_loadgen)
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"

results="$root/bench/results"
mkdir -p "$results/raw"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
raw="$results/raw/run-$stamp.jsonl"
notes="$results/raw/run-$stamp.notes"
: >"$raw"
: >"$notes"

erlang_dir=""
if command -v erl >/dev/null && command -v erlc >/dev/null; then
  erlang_dir="$build_dir/erlang"
  mkdir -p "$erlang_dir"
  erlc -o "$erlang_dir" "$root"/bench/erlang/*.erl
  otp="$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')"
  echo "Erlang/OTP $otp: \`erl +S 2\` is not forced; it uses its default schedulers." >>"$notes"
else
  echo "Erlang rows skipped: \`erl\` is not installed (Debian: apt-get install erlang-base)." \
    >>"$notes"
fi

node_dir=""
if ((gateway)); then
  if command -v node >/dev/null && command -v npm >/dev/null; then
    node_dir="$root/bench/gateway/node"
    # ws, as package-lock.json pins it, into bench/gateway/node/node_modules (not committed).
    if [[ ! -e "$node_dir/node_modules/ws/package.json" ]]; then
      (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
    fi
    ws_version="$(cd "$node_dir" && node -p 'require("ws/package.json").version')"
    echo "gateway: node-ws is bench/gateway/node/server.js on Node.js $(node --version) and ws $ws_version, one process, as Node is normally run (one event loop: one core); strata is chat_gateway with an I/O thread per core (--io-threads=$(nproc)), sessions and rooms task; strata-thread the same with --sessions=thread." >>"$notes"
  else
    echo "gateway: node-ws rows skipped: \`node\` or \`npm\` is not installed (Debian: apt-get install nodejs npm)." \
      >>"$notes"
  fi
fi

# The gateway suite's server of the moment (start_server), stopped on any exit.
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # chat_gateway closes its connections (at most 2 s) and exits; Node does the same.
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Starts a gateway server ("$@": it listens on a free port and prints a line with
# http://localhost:PORT/) in the background, its open-files limit raised to the hard one for
# 10,000 connections; sets server_pid and server_port, or ends the run loudly.
start_server() {
  local log="$results/raw/server-$stamp.log" i
  # Emptied here, not by the background job's redirection, which may come after the first
  # look for the port and leave the last server's line to be read.
  : >"$log"
  # shellcheck disable=SC2016 # expanded by the inner shell
  bash -c 'ulimit -n "$(ulimit -Hn)" && exec "$@"' server "$@" >>"$log" 2>&1 &
  server_pid=$!
  server_port=""
  for ((i = 0; i < 100; i++)); do
    server_port="$(grep -o 'localhost:[0-9]*' "$log" | head -n 1 | cut -d: -f2 || true)"
    [[ -n "$server_port" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: FAILED: the server did not start: $*" >&2
  cat "$log" >&2
  exit 1
}

# Runs one measurement ("$@": the command) and appends its JSON lines; a failure ends it all.
measure() {
  local label="$1"
  shift
  local out
  if ! out="$(timeout "$run_timeout" "$@" 2>"$results/raw/last-stderr")"; then
    echo "bench: FAILED: $label: $*" >&2
    cat "$results/raw/last-stderr" >&2
    exit 1
  fi
  printf '%s\n' "$out" | grep '^{"' >>"$raw" || true
}

# Runs `runs` times each system's command for suite $1; the commands follow as
# "system|command" words.
run_suite() {
  local suite="$1" index="$2"
  shift 2
  local entry system cmd k
  for entry in "$@"; do
    system="${entry%%|*}"
    cmd="${entry#*|}"
    for ((k = 1; k <= runs; k++)); do
      printf '[bench] suite %d/%d %-13s system %-8s run %d/%d\n' "$index" "${#suites[@]}" \
        "$suite" "$system" "$k" "$runs"
      # shellcheck disable=SC2086 # the command is words on purpose
      measure "$suite/$system" $cmd
    done
  done
}

micro="$build_dir/bench/bench_micro"
# Raw CAF with the system's malloc, as Debian ships it (bench/CMakeLists.txt).
micro_caf="$build_dir/bench/bench_micro_caf"
# +P: room for skynet's 1,111,111 processes alive at once (Erlang's default limit is 262,144).
erl_cmd="erl +P 16777216 -noshell -pa $erlang_dir -s strata_bench main"
erl_sup_cmd="erl -noshell -pa $erlang_dir -s strata_bench_sup main"
# Two Erlang nodes over loopback distribution; -nocookie: the module sets a random cookie and
# never reads or writes ~/.erlang.cookie.
erl_dist_cmd="erl -noshell -nocookie -pa $erlang_dir -s strata_bench_dist main"
supervision="$build_dir/bench/bench_supervision"
# The size each local suite runs with.
declare -A size=([ping-pong]=1000000 [counting]=5000000 [fan-in]=5000000 [skynet]=1000000
  [restart-sustained]=100000 [one-for-all]=1000 [dynamic-start]=10000 [thread-ring]=5000000
  [chameneos]=1000000 [big]=20000 [fork-join-throughput]=100000 [fork-join-creation]=1000000)
nodes_sizes="--round-trips=5000 --messages=500000 --tcp-messages=100000 --restarts=100"
isolation_sizes="--round-trips=5000 --restarts=100 --start-children=200 --process-children=20"
dist_sizes="5000 500000" # round trips, one-way messages: the sizes of bench_nodes' strata rows
loadgen="$build_dir/bench/chat_loadgen"
# chat_loadgen's steps, say frames a second over 1,000 clients (each of 100 rooms has 10
# members, so a say delivers 10 messages; the gateway's limit is 50 a second per client):
# it stops after the first step that misses p99 <= 100 ms with >= 99% delivered.
gateway_load="--connections=1000 --rooms=100 --warmup=2 --duration=5 --rate=1000,2500,5000,7500,10000,12500,15000,17500,20000,25000,30000,35000,40000,45000,50000"
gateway_hold="--hold --connections=10000 --rooms=1000 --ramp=2000 --duration=20 --ping-every=10"
if [[ "${QUICK:-0}" == 1 ]]; then
  for s in "${!size[@]}"; do
    size[$s]=$((size[$s] / 100))
  done
  nodes_sizes="--round-trips=500 --messages=20000 --tcp-messages=5000 --restarts=10"
  isolation_sizes="--round-trips=500 --restarts=10 --start-children=20 --process-children=5"
  dist_sizes="500 20000"
  gateway_load="--connections=1000 --rooms=100 --warmup=1 --duration=2 --rate=1000,2500,5000,10000,20000,40000"
  gateway_hold="--hold --connections=2000 --rooms=200 --ramp=2000 --duration=3 --ping-every=2"
fi
# Resident bytes an idle Erlang process needs here (measured: ~2,700), to skip sizes that
# would not fit in this machine's memory with room to spare.
mem_kb="$(awk '/MemAvailable/ {print $2}' /proc/meminfo)"

index=0
for suite in "${suites[@]}"; do
  index=$((index + 1))
  systems=()
  case "$suite" in
    ping-pong | counting | fan-in | skynet | thread-ring | chameneos | big | fork-join-*)
      n="${size[$suite]}"
      systems=("strata|$micro --system=strata --suite=$suite --n=$n"
        "caf|$micro_caf --system=caf --suite=$suite --n=$n")
      [[ -n "$erlang_dir" ]] && systems+=("erlang|$erl_cmd $suite $n")
      run_suite "$suite" "$index" "${systems[@]}"
      ;;
    spawn)
      for n in "${spawn_sizes[@]}"; do
        systems=("strata|$micro --system=strata --suite=spawn --n=$n"
          "caf|$micro_caf --system=caf --suite=spawn --n=$n")
        if [[ -n "$erlang_dir" ]]; then
          if ((n * 2700 / 1024 * 3 / 2 < mem_kb)); then
            systems+=("erlang|$erl_cmd spawn $n")
          else
            echo "spawn, n = $n: Erlang skipped, its ~2,700 B per process would not fit in this machine's $((mem_kb / 1024 / 1024)) GiB." >>"$notes"
          fi
        fi
        run_suite "spawn (n = $n)" "$index" "${systems[@]}"
      done
      ;;
    supervision)
      # Raw CAF has no supervisors: strata against OTP's.
      for part in restart-sustained one-for-all dynamic-start; do
        n="${size[$part]}"
        systems=("strata|$supervision --suite=$part --n=$n")
        [[ -n "$erlang_dir" ]] && systems+=("erlang|$erl_sup_cmd $part $n logged"
          "erlang-quiet|$erl_sup_cmd $part $n quiet")
        run_suite "$part" "$index" "${systems[@]}"
      done
      ;;
    cross-process)
      # bench_nodes measures strata's `process` placement, CAF TCP and Boost message queues
      # in one run, each run a summary line per system (runs=1); strata_bench_dist the same
      # round trip and one-way rows between two Erlang nodes (system erlang).
      systems=("strata+caf-tcp+boost-mq|$build_dir/bench/bench_nodes --runs=1 $nodes_sizes --json=/dev/stdout")
      [[ -n "$erlang_dir" ]] && systems+=("erlang|$erl_dist_cmd $dist_sizes")
      run_suite "$suite" "$index" "${systems[@]}"
      ;;
    isolation)
      # Each run measures the three placements side by side (systems strata-task,
      # strata-thread, strata-process), in one bench_nodes process and its forks.
      run_suite "$suite" "$index" "strata|$build_dir/bench/bench_nodes --suite=isolation --runs=1 $isolation_sizes --json=/dev/stdout"
      ;;
    gateway)
      # Each run: a fresh server on a free port, chat_loadgen on it, the server stopped.
      # chat_gateway with an I/O thread per core (its default; said anyway, so that the
      # notes state it). The hold part leaves strata-thread out: 10,000 connections would be
      # 10,000 threads.
      gateway_bin="$build_dir/examples/chat_gateway/chat_gateway --port=0 --io-threads=$(nproc)"
      for part in load hold; do
        systems=("strata|$gateway_bin")
        [[ "$part" == load ]] && systems+=("strata-thread|$gateway_bin --sessions=thread")
        [[ -n "$node_dir" ]] && systems+=("node-ws|node $node_dir/server.js --port=0")
        for entry in "${systems[@]}"; do
          system="${entry%%|*}"
          cmd="${entry#*|}"
          for ((k = 1; k <= runs; k++)); do
            printf '[bench] suite %d/%d %-13s system %-13s run %d/%d\n' "$index" "${#suites[@]}" \
              "gateway-$part" "$system" "$k" "$runs"
            # shellcheck disable=SC2086 # the command is words on purpose
            start_server $cmd
            if [[ "$part" == load ]]; then
              # shellcheck disable=SC2086
              measure "gateway/$system" "$loadgen" --port="$server_port" --server-pid="$server_pid" \
                --json --system="$system" --suite=gateway $gateway_load
            else
              # shellcheck disable=SC2086
              measure "gateway-hold/$system" "$loadgen" --port="$server_port" \
                --server-pid="$server_pid" --json --system="$system" --suite=gateway-hold \
                $gateway_hold
            fi
            sed 's/^/    /' "$results/raw/last-stderr"
            stop_server
          done
        done
      done
      ;;
  esac
done

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]]; then
  commit="$commit (with local changes)"
fi
rm -rf "$results/plots"
mkdir -p "$results/plots"
# Suites not run this time keep their rows from the last results (bench_report --keep).
"$build_dir/bench/bench_report" --out="$results" --machine="$machine" --commit="$commit" \
  --date="$(date -u '+%Y-%m-%d %H:%M UTC')" --notes="$notes" --keep="$results/latest.json" "$raw"
for gp in "$results"/plots/*.gp; do
  [[ -e "$gp" ]] && (cd "$results/plots" && gnuplot "$(basename "$gp")")
done
echo "bench: $results/latest.md, latest.json and $(find "$results/plots" -name '*.png' | wc -l) plots in $results/plots"
}

main "$@"
