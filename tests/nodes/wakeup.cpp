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

TEST_CASE("no wake-up is lost when writes race with the receiver going to sleep") {
  // The receiver sleeps between messages (max_spin 0 skips the spin phase), and a writer
  // writes the next message as soon as it sees the previous one read: every message arrives
  // long before the receive timeout, or the protocol lost a wake-up.
  auto opts = test_inbox_options(uint64_t{1} << 16);
  opts.wait.max_spin = std::chrono::nanoseconds{0};
  opts.wait.min_spin = std::chrono::nanoseconds{0};
  auto rp = open_pair(opts);
  raw_mapping raw{rp.box.name()};
  auto seq_before = header_of(raw)->wake_seq.load();
  constexpr int rounds = 20000;
  std::atomic<int> received{0};
  caf::error write_error;
  std::thread writer{[&] {
    for (int i = 0; i < rounds && !write_error; ++i) {
      write_error = rp.out.write(pattern(16, i), ring_writer::clock::now() + 30s);
      while (received.load(std::memory_order_acquire) <= i)
        std::this_thread::yield();
    }
  }};
  std::vector<char> buf;
  int late = 0;
  for (int i = 0; i < rounds; ++i) {
    auto start = clock_type::now();
    auto r = rp.box.receive(buf, 5s);
    while (r.status == receive_status::empty && clock_type::now() - start < 5s)
      r = rp.box.receive(buf, 5s);
    if (clock_type::now() - start >= 5s)
      ++late;
    REQUIRE(r.status == receive_status::message);
    REQUIRE(buf == pattern(16, i));
    received.store(i + 1, std::memory_order_release);
  }
  writer.join();
  CHECK_FALSE(write_error);
  CHECK(late == 0);
  // The race was run: the writer found the receiver asleep (or going to sleep) many times.
  auto wake_ups = header_of(raw)->wake_seq.load() - seq_before;
  INFO("wake-ups: " << wake_ups << " of " << rounds << " messages");
  CHECK(wake_ups > rounds / 100);
}
