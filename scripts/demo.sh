#!/usr/bin/env bash
# Builds and runs the supervision tree example; installs the Debian packages it needs first,
# if missing. Arguments go to the example:
#
#   scripts/demo.sh --duration=20 --strata.placement.flaky=thread
#
# Environment: BUILD_DIR (default build-demo, relative to the repository root), JOBS (default 2).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/deps.sh
source "$root/scripts/lib/deps.sh"
strata_install_deps

cd "$root"
build_dir="${BUILD_DIR:-build-demo}"
jobs="${JOBS:-2}"

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build_dir" -j "$jobs" --target supervision_tree
exec "$build_dir/examples/supervision_tree/supervision_tree" "$@"
