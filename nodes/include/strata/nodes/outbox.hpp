#pragma once

#include <cstdint>
#include <memory>
#include <pthread.h>
#include <string>

#include <caf/expected.hpp>

#include "strata/nodes/cluster_token.hpp"
#include "strata/nodes/ring_writer.hpp"
#include "strata/nodes/wait_policy.hpp"

namespace strata::nodes {

namespace internal {
class segment;
} // namespace internal

/// Which inbox to open, and as which sender.
struct outbox_options {
  /// The cluster's token: must match the one in the segment's name and header.
  cluster_token token;
  /// The receiving node's index.
  uint32_t node_index = 0;
  /// The sending node's slot: the ring this outbox writes.
  uint32_t slot = 0;
  /// How a blocking `write` waits for room.
  wait_policy wait;
};

/// The sender's side of a peer's inbox: maps the peer's segment, validates its header, claims
/// the sender's slot and writes into that slot's ring.
///
/// The claim (the slot's `writer_pid`) keeps two writers off one ring, which would corrupt it.
/// It is released when the outbox is destroyed between messages; a writer that dies keeps it
/// until the inbox's owner calls `inbox::reset_ring` for the slot, which also discards the
/// dead writer's partial message.
///
/// Owner thread only, like its `ring_writer`.
class outbox {
public:
  /// Opens `segment_name(token, node_index)` and claims ring `slot`. Checks the header against
  /// the mapped size and the bounds of limits.hpp before using any of it.
  /// @returns `segment_not_found`; `invalid_segment` (no magic, truncated, geometry out of
  /// bounds); `version_mismatch`; `token_mismatch`; `invalid_argument` (slot out of range);
  /// `slot_in_use`; `corrupt_ring` (the ring's counters are out of range); `ring_closed`;
  /// `system_error`.
  [[nodiscard]] static caf::expected<outbox> open(const outbox_options& options);

  outbox(outbox&&) noexcept;
  outbox& operator=(outbox&&) noexcept;
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  /// Releases the slot (see above) and unmaps the segment.
  ~outbox();

  /// The writer of this sender's ring.
  ring_writer& writer() noexcept {
    return writer_;
  }

  /// Shorthand for `writer().try_write(message)`.
  [[nodiscard]] caf::error try_write(caf::span<const char> message) {
    return writer_.try_write(message);
  }

  /// Shorthand for `writer().write(message, deadline)`.
  [[nodiscard]] caf::error write(caf::span<const char> message,
                                 ring_writer::clock::time_point deadline) {
    return writer_.write(message, deadline);
  }

  /// Makes the calling thread hold this slot's liveness token in the peer's inbox (a robust,
  /// process-shared mutex, see shm_layout.hpp) until it exits: the inbox's owner can then
  /// learn of this process's death as soon as that thread dies, before the kernel has torn
  /// the process down. Call it from a thread that lives as long as the process and locks no
  /// other robust mutex; the token is given back when this outbox is destroyed on that
  /// thread. @returns `system_error` if the mutex cannot be set up.
  [[nodiscard]] caf::error hold_liveness();

  /// The segment's name.
  const std::string& name() const noexcept;

  /// The pid of the inbox's owner, as its header says.
  int32_t owner_pid() const noexcept {
    return owner_pid_;
  }

private:
  outbox(std::unique_ptr<internal::segment> seg, ring_writer writer, int32_t owner_pid,
         int32_t pid) noexcept;

  void release() noexcept;

  std::unique_ptr<internal::segment> segment_; // declared first: outlives writer_
  ring_writer writer_;
  int32_t owner_pid_ = 0;
  int32_t pid_ = 0; // ours, as written into the claim
  pthread_mutex_t* liveness_ = nullptr; // while held (by liveness_holder_)
  pthread_t liveness_holder_{};
};

} // namespace strata::nodes
