#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "strata/supervisor.hpp"

namespace strata {

/// Registered names, OTP's `register/2`, `whereis/1` and `unregister/1`, for a whole cluster:
/// one name server per cluster, in its root process, serves every node, so a name registered
/// in any node resolves in all of them (to a proxy where the actor lives elsewhere). A name
/// goes away by itself when its actor exits, or when the node it lives in is lost; as in OTP,
/// it is free as soon as the actor has ended, before its monitors and links hear of it, so a
/// supervisor's restarted child can register the name of the one it replaces.
///
/// The server is an actor: inside an actor, `request` it instead of calling the blocking
/// functions below:
/// - `(register_name_atom, std::string name, caf::actor who)` → `ok_atom` or `name_taken`;
/// - `(whereis_atom, std::string name)` → `caf::actor` or `name_not_found`;
/// - `(unregister_name_atom, std::string name)` → `ok_atom` or `name_not_found`.
using register_name_atom = caf::atom_constant<caf::atom("s_regname")>;
using whereis_atom = caf::atom_constant<caf::atom("s_whereis")>;
using unregister_name_atom = caf::atom_constant<caf::atom("s_unreg")>;

/// The key of the name server in CAF's actor registry (`sys.registry().get(...)`).
constexpr caf::atom_value name_server_key = caf::atom("s_names");

/// The name server of the cluster `sys` belongs to (null if `sys` is not a strata system's).
/// @threadsafe
caf::actor name_server(caf::actor_system& sys);

/// Registers `who` under `name`. @returns `name_taken` if a live actor holds the name,
/// `invalid_spec` for an empty name or handle, `timeout`. @threadsafe (blocking)
[[nodiscard]] caf::error register_name(caf::actor_system& sys, const std::string& name,
                                       const caf::actor& who, call_timeout timeout = {});

/// The actor registered under `name`. @returns `name_not_found`, `timeout`.
/// @threadsafe (blocking)
[[nodiscard]] caf::expected<caf::actor> whereis(caf::actor_system& sys, const std::string& name,
                                                call_timeout timeout = {});

/// Removes `name`. @returns `name_not_found`, `timeout`. @threadsafe (blocking)
[[nodiscard]] caf::error unregister_name(caf::actor_system& sys, const std::string& name,
                                         call_timeout timeout = {});

namespace detail {

/// Spawns a name server and puts it into `sys`'s registry under `name_server_key`
/// (`strata::system` does it at start; a node replaces it with a proxy of its root's).
caf::actor start_name_server(caf::actor_system& sys);

/// Makes `server` (e.g. a proxy of the root's) the name server of `sys`, stopping the one it
/// had. @threadsafe
void use_name_server(caf::actor_system& sys, const caf::actor& server);

/// Stops `sys`'s name server and removes it from the registry (at the system's shutdown).
void stop_name_server(caf::actor_system& sys);

} // namespace detail

} // namespace strata
