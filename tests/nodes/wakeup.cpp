// The receiver's wake-up protocol: spin, announce the sleep, re-check, sleep on the futex
// word; writers wake it only when it announced the sleep.

#include <thread>

#include "internal/shm_layout.hpp"
#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

using clock_type = std::chrono::steady_clock;

internal::segment_header_data* header_of(raw_mapping& raw) {
  return reinterpret_cast<internal::segment_header_data*>(raw.base());
}

// Inbox options for a receiver that sleeps as soon as it finds nothing (no spin).
inbox_options sleeping_receiver(uint64_t capacity) {
  auto opts = test_inbox_options(capacity);
  opts.wait.max_spin = std::chrono::nanoseconds{0};
  opts.wait.min_spin = std::chrono::nanoseconds{0};
  return opts;
}

struct race_result {
  int rounds = 20000;
  int late = 0; // receives that took the whole timeout
  bool failed = false; // a poke failed, or a receive returned the wrong thing
  uint32_t wake_ups = 0; // increments of the futex word: the receiver was found asleep
};

// Hands `rounds` pokes to a receiver that sleeps between them: `poke(i)` (a write or a
// notify) comes as soon as the receiver took the previous one, and `took(result, buf, i)`
// checks what its receive returned. A lost wake-up shows as a receive that waits for its
// whole timeout.
template <class Poke, class Took>
race_result sleep_race(ring_pair& rp, Poke poke, Took took) {
  race_result result;
  raw_mapping raw{rp.box.name()};
  auto seq_before = header_of(raw)->wake_seq.load();
  std::atomic<int> taken{0};
  std::atomic<bool> stop{false}; // a poke or a receive failed
  std::thread poker{[&] {
    for (int i = 0; i < result.rounds && !stop; ++i) {
      if (poke(i))
        stop = true;
      while (taken.load(std::memory_order_acquire) <= i && !stop)
        std::this_thread::yield();
    }
  }};
  std::vector<char> buf;
  for (int i = 0; i < result.rounds && !stop; ++i) {
    auto start = clock_type::now();
    auto r = rp.box.receive(buf, 5s);
    // A notification taken by a receive that returned early for it is not lost: the
    // receive after it finds the message (writes only).
    while (r.status == receive_status::empty && !took(r, buf, i) && clock_type::now() - start < 5s)
      r = rp.box.receive(buf, 5s);
    if (clock_type::now() - start >= 5s)
      ++result.late;
    if (!took(r, buf, i))
      stop = true;
    taken.store(i + 1, std::memory_order_release);
  }
  poker.join();
  result.failed = stop;
  result.wake_ups = header_of(raw)->wake_seq.load() - seq_before;
  return result;
}

} // namespace

TEST_CASE("a receive with nothing to read returns empty at its timeout") {
  auto rp = open_pair(min_ring_capacity);
  std::vector<char> buf;
  auto start = clock_type::now();
  auto r = rp.box.receive(buf, 30ms);
  CHECK(r.status == receive_status::empty);
  CHECK(clock_type::now() - start >= 30ms);
}

TEST_CASE("a sleeping receiver is woken by a write") {
  auto rp = open_pair(min_ring_capacity);
  raw_mapping raw{rp.box.name()};
  receive_result result;
  std::vector<char> buf;
  auto start = clock_type::now();
  std::thread receiver{[&] { result = rp.box.receive(buf, 60s); }};
  // Wait until the receiver has spun and announced that it sleeps.
  REQUIRE(wait_until([&] { return header_of(raw)->receiver_sleeping.load() == 1; }));
  auto seq_before = header_of(raw)->wake_seq.load();
  REQUIRE_FALSE(rp.out.try_write(pattern(40, 1)));
  receiver.join();
  CHECK(result.status == receive_status::message);
  CHECK(buf == pattern(40, 1));
  // The writer saw the announcement and bumped the futex word; the receiver did not wait for
  // its timeout.
  CHECK(header_of(raw)->wake_seq.load() != seq_before);
  CHECK(clock_type::now() - start < 30s);
  CHECK(header_of(raw)->receiver_sleeping.load() == 0);
}

