#!/usr/bin/env bash
# Builds and runs the chat gateway (examples/chat_gateway; README, "Chat gateway") and prints
# the URL to open; installs the Debian packages it needs first, if missing. Arguments go to
# the gateway:
#
#   scripts/demo.sh --port=9000 --rooms=process
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
cmake --build "$build_dir" -j "$jobs" --target chat_gateway
exec "$build_dir/examples/chat_gateway/chat_gateway" "$@"
