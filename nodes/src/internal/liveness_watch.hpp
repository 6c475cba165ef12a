#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::nodes {
class inbox;
} // namespace strata::nodes

namespace strata::nodes::internal {

/// Watches the liveness tokens that producers of an inbox hold (`outbox::hold_liveness`,
/// shm_layout.hpp) on one thread, sleeping on all their futex words at once
/// (`futex_waitv`), and reports a producer whose holding thread died: the kernel marks the
/// token as that thread exits, at the start of its process's teardown, hundreds of
/// microseconds before the process is gone and a pidfd says so.
///
/// The token's word is written by the producer: a report is a hint to check (the owner of
/// the report checks the process), never proof. Watches at most 127 slots (the kernel's
/// limit per wait, one taken by our own wake-up word); on a kernel without `futex_waitv`
/// (before Linux 5.16) it reports nothing.
class liveness_watch {
public:
  using handler = std::function<void(uint32_t slot)>;

  /// Starts the watching thread; `on_death` runs on it, once per watched slot whose holder
  /// died or gave the token back (a process ending cleanly); the slot is then no longer
  /// watched. `box` must outlive this object.
  liveness_watch(inbox& box, handler on_death);

  /// Stops and joins the thread.
  ~liveness_watch();

  liveness_watch(const liveness_watch&) = delete;
  liveness_watch& operator=(const liveness_watch&) = delete;

  /// Watches the token of `slot`'s producer (call once it holds it). @threadsafe
  void watch(uint32_t slot);

  /// Stops watching `slot` (call before its ring is reset for another producer). @threadsafe
  void forget(uint32_t slot);

  /// Whether the end of `slot`'s producer will be reported: it is watched, on a kernel that
  /// can (`futex_waitv`). @threadsafe
  bool watching(uint32_t slot);

  /// Whether this kernel has `futex_waitv` (Linux 5.16).
  static bool supported();

private:
  void run();
  void changed();

  inbox& box_;
  handler on_death_;
  std::mutex mtx_; // guards watched_ and stop_
  std::vector<uint32_t> watched_;
  bool stop_ = false;
  // Our own futex word: bumped (and woken) on every change to watched_ or stop_.
  std::atomic<uint32_t> seq_{0};
  std::thread thread_;
};

} // namespace strata::nodes::internal
