// Backpressure: a full ring never drops a message. try_write reports would_block, a blocking
// write waits for the reader or fails at its deadline, and nothing is lost or reordered.

#include <thread>

#include "internal/frame.hpp"
#include "internal/shm_layout.hpp"
#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

constexpr uint64_t capacity = min_ring_capacity;
constexpr size_t message_bytes = 100;

// Fills the ring with try_write; returns how many messages went in.
uint64_t fill(ring_pair& rp, uint64_t first_seq = 0) {
  uint64_t n = 0;
  for (;;) {
    auto err = rp.out.try_write(pattern(message_bytes, first_seq + n));
    if (err) {
      INFO(text(err));
      REQUIRE(is(err, error::would_block));
      return n;
    }
    ++n;
  }
}

// The header of ring 0, through a second mapping.
internal::ring_header_data* ring0(raw_mapping& raw) {
  return reinterpret_cast<internal::ring_header_data*>(raw.base() + internal::rings_offset);
}

} // namespace

TEST_CASE("try_write on a full ring reports would_block and writes nothing") {
  auto rp = open_pair(capacity);
  auto n = fill(rp);
  CHECK(n == capacity / internal::frame_size(message_bytes));
  CHECK(is(rp.out.try_write(pattern(message_bytes, n)), error::would_block));
  for (uint64_t i = 0; i < n; ++i)
    REQUIRE(read_now(rp.box) == pattern(message_bytes, i));
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
  CHECK_FALSE(rp.out.try_write(pattern(message_bytes, n)));
  CHECK(read_now(rp.box) == pattern(message_bytes, n));
}

TEST_CASE("a blocking write on a full ring fails with ring_full at its deadline") {
  auto rp = open_pair(capacity);
  auto n = fill(rp);
  auto start = ring_writer::clock::now();
  auto err = rp.out.write(pattern(message_bytes, n), start + 20ms);
  CHECK(is(err, error::ring_full));
  CHECK(ring_writer::clock::now() - start >= 20ms);
  // What was written before is intact; the refused message was not written at all.
  for (uint64_t i = 0; i < n; ++i)
    REQUIRE(read_now(rp.box) == pattern(message_bytes, i));
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
}

TEST_CASE("a blocking write waiting on a full ring succeeds once the reader drains it") {
  auto rp = open_pair(capacity);
  raw_mapping raw{rp.box.name()};
  auto n = fill(rp);
  constexpr uint64_t more = 1000;
  caf::error result;
  std::thread writer{[&] {
    for (uint64_t i = n; i < n + more && !result; ++i)
      result = rp.out.write(pattern(message_bytes, i), ring_writer::clock::now() + 30s);
  }};
  // The writer spins, then announces that it sleeps on the ring's futex word.
  CHECK(wait_until([&] { return ring0(raw)->writer_waiting.load() == 1; }));
  std::vector<char> buf;
  for (uint64_t i = 0; i < n + more; ++i) {
    auto r = rp.box.receive(buf, 30s);
    INFO(text(r.error));
    REQUIRE(r.status == receive_status::message);
    REQUIRE(buf == pattern(message_bytes, i));
  }
  writer.join();
  INFO(text(result));
  CHECK_FALSE(result);
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
}

TEST_CASE("a fragmented message cut off by its deadline is discarded and the next one arrives") {
  auto rp = open_pair(capacity);
  auto big = pattern(10 * capacity, 3);
  CHECK(is(rp.out.write(big, ring_writer::clock::now() + 20ms), error::ring_full));
  // The reader consumes the fragments that made it, and has no message from them.
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
  REQUIRE_FALSE(rp.out.write(pattern(message_bytes, 1), ring_writer::clock::now() + 1s));
  CHECK(read_now(rp.box) == pattern(message_bytes, 1));
  // And the ring carries fragmented messages again.
  caf::error result;
  std::thread writer{[&] { result = rp.out.write(big, ring_writer::clock::now() + 30s); }};
  auto r = rp.box.receive(buf, 30s);
  while (r.status == receive_status::empty)
    r = rp.box.receive(buf, 30s);
  writer.join();
  CHECK_FALSE(result);
  CHECK(buf == big);
}

TEST_CASE("a cut-off message is cancelled by try_write too") {
  auto rp = open_pair(capacity);
  CHECK(
    is(rp.out.write(pattern(10 * capacity, 3), ring_writer::clock::now() + 1ms), error::ring_full));
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
  REQUIRE_FALSE(rp.out.try_write(pattern(message_bytes, 2)));
  CHECK(read_now(rp.box) == pattern(message_bytes, 2));
}

TEST_CASE("a writer sleeping on a full ring fails fast when the reader closes the ring") {
  auto rp = open_pair(capacity);
  raw_mapping raw{rp.box.name()};
  fill(rp);
  caf::error result;
  auto start = ring_writer::clock::now();
  std::thread writer{
    [&] { result = rp.out.write(pattern(message_bytes, 0), ring_writer::clock::now() + 30s); }};
  REQUIRE(wait_until([&] { return ring0(raw)->writer_waiting.load() == 1; }));
  // A garbage frame kind: the reader finds it, closes the ring and wakes the writer.
  auto* data = raw.base() + internal::rings_offset + sizeof(internal::ring_header_data);
  uint32_t garbage = 99;
  std::memcpy(data + 4, &garbage, 4);
  std::vector<char> buf;
  auto r = rp.box.try_receive(buf);
  CHECK(r.status == receive_status::corrupt);
  CHECK(is(r.error, error::corrupt_ring));
  writer.join();
  INFO(text(result));
  CHECK(is(result, error::ring_closed));
  CHECK(ring_writer::clock::now() - start < 20s);
}
