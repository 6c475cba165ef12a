#include "internal/futex.hpp"

#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace strata::nodes::internal {

namespace {

uint32_t* address_of(std::atomic<uint32_t>& word) noexcept {
  // std::atomic<uint32_t> is a lock-free 32-bit word (static_assert in shm_layout.hpp): the
  // kernel compares and sleeps on the same 4 bytes our atomic operations use.
  return reinterpret_cast<uint32_t*>(&word);
}

} // namespace

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  if (timeout.count() <= 0)
    return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  // FUTEX_WAIT's timeout is relative (measured on CLOCK_MONOTONIC). EAGAIN (the word changed),
  // EINTR and ETIMEDOUT all mean: go and re-check.
  ::syscall(SYS_futex, address_of(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) noexcept {
  ::syscall(SYS_futex, address_of(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

} // namespace strata::nodes::internal
