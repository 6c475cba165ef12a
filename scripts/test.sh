#!/usr/bin/env bash
# Builds strata and runs its tests; installs the Debian packages it needs first, if missing
# (Chromium, Node.js and npm too, for the chat page's browser test; promtool, from Debian's
# prometheus package, for the observer's metrics test).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -L runtime      # arguments go to ctest
#
# Environment: BUILD_DIR (default build, relative to the repository root), JOBS (default 2),
# STRATA_CMAKE_ARGS (extra cmake arguments, split on whitespace), e.g.
#   BUILD_DIR=build-asan STRATA_CMAKE_ARGS="-DSTRATA_SANITIZE=address,undefined" scripts/test.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/deps.sh
source "$root/scripts/lib/deps.sh"
strata_add_browser_test_deps
strata_add_metrics_test_deps
strata_add_timeline_test_deps
strata_install_deps

cd "$root"
build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-2}"
read -r -a extra_args <<<"${STRATA_CMAKE_ARGS:-}"

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_WERROR=ON "${extra_args[@]}"
cmake --build "$build_dir" -j "$jobs"
# --no-tests=error: a label or regex that matches nothing is a mistake, not a pass.
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "$jobs" "$@"
