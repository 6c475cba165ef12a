#!/usr/bin/env bash
# Builds strata in Release and runs benchmark suites side by side with the peers: raw CAF
# 0.17, CAF's remote actors over TCP, Boost.Interprocess message queues, and Erlang/OTP when
# `erl` is installed (Debian's erlang-base; absent, its rows are skipped with a note).
# Installs what else it needs first.
#
#   scripts/bench.sh                      # every suite
#   scripts/bench.sh ping-pong skynet     # the named ones
#   scripts/bench.sh --list               # the suites
#
# Writes bench/results/latest.json, latest.md and the plots of the scaling suites
# (bench/results/plots/*.png); every run's raw lines stay in bench/results/raw/.
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
    fork-join-creation skynet spawn supervision cross-process isolation)
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

# The plots need gnuplot; Erlang is a peer the user may or may not have installed.
STRATA_DEB_PACKAGES+=(gnuplot-nox)
strata_install_deps

cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_BENCH=ON \
  >/dev/null
cmake --build "$build_dir" -j "$jobs" --target bench_micro bench_micro_caf bench_supervision bench_nodes \
  bench_report

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
if [[ "${QUICK:-0}" == 1 ]]; then
  for s in "${!size[@]}"; do
    size[$s]=$((size[$s] / 100))
  done
  nodes_sizes="--round-trips=500 --messages=20000 --tcp-messages=5000 --restarts=10"
  isolation_sizes="--round-trips=500 --restarts=10 --start-children=20 --process-children=5"
  dist_sizes="500 20000"
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
  esac
done

machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]]; then
  commit="$commit (with local changes)"
fi
rm -rf "$results/plots"
mkdir -p "$results/plots"
"$build_dir/bench/bench_report" --out="$results" --machine="$machine" --commit="$commit" \
  --date="$(date -u '+%Y-%m-%d %H:%M UTC')" --notes="$notes" "$raw"
for gp in "$results"/plots/*.gp; do
  [[ -e "$gp" ]] && (cd "$results/plots" && gnuplot "$(basename "$gp")")
done
echo "bench: $results/latest.md, latest.json and $(find "$results/plots" -name '*.png' | wc -l) plots in $results/plots"
}

main "$@"
