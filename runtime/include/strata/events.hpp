#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/group.hpp>

#include "strata/supervision_event.hpp"

namespace strata {

/// The group every strata supervisor publishes its `supervision_event`s to (for a system
/// not made from a `strata::config`, the CAF local group "strata.events").
/// Join it to receive them: `self->join(strata::events_group(self->system()))`, or use
/// `subscribe`. @threadsafe
caf::group events_group(caf::actor_system& sys);

/// Makes `self` (an event-based, stateful or blocking actor, or a `caf::scoped_actor`'s
/// pointer) receive every supervision event of its system as a `supervision_event` message.
/// Owner thread only: call it from inside `self`.
template <class Self>
void subscribe(Self* self) {
  self->join(events_group(self->system()));
}

/// Spawns an actor that appends every supervision event to `path` as one JSON line
/// (`to_json_line`), flushed per line so the file can be tailed.
/// @returns `error::invalid_config` when `path` cannot be opened for appending.
[[nodiscard]] caf::expected<caf::actor> start_event_log(caf::actor_system& sys,
                                                        const std::string& path);

} // namespace strata
