#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace strata::nodes {

/// The error category of every strata::nodes error (`caf::error::category()`).
constexpr caf::atom_value error_category = caf::atom("strata_n");

/// Errors of strata::nodes: the shared-memory mailbox layer and the node processes. Nothing in
/// strata::nodes throws: these come back inside `caf::error` / `caf::expected<T>`, with a context
/// message that names the segment, the slot or the value concerned. Render one with
/// `strata::nodes::to_text`.
enum class error : uint8_t {
  /// No error (CAF reserves code 0 for it).
  none = 0,
  /// An operating-system call on a segment failed (context: the call, the segment, the OS's
  /// message).
  system_error,
  /// inbox::create: a segment of that name exists and its owner is alive (context: the name,
  /// the owner's pid).
  segment_exists,
  /// outbox::open: no segment of that name exists (context: the name).
  segment_not_found,
  /// The segment is not a usable strata inbox: wrong magic number, too small for its header or
  /// rings, or a geometry out of bounds (context: what was wrong).
  invalid_segment,
  /// The segment was written by a build with another layout version (context: found, expected).
  version_mismatch,
  /// The segment carries another cluster's token (context: the name).
  token_mismatch,
  /// An argument or option is out of range (context: which one and its value).
  invalid_argument,
  /// outbox::open: the slot's ring is claimed by another writer, alive or dead; a dead writer's
  /// slot is freed by the owner's `inbox::reset_ring` (context: the slot, the claiming pid).
  slot_in_use,
  /// try_write: the ring has no room for the whole message now; nothing was written. Retry
  /// later, or use the blocking `write`.
  would_block,
  /// try_write: the framed message is larger than half the ring, so it can never be written at
  /// once; only the blocking `write` sends it, in fragments (context: size, limit).
  exceeds_ring,
  /// The message is larger than the inbox's maximum message size (context: size, maximum).
  message_too_large,
  /// write: the ring stayed too full until the deadline. The part of a fragmented message
  /// already written is cancelled (the reader discards it) before the next message.
  ring_full,
  /// A ring holds bytes that break the framing rules: a peer wrote garbage or a counter is out
  /// of range (context: the slot and what was wrong). The side that found it closes the ring.
  corrupt_ring,
  /// The ring was closed after a `corrupt_ring`; the owner's `inbox::reset_ring` reopens it
  /// (context: the slot, and the original reason on the reader's side).
  ring_closed,
  /// The zygote is gone (it died, or the cluster is shutting down): no node can be started
  /// (context: what was being done).
  zygote_gone,
  /// A node process ended (context: how, e.g. "killed by signal 9 (SIGKILL)").
  node_down,
};

/// Returns the name of `x`, e.g. `"corrupt_ring"`.
std::string to_string(error x);

/// Wraps `x` and an optional context into a `caf::error` of category `strata_n`.
template <class... Ts>
caf::error make_error(error x, Ts&&... context) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::forward<Ts>(context)...)};
}

/// Returns whether `err` is the strata::nodes error `code`.
bool is(const caf::error& err, error code) noexcept;

/// Renders any error as readable text: strata::nodes errors as `name: context`, all others as
/// `strata::to_text` does. Works without an actor system.
std::string to_text(const caf::error& err);

} // namespace strata::nodes
