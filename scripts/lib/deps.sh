# shellcheck shell=bash
# Installs the Debian 12 packages strata needs to build and test, and nothing else.
# Sourced by scripts/test.sh and scripts/demo.sh; call `strata_install_deps`.

# What strata builds with: CAF 0.17 (libcaf-dev), Boost headers (Boost.Interprocess for
# nodes/, Beast for the chat gateway), Catch2 2.13 for the tests, nlohmann-json for the event
# log, and the toolchain.
STRATA_DEB_PACKAGES=(
  libcaf-dev
  libboost-dev
  catch2
  nlohmann-json3-dev
  cmake
  ninja-build
  g++
)

# Adds what the browser test (tests/gateway/browser) needs to STRATA_DEB_PACKAGES; called by
# scripts/test.sh only. Debian's Chromium, and Node.js and npm to drive it with playwright-core:
# those two from Debian only where the machine has none, since a Node.js installed otherwise
# (NodeSource's, which brings its own npm) conflicts with Debian's npm package.
strata_add_browser_test_deps() {
  STRATA_DEB_PACKAGES+=(chromium)
  command -v node >/dev/null || STRATA_DEB_PACKAGES+=(nodejs)
  command -v npm >/dev/null || STRATA_DEB_PACKAGES+=(npm)
}

# Adds promtool (Debian's prometheus package) to STRATA_DEB_PACKAGES; called by
# scripts/test.sh only: the observer's /metrics must pass `promtool check metrics`
# (tests/runtime/observer.cpp; the CTest entry runtime_observer_promtool is skipped without it).
strata_add_metrics_test_deps() {
  command -v promtool >/dev/null || STRATA_DEB_PACKAGES+=(prometheus)
}

# Adds gnuplot (Debian's gnuplot-nox) to STRATA_DEB_PACKAGES; called by scripts/test.sh only:
# strata-timeline draws with it (tests/runtime/timeline_tool.cpp renders a PNG).
strata_add_timeline_test_deps() {
  command -v gnuplot >/dev/null || STRATA_DEB_PACKAGES+=(gnuplot-nox)
}

# Returns 0 if Debian package $1 is installed (a removed package whose config files remain is
# still known to `dpkg -s`, hence the check of its status line).
strata_has_package() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

# Installs whatever in STRATA_DEB_PACKAGES is missing; runs `apt-get update` once, and only if
# something is missing. Needs root (or sudo) only in that case.
strata_install_deps() {
  local missing=() pkg
  for pkg in "${STRATA_DEB_PACKAGES[@]}"; do
    strata_has_package "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "strata: installing missing packages: ${missing[*]}" >&2
  local sudo=()
  if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
      echo "strata: missing packages (${missing[*]}) and not root; run as root" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}
