#pragma once

#include <caf/atom.hpp>

namespace strata {

// Messages understood by every strata supervisor (see supervisor.hpp for their answers).
using start_child_atom = caf::atom_constant<caf::atom("s_startchd")>;
using terminate_child_atom = caf::atom_constant<caf::atom("s_termchd")>;
using restart_child_atom = caf::atom_constant<caf::atom("s_restchd")>;
using delete_child_atom = caf::atom_constant<caf::atom("s_delchd")>;
using which_children_atom = caf::atom_constant<caf::atom("s_whichchd")>;
using count_children_atom = caf::atom_constant<caf::atom("s_countchd")>;
using get_spec_atom = caf::atom_constant<caf::atom("s_getspec")>;
/// Stops a supervisor like `gen_server:stop/1`: children stopped right to left, then the
/// supervisor exits with `normal`. Answered once everything is down.
using stop_atom = caf::atom_constant<caf::atom("s_stop")>;

/// The start handshake: a supervisor sends `(init_atom, parent, path)` as the first message
/// to a child it spawned; the child runs its user init and answers `ok_atom` or the error
/// that made it fail, so children start synchronously, left to right, as in OTP.
using init_atom = caf::atom_constant<caf::atom("s_init")>;
using ok_atom = caf::atom_constant<caf::atom("s_ok")>;

} // namespace strata
