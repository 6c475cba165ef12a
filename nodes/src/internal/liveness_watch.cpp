#include "internal/liveness_watch.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <caf/detail/set_thread_name.hpp>

#include "strata/nodes/inbox.hpp"

namespace strata::nodes::internal {

namespace {

// One wait entry for the word we own, the rest for producers' tokens.
constexpr size_t max_watched = FUTEX_WAITV_MAX - 1;

futex_waitv wait_entry(std::atomic<uint32_t>* word, uint32_t expected, bool shared) {
  futex_waitv w{};
  w.val = expected;
  w.uaddr = reinterpret_cast<uintptr_t>(word);
  w.flags = FUTEX_32 | (shared ? 0u : static_cast<uint32_t>(FUTEX_PRIVATE_FLAG));
  return w;
}

} // namespace

liveness_watch::liveness_watch(inbox& box, handler on_death)
  : box_(box), on_death_(std::move(on_death)) {
  thread_ = std::thread{[this] {
    caf::detail::set_thread_name("strata.liveness");
    run();
  }};
}

liveness_watch::~liveness_watch() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stop_ = true;
  }
  changed();
  thread_.join();
}

void liveness_watch::watch(uint32_t slot) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (std::find(watched_.begin(), watched_.end(), slot) != watched_.end()
        || watched_.size() == max_watched)
      return;
    watched_.push_back(slot);
  }
  changed();
}

void liveness_watch::forget(uint32_t slot) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    watched_.erase(std::remove(watched_.begin(), watched_.end(), slot), watched_.end());
  }
  changed();
}

bool liveness_watch::watching(uint32_t slot) {
  if (!supported())
    return false;
  std::lock_guard<std::mutex> guard{mtx_};
  return std::find(watched_.begin(), watched_.end(), slot) != watched_.end();
}

bool liveness_watch::supported() {
  // No waiters is invalid where the call exists.
  static const bool result
    = ::syscall(SYS_futex_waitv, nullptr, 0u, 0u, nullptr, CLOCK_MONOTONIC) == 0 || errno != ENOSYS;
  return result;
}

void liveness_watch::changed() {
  // SYNC POINT WRITE: release pairs with the acquire load at the top of run(): a change made
  // before this increment is seen by the loop that reads the new value, and a loop that read
  // the old value returns from its wait at once.
  seq_.fetch_add(1, std::memory_order_release);
  ::syscall(SYS_futex, &seq_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void liveness_watch::run() {
  if (!supported()) {
    // An old kernel: no early reports; wait for the stop only.
    for (;;) {
      auto seq = seq_.load(std::memory_order_acquire);
      {
        std::lock_guard<std::mutex> guard{mtx_};
        if (stop_)
          return;
      }
      ::syscall(SYS_futex, &seq_, FUTEX_WAIT_PRIVATE, seq, nullptr, nullptr, 0);
    }
  }
  std::vector<futex_waitv> waits;
  std::vector<uint32_t> slots;
  std::vector<uint32_t> dead;
  std::vector<uint32_t> held; // watched slots seen held since they were watched
  for (;;) {
    // SYNC POINT READ: pairs with the release increment in changed().
    auto seq = seq_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (stop_)
        return;
      slots = watched_;
    }
    // A slot forgotten (and perhaps watched again, for another producer) starts afresh.
    held.erase(std::remove_if(held.begin(), held.end(),
                              [&](uint32_t x) {
                                return std::find(slots.begin(), slots.end(), x) == slots.end();
                              }),
               held.end());
    waits.clear();
    dead.clear();
    waits.push_back(wait_entry(&seq_, seq, false));
    bool again = false;
    for (auto slot : slots) {
      auto* word = box_.liveness_word(slot);
      // Relaxed: a hint written by another process; the futex wait re-checks the value.
      auto v = word->load(std::memory_order_relaxed);
      if ((v & FUTEX_OWNER_DIED) != 0) {
        dead.push_back(slot);
        continue;
      }
      auto seen = std::find(held.begin(), held.end(), slot);
      if ((v & FUTEX_TID_MASK) == 0) {
        if (seen != held.end()) {
          held.erase(seen);
          dead.push_back(slot); // given back: its process ends cleanly
        }
        continue; // else not taken (yet)
      }
      if (seen == held.end())
        held.push_back(slot);
      // The kernel wakes a waiter of a dying holder's word only if FUTEX_WAITERS is set.
      if ((v & FUTEX_WAITERS) == 0
          && !word->compare_exchange_strong(v, v | FUTEX_WAITERS, std::memory_order_relaxed)) {
        again = true; // changed under us: look again
        continue;
      }
      waits.push_back(wait_entry(word, v | FUTEX_WAITERS, true));
    }
    if (!dead.empty()) {
      {
        std::lock_guard<std::mutex> guard{mtx_};
        for (auto slot : dead)
          watched_.erase(std::remove(watched_.begin(), watched_.end(), slot), watched_.end());
      }
      for (auto slot : dead)
        on_death_(slot);
      continue;
    }
    if (again)
      continue;
    // Returns when any word changes or is woken (EAGAIN if one already differs).
    ::syscall(SYS_futex_waitv, waits.data(), static_cast<unsigned>(waits.size()), 0u, nullptr,
              CLOCK_MONOTONIC);
  }
}

} // namespace strata::nodes::internal
