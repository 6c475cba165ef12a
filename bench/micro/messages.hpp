#pragma once

// What bench_micro's workloads (workloads.cpp, savina.cpp) say to each other: their message
// tags, and the wait for a workload's `done` report.

#include <caf/atom.hpp>
#include <caf/scoped_actor.hpp>

namespace strata::bench {

using ping_atom = caf::atom_constant<caf::atom("b_ping")>;
using pong_atom = caf::atom_constant<caf::atom("b_pong")>;
using done_atom = caf::atom_constant<caf::atom("b_done")>;
using count_atom = caf::atom_constant<caf::atom("b_count")>;
using token_atom = caf::atom_constant<caf::atom("b_token")>;
using next_atom = caf::atom_constant<caf::atom("b_next")>;
using meet_atom = caf::atom_constant<caf::atom("b_meet")>;
using mate_atom = caf::atom_constant<caf::atom("b_mate")>;
using stop_atom = caf::atom_constant<caf::atom("b_stop")>;
using go_atom = caf::atom_constant<caf::atom("b_go")>;

/// Waits for the next `(done_atom, count)` sent to `self` and returns the count.
inline long long await_done(caf::scoped_actor& self) {
  long long result = -1;
  self->receive([&](done_atom, long long x) { result = x; });
  return result;
}

} // namespace strata::bench
