#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "strata/nodes/cluster_token.hpp"
#include "strata/nodes/limits.hpp"
#include "strata/nodes/ring_reader.hpp"
#include "strata/nodes/wait_policy.hpp"

namespace strata::nodes {

namespace internal {
class segment;
struct segment_header_data;
} // namespace internal

/// Geometry and identity of an inbox.
struct inbox_options {
  /// The cluster's token (part of the segment's name and stored in its header).
  cluster_token token;
  /// This node's index in the cluster (part of the segment's name).
  uint32_t node_index = 0;
  /// One ring per sending node slot, at most `max_rings`.
  uint32_t ring_count = 8;
  /// Bytes of frame data per ring: a power of two within [min_ring_capacity,
  /// max_ring_capacity]. Messages larger than a quarter of it are fragmented.
  uint64_t ring_capacity = uint64_t{1} << 20;
  /// Largest message a writer may send, at most `max_message_size_limit`.
  uint64_t max_message_size = default_max_message_size;
  /// How `receive` waits.
  wait_policy wait;
};

/// What one `inbox::try_receive` or `inbox::receive` call found.
enum class receive_status : uint8_t {
  /// The buffer holds a message from `slot`.
  message,
  /// No complete message in any ring (for `receive`: until the timeout, or a `notify`).
  empty,
  /// The ring of `slot` is corrupt and now closed; `error` says what was wrong. The buffer is
  /// untouched. The cluster should treat the sender of that slot as failed.
  corrupt,
};

/// The outcome of `inbox::try_receive` / `inbox::receive`.
struct receive_result {
  /// What was found.
  receive_status status = receive_status::empty;
  /// The slot the message (or the corruption) came from.
  uint32_t slot = 0;
  /// For `corrupt`: the `corrupt_ring` error.
  caf::error error;
};

/// A node's inbox: a shared-memory segment that it owns, holding one single-producer /
/// single-consumer ring per sending node slot. Peers open it with `outbox::open` and write into
/// their slot's ring; the owner's receive thread reads all rings.
///
/// The segment is created with mode 0600 under the name `segment_name(token, node_index)` and
/// removed when the inbox is destroyed. A node killed with SIGKILL leaves it behind:
/// `remove_stale_segments` or the next `create` of the same name (which replaces a segment
/// whose owner is dead) clean it up.
///
/// **Receiving.** `receive` polls the rings round robin, spins (adaptively, see `wait_policy`)
/// when they are empty, then announces that it sleeps, re-checks every ring and sleeps on a
/// futex word in the segment header (an eventcount: a writer that publishes after the
/// re-check sees the announcement and wakes it; nothing is lost in between). Writers make the
/// wake-up system call only while the receiver announced that it sleeps.
///
/// Owner thread only (one receive thread), except `notify`, `name` and `ring_count`.
class inbox {
public:
  /// Creates the segment and its rings. Replaces a segment of the same name whose owner
  /// process is dead.
  /// @returns `invalid_argument` for options out of bounds, `segment_exists` if a live
  /// process owns the name, `system_error` if the OS refuses (e.g. /dev/shm is full).
  [[nodiscard]] static caf::expected<inbox> create(const inbox_options& options);

  /// Creates an inbox ahead of knowing its node index, under a name of its own
  /// (`segment_name(token, 0)` + `-spare-<pid>`; `options.node_index` is ignored): a warm spare
  /// pays for the segment (allocating it is most of an inbox's start-up) before it is needed,
  /// then `take_index` gives it its node's name.
  [[nodiscard]] static caf::expected<inbox> create_spare(const inbox_options& options);

  /// Renames this inbox to node `node_index`'s name (`segment_name(token, node_index)`),
  /// replacing a segment of that name whose owner is dead. Owner thread only.
  /// @returns `segment_exists` if a live process owns that name, `system_error` if the
  /// rename fails.
  [[nodiscard]] caf::error take_index(const cluster_token& token, uint32_t node_index);

  inbox(inbox&&) noexcept;
  inbox& operator=(inbox&&) noexcept;
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;

  /// Removes the segment's name; peers that have it open keep their mapping.
  ~inbox();

  /// The segment's name. @threadsafe
  const std::string& name() const noexcept;

  /// Number of rings (sending slots). @threadsafe
  uint32_t ring_count() const noexcept {
    return static_cast<uint32_t>(readers_.size());
  }

  /// Reads one complete message into `out` if any ring has one, starting after the ring that
  /// delivered last (round robin, so one busy sender cannot starve the others). Never blocks.
  [[nodiscard]] receive_result try_receive(std::vector<char>& out);

  /// Like `try_receive`, but reads only the ring of `slot`: for a batch from the sender that
  /// just delivered, without polling every ring after each message. Never blocks.
  [[nodiscard]] receive_result try_receive_from(uint32_t slot, std::vector<char>& out);

  /// Like `try_receive`, but waits up to `timeout` for a message: spins, then sleeps. Returns
  /// `empty` at the timeout, or earlier after a `notify`.
  [[nodiscard]] receive_result receive(std::vector<char>& out, std::chrono::nanoseconds timeout);

  /// Makes a concurrent `receive` return `empty` once no message is waiting, or the next one
  /// if none is running (e.g. to run a heartbeat or to stop). @threadsafe
  void notify() noexcept;

  /// Empties ring `slot`, reopens it if it was closed and frees the slot for a new writer,
  /// discarding a partly received message. Call it once the slot's sender is known dead (a
  /// live sender would find its counters reset and fail with `corrupt_ring`).
  /// @returns `invalid_argument` for a slot out of range.
  [[nodiscard]] caf::error reset_ring(uint32_t slot);

  /// The futex word of the liveness token of ring `slot`'s producer (see
  /// `ring_reader::liveness_word`); `slot < ring_count()`. @threadsafe
  std::atomic<uint32_t>* liveness_word(uint32_t slot) noexcept {
    return readers_[slot].liveness_word();
  }

  /// The reader of ring `slot` (for diagnostics and tests); `slot < ring_count()`.
  ring_reader& reader(uint32_t slot) noexcept {
    return readers_[slot];
  }

private:
  static caf::expected<inbox> create_named(const inbox_options& options, const std::string& name);

  inbox(std::unique_ptr<internal::segment> seg, std::vector<ring_reader> readers,
        wait_policy wait) noexcept;

  // Whether any open ring holds unread bytes.
  bool any_data() const noexcept;
  bool await_any_data() const noexcept; // any_data, prefetching (ring_reader::await_data)

  // Busy-polls every ring for up to `budget`; returns whether one has data (or notify() was
  // called).
  bool spin(std::chrono::nanoseconds budget, std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<internal::segment> segment_;
  internal::segment_header_data* header_ = nullptr;
  std::vector<ring_reader> readers_;
  wait_policy wait_;
  std::chrono::nanoseconds spin_budget_; // adaptive, within [wait_.min_spin, wait_.max_spin]
  uint32_t next_ = 0; // ring to poll first
  // Set by notify(), cleared by receive(). On the heap, since std::atomic cannot move.
  std::unique_ptr<std::atomic<bool>> notified_;
};

} // namespace strata::nodes
