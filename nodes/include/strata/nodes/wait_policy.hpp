#pragma once

#include <chrono>

namespace strata::nodes {

/// How long a waiting side busy-polls before it sleeps on a futex word in the segment.
///
/// Waking a sleeping thread costs tens of microseconds on the VMs strata runs on (futex wake,
/// then the scheduler has to bring an idle vCPU back), while a ring hand-off between two
/// spinning cores costs well under a microsecond. So a waiter first spins, and sleeps only when
/// spinning does not pay: spinning about as long as a wake-up costs bounds the waste at twice
/// the optimum (the classic spin-then-block argument).
///
/// The receiver's spin is adaptive between `min_spin` and `max_spin`: it doubles after a spin
/// that found a message and halves after one that ended in sleep, so a busy inbox spins and an
/// idle one mostly sleeps. A writer waiting for space on a full ring spins `max_spin`.
/// A zero `max_spin` means: never spin, sleep at once.
struct wait_policy {
  /// Longest busy-poll before sleeping (default 50 µs: ~ the cost of a wake-up measured here;
  /// see docs/design/shm-rings.md).
  std::chrono::nanoseconds max_spin = std::chrono::microseconds{50};

  /// Shortest busy-poll of an adaptive receiver (default 2 µs).
  std::chrono::nanoseconds min_spin = std::chrono::microseconds{2};
};

} // namespace strata::nodes
