#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "strata/child_spec.hpp"

namespace strata {

/// How `process` placement is done. The runtime knows the placement exists but not how:
/// strata::nodes implements this interface and installs it with
/// `config::set_placement_provider` before the system starts.
class placement_provider {
public:
  virtual ~placement_provider();

  /// Spawns `child` in another OS process and returns a local handle to it (a proxy). The
  /// actor must wait for the supervisor's init handshake like a local child does.
  /// @threadsafe
  virtual caf::expected<caf::actor>
  spawn(caf::actor_system& sys, const child_spec& child, child_type type) = 0;
};

} // namespace strata
