# shellcheck shell=bash
# Builds CAF 0.17.6's core library with ThreadSanitizer from Debian's own source package, for
# the ThreadSanitizer run of .ci/run. Debian's libcaf_core is not instrumented, so TSan cannot
# see the synchronisation inside CAF's mailboxes and reports every message hand-off as a race;
# suppressing libcaf_core would hide real races in actor code too. Source: the
# `actor-framework` source package (a deb-src entry is added if the machine has none).
#
#   strata_build_caf_tsan <dir>   # leaves headers and libcaf_core.so in <dir>/prefix
#
# Idempotent: an existing <dir>/prefix is reused.

strata_build_caf_tsan() {
  local dir="$1"
  local prefix="$dir/prefix"
  if [[ -f "$prefix/lib/libcaf_core.so" && -f "$prefix/include/caf/all.hpp" ]]; then
    echo "strata: reusing ThreadSanitizer CAF in $prefix" >&2
    return 0
  fi
  mkdir -p "$dir/src"
  local tarball
  tarball="$(ls "$dir"/src/actor-framework_0.17.6*.orig.tar.* 2>/dev/null | head -n 1 || true)"
  if [[ -z "$tarball" ]]; then
    strata_ensure_deb_src
    # apt-get source may fail on the Debian diff while the upstream tarball, all we need,
    # arrives: judge by the tarball.
    (cd "$dir/src" && apt-get source --download-only actor-framework || true)
    tarball="$(ls "$dir"/src/actor-framework_0.17.6*.orig.tar.* 2>/dev/null | head -n 1 || true)"
    if [[ -z "$tarball" ]]; then
      echo "strata: could not download the actor-framework 0.17.6 source package" >&2
      return 1
    fi
  fi
  rm -rf "$dir/tree" "$dir/build"
  mkdir -p "$dir/tree"
  tar -xf "$tarball" -C "$dir/tree" --strip-components=1
  # Debian's build configuration (logging compiled out, exceptions on), plus TSan.
  cmake -S "$dir/tree" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCAF_LOG_LEVEL=QUIET -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENCL=yes \
    -DCAF_NO_OPENSSL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes -DCAF_NO_IO=yes \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -g" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    >"$dir/configure.log"
  cmake --build "$dir/build" --target libcaf_core_shared -j "${JOBS:-2}"
  rm -rf "$prefix"
  mkdir -p "$prefix/include" "$prefix/lib"
  cp -r "$dir/tree/libcaf_core/caf" "$prefix/include/"
  cp "$dir/build/libcaf_core/caf/detail/build_config.hpp" "$prefix/include/caf/detail/"
  cp -a "$dir"/build/lib/libcaf_core.so* "$prefix/lib/"
}

# Adds deb-src entries mirroring the deb ones when the machine has none, then updates.
strata_ensure_deb_src() {
  if grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    apt-get update >/dev/null
    return 0
  fi
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      >/etc/apt/sources.list.d/strata-deb-src.sources
  elif [[ -f /etc/apt/sources.list ]]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/strata-deb-src.list
  fi
  apt-get update >/dev/null
}
