// The restart lab's workers: small CAF function-based actors that do a little real work, so
// that a crash interrupts something and a restart has something to resume. Each one runs
// unchanged under every placement (task, thread, process): placement is configuration.
#pragma once

#include <cstdint>
#include <string>

#include <caf/all.hpp>

#include "strata/strata.hpp"

namespace lab {

using item_atom = caf::atom_constant<caf::atom("item")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

/// A connection-like worker, one of many under `edge` (`simple_one_for_one`): idle until
/// pinged, it answers with its number.
caf::behavior session(caf::event_based_actor* self, int32_t number);

/// The head of `pipeline` (`rest_for_one`): every 50 ms it sends the next item to the worker
/// registered as `lab.parser`.
caf::behavior source(caf::event_based_actor* self);

/// Parses (hashes) each item and passes it on to `lab.sink`. Registers as `lab.parser`.
caf::behavior parser(caf::event_based_actor* self);

/// Counts what reaches the end of the pipeline; answers `get` with the count. Registers as
/// `lab.sink`.
caf::behavior sink(caf::event_based_actor* self);

/// A storage shard of `storage` (`one_for_all`): counts what it is told to store, answers
/// `get`. Registers as `lab.<name>`.
caf::behavior shard(caf::event_based_actor* self, std::string name);

/// Every 200 ms stores an item in each shard (`lab.shard_a`, `lab.shard_b`), and gives up on
/// a shard that does not answer within a second.
caf::behavior index(caf::event_based_actor* self);

/// CPU work in chunks (counting primes), a tick apart: the kind of child that belongs on a
/// thread of its own.
caf::behavior cruncher(caf::event_based_actor* self);

/// Every second asks `lab.sink` for its count and remembers it.
caf::behavior reporter(caf::event_based_actor* self);

/// Throws every `every_ms` milliseconds (never if 0): background crashes without the chaos
/// tool.
caf::behavior flaky(caf::event_based_actor* self, int32_t every_ms);

/// Registers every factory above with `cfg`, and the lab's supervisors (`lab`, `edge`,
/// `pipeline`, `storage`, `jobs`).
void add_factories(strata::config& cfg);

/// The top of the tree: `lab` (`one_for_one`) over `edge`, `pipeline`, `storage` and `jobs`.
strata::supervisor_spec lab_spec(int32_t flaky_every_ms);

} // namespace lab
