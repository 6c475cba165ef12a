// Framing in one ring: round trips, wrap-around, fragmentation, the maximum message size.

#include <thread>

#include "internal/frame.hpp"
#include "internal/frame_plan.hpp"
#include "internal/shm_layout.hpp"
#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

// Writes `msg` with a blocking write in a thread while this thread receives; returns what
// arrived. For messages larger than the ring, which need a reader while they are written.
std::vector<char> stream_through(ring_pair& rp, const std::vector<char>& msg) {
  caf::error write_result;
  std::thread writer{[&] { write_result = rp.out.write(msg, ring_writer::clock::now() + 30s); }};
  std::vector<char> got;
  auto r = rp.box.receive(got, 30s);
  while (r.status == receive_status::empty)
    r = rp.box.receive(got, 30s); // a wake-up for a fragment returns early
  writer.join();
  INFO(text(write_result) << " / " << text(r.error));
  CHECK_FALSE(write_result);
  CHECK(r.status == receive_status::message);
  return got;
}

} // namespace

TEST_CASE("small messages make the round trip intact and in order") {
  auto rp = open_pair(uint64_t{1} << 16);
  for (size_t size = 0; size <= 300; ++size)
    REQUIRE_FALSE(rp.out.try_write(pattern(size, size)));
  for (size_t size = 0; size <= 300; ++size)
    REQUIRE(read_now(rp.box) == pattern(size, size));
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
}

TEST_CASE("frames wrap around the end of the ring without losing a byte") {
  auto rp = open_pair(min_ring_capacity);
  // Odd sizes move the frame boundaries across the end of the 1 KiB ring at every offset;
  // three messages in flight at a time keep it partly full while it wraps.
  uint64_t next_read = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    auto size = static_cast<size_t>(splitmix64(i) % 200);
    REQUIRE_FALSE(rp.out.try_write(pattern(size, i)));
    if (i >= 2) {
      auto expected_size = static_cast<size_t>(splitmix64(next_read) % 200);
      REQUIRE(read_now(rp.box) == pattern(expected_size, next_read));
      ++next_read;
    }
  }
  raw_mapping raw{rp.box.name()};
  auto* ring = reinterpret_cast<internal::ring_header_data*>(raw.base() + internal::rings_offset);
  CHECK(ring->head.load() > 1000 * min_ring_capacity); // wrapped a thousand times
}

TEST_CASE("a message larger than the ring arrives whole, in fragments") {
  auto rp = open_pair(min_ring_capacity);
  auto msg = pattern(size_t{100} * 1024, 7);
  CHECK(stream_through(rp, msg) == msg);
  // The ring is usable afterwards.
  REQUIRE_FALSE(rp.out.try_write(pattern(10, 1)));
  CHECK(read_now(rp.box) == pattern(10, 1));
}

TEST_CASE("a message of exactly the maximum size arrives whole") {
  constexpr uint64_t max = uint64_t{1} << 20;
  auto rp = open_pair(uint64_t{1} << 16, max);
  auto msg = pattern(max, 11);
  CHECK(stream_through(rp, msg) == msg);
}

TEST_CASE("a message above the maximum size is refused and nothing is written") {
  constexpr uint64_t max = 4096;
  auto rp = open_pair(uint64_t{1} << 16, max);
  CHECK(rp.out.writer().max_message_size() == max);
  auto err = rp.out.write(pattern(max + 1, 1), ring_writer::clock::now() + 1s);
  CHECK(is(err, error::message_too_large));
  CHECK(is(rp.out.try_write(pattern(max + 1, 1)), error::message_too_large));
  std::vector<char> buf;
  CHECK(rp.box.try_receive(buf).status == receive_status::empty);
  // The writer is still usable.
  REQUIRE_FALSE(rp.out.try_write(pattern(max, 2)));
  CHECK(read_now(rp.box) == pattern(max, 2));
}

TEST_CASE("try_write takes messages up to half the ring and sends larger ones to write") {
  auto rp = open_pair(min_ring_capacity);
  auto limit = rp.out.writer().try_write_limit();
  CHECK(internal::framed_size(limit, min_ring_capacity) == min_ring_capacity / 2);
  CHECK(internal::framed_size(limit + 1, min_ring_capacity) > min_ring_capacity / 2);
  CHECK(is(rp.out.try_write(pattern(limit + 1, 1)), error::exceeds_ring));
  // At every position of the ring, a message at the limit fits once the ring is drained.
  for (uint64_t i = 0; i < min_ring_capacity / 8; ++i) {
    REQUIRE_FALSE(rp.out.try_write(pattern(limit, i)));
    REQUIRE(read_now(rp.box) == pattern(limit, i));
    REQUIRE_FALSE(rp.out.try_write(pattern(0, i))); // shifts the position by 8 bytes
    REQUIRE(read_now(rp.box).empty());
  }
}

TEST_CASE("the frames planned for a message add up to its framed size") {
  for (uint64_t capacity : {min_ring_capacity, uint64_t{1} << 16}) {
    for (uint64_t size = 0; size < 5 * capacity; size += 1 + size / 16) {
      uint64_t total = 0;
      uint64_t data = 0;
      int frames = 0;
      for (internal::frame_plan plan{size, capacity}; !plan.done(); plan.next()) {
        REQUIRE(plan.frame_bytes() <= internal::max_frame_size(capacity));
        REQUIRE(plan.data_offset() == data);
        total += plan.frame_bytes();
        data += plan.data_length();
        ++frames;
      }
      REQUIRE(data == size);
      REQUIRE(total == internal::framed_size(size, capacity));
      REQUIRE((frames == 1) == (internal::frame_size(size) <= capacity / 4));
    }
  }
}
