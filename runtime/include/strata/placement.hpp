#pragma once

#include <cstdint>
#include <string>

#include <caf/expected.hpp>
#include <caf/string_view.hpp>

namespace strata {

/// Where a child runs: the isolation it buys and what it costs.
enum class placement : uint8_t {
  /// An event-based CAF actor on the work-stealing pool; a crash takes down that actor only.
  task,
  /// A detached CAF actor on its own OS thread; may block.
  thread,
  /// Another OS process (a node) with its own actor system; needs strata::nodes.
  process,
};

/// Returns `"task"`, `"thread"` or `"process"`.
std::string to_string(placement x);

/// Parses `"task"`, `"thread"` or `"process"`; anything else is `error::invalid_config`.
caf::expected<placement> parse_placement(caf::string_view text);

} // namespace strata
