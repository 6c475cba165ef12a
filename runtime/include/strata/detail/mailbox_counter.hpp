#pragma once

/// @file
/// A worker's mailbox depth, for the observer: CAF 0.17 can count a mailbox only from inside
/// its actor (`fifo_inbox::size()` moves messages as it counts), so a worker strata spawns
/// counts its own enqueues and consumes while an observer runs (docs/design/observer.md).

#include <atomic>
#include <cstdint>

#include <caf/fwd.hpp>

namespace strata::detail {

/// Whether workers spawned from now on count their mailbox: on once an observer runs in this
/// process (it shows them), off otherwise, so that messaging costs nothing more without one.
/// Process-wide. @threadsafe
std::atomic<bool>& count_worker_mailboxes() noexcept;

/// The count a worker keeps (`fault_injectable` adds to it on enqueue and takes from it when
/// a message is consumed); read by its supervisor.
class mailbox_counter {
public:
  virtual ~mailbox_counter() = default;

  /// Messages enqueued and not yet consumed (skipped ones stay counted), or -1 when this
  /// worker does not count. @threadsafe
  int64_t queued() const noexcept {
    // Relaxed: a statistic, it orders nothing.
    return counting_ ? queued_.load(std::memory_order_relaxed) : -1;
  }

protected:
  const bool counting_ = count_worker_mailboxes().load(std::memory_order_relaxed);
  // Added to by every sender's thread, taken from by the actor's: atomic, relaxed.
  std::atomic<int64_t> queued_{0};
};

/// The count `worker` keeps (`mailbox_counter::queued`), -1 when it keeps none: a worker
/// spawned plain, a supervisor, a proxy of an actor in another process. @threadsafe
int64_t queued_messages(const caf::actor& worker) noexcept;

} // namespace strata::detail
