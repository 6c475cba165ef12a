#pragma once

// The message tags of bench_micro's workloads (workloads.cpp, savina.cpp).

#include <caf/atom.hpp>

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

} // namespace strata::bench
