#pragma once

#include <caf/actor_system_config.hpp>

namespace strata::nodes {

/// Loads CAF's middleman (BASP over TCP: `caf::io::publish`, `caf::io::remote_actor`) with
/// strata's BASP broker in place of CAF's own. It behaves as CAF's, and in a cluster's root
/// it also routes what other hosts send to the actors of the cluster's nodes, whose handles
/// other hosts get from the root (see `transport_options::join_basp`). `install` calls it;
/// call it yourself only to use a `transport` without `install`, instead of
/// `cfg.load<caf::io::middleman>()`.
void load_middleman(caf::actor_system_config& cfg);

} // namespace strata::nodes