TEST_CASE("a writer does not touch the futex word while the receiver is awake") {
  auto rp = open_pair(uint64_t{1} << 16);
  raw_mapping raw{rp.box.name()};
  auto seq_before = header_of(raw)->wake_seq.load();
  for (int i = 0; i < 100; ++i)
    REQUIRE_FALSE(rp.out.try_write(pattern(40, i)));
  CHECK(header_of(raw)->wake_seq.load() == seq_before);
  for (int i = 0; i < 100; ++i)
    CHECK(read_now(rp.box) == pattern(40, i));
}

TEST_CASE("notify makes a sleeping receive return") {
  auto rp = open_pair(min_ring_capacity);
  raw_mapping raw{rp.box.name()};
  receive_result result;
  result.status = receive_status::message;
  std::vector<char> buf;
  auto start = clock_type::now();
  std::thread receiver{[&] { result = rp.box.receive(buf, 60s); }};
  REQUIRE(wait_until([&] { return header_of(raw)->receiver_sleeping.load() == 1; }));
  rp.box.notify();
  receiver.join();
  CHECK(result.status == receive_status::empty);
  CHECK(clock_type::now() - start < 30s);
}

TEST_CASE("a notify does not touch the futex word while the receiver is awake") {
  auto rp = open_pair(min_ring_capacity);
  raw_mapping raw{rp.box.name()};
  auto seq_before = header_of(raw)->wake_seq.load();
  rp.box.notify(); // nobody sleeps: no wake-up, no system call
  CHECK(header_of(raw)->wake_seq.load() == seq_before);
  // The notification is kept all the same: the next receive returns at once.
  std::vector<char> buf;
  auto start = clock_type::now();
  auto r = rp.box.receive(buf, 60s);
  CHECK(r.status == receive_status::empty);
  CHECK(clock_type::now() - start < 30s);
}

TEST_CASE("no notification is lost when notify races with the receiver going to sleep") {
  // As with writes below: the notifier notifies again as soon as it sees the last
  // notification taken.
  auto rp = open_pair(sleeping_receiver(min_ring_capacity));
  auto race = sleep_race(
    rp,
    [&](int) {
      rp.box.notify();
      return caf::error{};
    },
    [](receive_result r, const std::vector<char>&, int) {
      return r.status == receive_status::empty;
    });
  CHECK_FALSE(race.failed);
  CHECK(race.late == 0);
  // The race was run: the notifier found the receiver asleep many times.
  INFO("wake-ups: " << race.wake_ups << " of " << race.rounds << " notifications");
  CHECK(race.wake_ups > static_cast<uint32_t>(race.rounds / 100));
}

TEST_CASE("no wake-up is lost when writes race with the receiver going to sleep") {
  // The receiver sleeps between messages (max_spin 0 skips the spin phase), and a writer
  // writes the next message as soon as it sees the previous one read: every message arrives
  // long before the receive timeout, or the protocol lost a wake-up.
  auto rp = open_pair(sleeping_receiver(uint64_t{1} << 16));
  auto race = sleep_race(
    rp, [&](int i) { return rp.out.write(pattern(16, i), ring_writer::clock::now() + 30s); },
    [](receive_result r, const std::vector<char>& buf, int i) {
      return r.status == receive_status::message && buf == pattern(16, i);
    });
  CHECK_FALSE(race.failed);
  CHECK(race.late == 0);
  // The race was run: the writer found the receiver asleep (or going to sleep) many times.
  INFO("wake-ups: " << race.wake_ups << " of " << race.rounds << " messages");
  CHECK(race.wake_ups > static_cast<uint32_t>(race.rounds / 100));
}
