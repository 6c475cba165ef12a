#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace strata::nodes::internal {

/// Sleeps while `word` holds `expected`, for at most `timeout`. Returns on a wake-up, when
/// the word no longer holds `expected`, on a signal, on the timeout, or spuriously: the caller
/// re-checks its condition. A shared (not FUTEX_PRIVATE_FLAG) futex, so that a process waking
/// the word through its own mapping of the segment reaches a sleeper in another process.
/// @threadsafe
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;

/// Wakes every thread sleeping on `word`, in any process. @threadsafe
void futex_wake_all(std::atomic<uint32_t>& word) noexcept;

} // namespace strata::nodes::internal
