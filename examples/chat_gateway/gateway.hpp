#pragma once

// The gateway as a supervised worker: a `server` owned by an actor, so that a supervisor
// starts, stops and restarts it at any placement. In `process` placement every gateway is a
// node of its own: its connections and their sessions live and die with that OS process,
// while the rooms and the directory live elsewhere in the cluster.

#include <cstddef>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "strata/strata.hpp"

#include "server.hpp"

namespace chat {

struct gateway_state {
  std::unique_ptr<server> srv; // stopped (1001 to every client) when the actor ends
};

/// A gateway: serves `opts` (with `reuse_port`, so that several share a port) and starts a
/// session per connection in its own actor system; sessions find the directory by its name.
/// Fails to start, as an exception in its init, when it cannot listen. `(get_atom)` → the
/// number of connections it holds (uint64_t).
caf::behavior gateway(caf::stateful_actor<gateway_state>* self, server_options opts);

/// The spec of the gateways' supervisor: one_for_one over `count` permanent children
/// "gateway-1" ... "gateway-<count>", each a "gateway" serving `opts` on one shared port
/// (`gateway` sets `reuse_port`);
/// at most 10 restarts a second. Their placement is configuration (`set_placement`).
strata::supervisor_spec gateways_spec(size_t count, server_options opts);

/// The child id of gateway `i` (1-based) in `gateways_spec`.
std::string gateway_id(size_t i);

} // namespace chat
