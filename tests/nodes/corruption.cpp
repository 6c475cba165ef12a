// A peer that writes garbage: random bytes in a ring's header, data and counters, and in the
// segment header. The reader and writer answer with corrupt_ring (or read nothing, or a
// message within the limits), never crash, hang or read outside the ring: under
// AddressSanitizer the rings next to the fuzzed one are poisoned, so a stray read fails the test.

#include <fstream>
#include <random>
#include <sstream>

#include "error_of.hpp"
#include "internal/frame.hpp"
#include "internal/shm_layout.hpp"
#include "shm_test_support.hpp"

using strata::test::error_of;

#if defined(__SANITIZE_ADDRESS__)
#  include <sanitizer/asan_interface.h>
#  define STRATA_POISON(addr, size) ASAN_POISON_MEMORY_REGION(addr, size)
#  define STRATA_UNPOISON(addr, size) ASAN_UNPOISON_MEMORY_REGION(addr, size)
#else
#  define STRATA_POISON(addr, size) ((void)(addr), (void)(size))
#  define STRATA_UNPOISON(addr, size) ((void)(addr), (void)(size))
#endif

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

constexpr uint64_t capacity = min_ring_capacity;
constexpr uint64_t max_message = 8 * capacity;
constexpr uint32_t fuzzed = 1; // the middle one of three rings

// Where the inbox mapped its segment: the mapping of `name` in /proc/self/maps that is not
// `other` (the test's own raw mapping).
char* inbox_mapping(const std::string& name, const char* other) {
  std::ifstream maps{"/proc/self/maps"};
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/" + name) == std::string::npos)
      continue;
    std::istringstream in{line};
    uintptr_t start = 0;
    in >> std::hex >> start;
    if (reinterpret_cast<char*>(start) != other)
      return reinterpret_cast<char*>(start);
  }
  FAIL("no mapping of " << name);
  return nullptr;
}

// Poisons, in the inbox's own mapping, the bytes right before and after the fuzzed ring
// (ring 0's data, ring 2): the reader of ring 1 has no business there.
class fence_off {
public:
  fence_off(const std::string& name, const char* raw_base) {
    auto* base = inbox_mapping(name, raw_base);
    before_ = base + internal::ring_offset(0, capacity) + sizeof(internal::ring_header_data);
    after_ = base + internal::ring_offset(2, capacity);
    STRATA_POISON(before_, capacity);
    STRATA_POISON(after_, internal::ring_stride(capacity));
  }

  fence_off(const fence_off&) = delete;
  fence_off& operator=(const fence_off&) = delete;

  ~fence_off() {
    STRATA_UNPOISON(before_, capacity);
    STRATA_UNPOISON(after_, internal::ring_stride(capacity));
  }

private:
  char* before_ = nullptr;
  char* after_ = nullptr;
};

enum class garbage {
  header_and_data, ///< every byte of the ring header and data
  data_only, ///< the data; the counters stay valid
  head_only, ///< a random head counter
  plausible_head, ///< a head within capacity of the tail, and random data
  random_frames, ///< a sequence of random frame headers and a plausible head
};

void fill_random(char* p, size_t n, std::mt19937_64& rng) {
  for (size_t i = 0; i < n; ++i)
    p[i] = static_cast<char>(rng());
}

// Writes a random amount of valid traffic, reads part of it, so the counters and the
// reader's state (maybe mid-message) vary from seed to seed.
void valid_traffic(inbox& box, const outbox_options& out_opts, std::mt19937_64& rng) {
  auto out = outbox::open(out_opts);
  REQUIRE(out);
  auto n = rng() % 12;
  for (uint64_t i = 0; i < n; ++i) {
    auto size = rng() % (out->writer().try_write_limit() + 1);
    if (out->try_write(pattern(size, i)))
      break;
  }
  if (rng() % 4 == 0) // a fragmented message cut off mid-way
    (void)out->write(pattern(3 * capacity, 1), ring_writer::clock::now());
  std::vector<char> buf;
  auto reads = rng() % (n + 1);
  for (uint64_t i = 0; i < reads; ++i)
    (void)box.reader(fuzzed).try_read(buf);
}

void scribble(raw_mapping& raw, garbage kind, std::mt19937_64& rng) {
  auto* ring_base = raw.base() + internal::ring_offset(fuzzed, capacity);
  auto* ring = reinterpret_cast<internal::ring_header_data*>(ring_base);
  auto* data = ring_base + sizeof(internal::ring_header_data);
  auto tail = ring->tail.load();
  switch (kind) {
    case garbage::header_and_data:
      fill_random(ring_base, internal::ring_stride(capacity), rng);
      break;
    case garbage::data_only: fill_random(data, capacity, rng); break;
    case garbage::head_only: ring->head.store(rng()); break;
    case garbage::plausible_head:
      fill_random(data, capacity, rng);
      ring->head.store(tail + 8 * (rng() % (capacity / 8 + 1)));
      break;
    case garbage::random_frames: {
      auto span = 8 * (rng() % (capacity / 8 + 1));
      for (uint64_t pos = 0; pos < span;) {
        internal::frame_header h{};
        h.kind = static_cast<uint32_t>(rng() % 8);
        auto r = rng() % 4;
        h.length = static_cast<uint32_t>(r == 0 ? rng() : r == 1 ? rng() % capacity : rng() % 64);
        if (h.kind == static_cast<uint32_t>(internal::frame_kind::first) && rng() % 2 == 0) {
          uint64_t total = rng() % (2 * max_message);
          auto at = (tail + pos + 8) & (capacity - 1);
          std::memcpy(data + at, &total, 8);
        }
        std::memcpy(data + ((tail + pos) & (capacity - 1)), &h, sizeof(h));
        pos += std::min<uint64_t>(internal::frame_size(h.length % 256), span - pos);
      }
      ring->head.store(tail + span);
      break;
    }
  }
}

// Reads the fuzzed ring until it is empty or found corrupt; checks every outcome is clean.
void read_garbage(inbox& box) {
  auto& reader = box.reader(fuzzed);
  std::vector<char> buf;
  // Each message or skipped frame consumes at least 8 of at most `capacity` unread bytes.
  for (uint64_t i = 0; i <= capacity / 8 + 1; ++i) {
    auto got = reader.try_read(buf);
    if (!got) {
      INFO(text(got.error()));
      REQUIRE(is(error_of(got), error::corrupt_ring));
      CHECK(reader.closed());
      auto again = reader.try_read(buf);
      REQUIRE_FALSE(again);
      REQUIRE(is(error_of(again), error::ring_closed));
      return;
    }
    if (!*got)
      return;
    REQUIRE(buf.size() <= max_message);
  }
  FAIL("the reader kept reading garbage past the ring's size");
}

// A writer meeting the garbage: refuses to open, or writes, or fails cleanly.
void write_into_garbage(const outbox_options& out_opts) {
  auto out = outbox::open(out_opts);
  if (!out) {
    auto& err = out.error();
    INFO(text(err));
    CHECK(
      (is(err, error::corrupt_ring) || is(err, error::ring_closed) || is(err, error::slot_in_use)));
    return;
  }
  for (int i = 0; i < 20; ++i) {
    auto err = out->try_write(pattern(100, i));
    if (err) {
      INFO(text(err));
      CHECK((is(err, error::corrupt_ring) || is(err, error::ring_closed)
             || is(err, error::would_block)));
      return;
    }
  }
}

void fuzz(garbage kind, int seeds) {
  auto opts = test_inbox_options(capacity, 3, max_message);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out_opts = test_outbox_options(opts, fuzzed);
  raw_mapping raw{box->name()};
  auto first_seed = std::random_device{}();
  for (int s = 0; s < seeds; ++s) {
    auto seed = first_seed + static_cast<unsigned>(s);
    INFO("seed " << seed);
    std::mt19937_64 rng{seed};
    valid_traffic(*box, out_opts, rng);
    scribble(raw, kind, rng);
    {
      fence_off guard{box->name(), raw.base()};
      read_garbage(*box);
    }
    write_into_garbage(out_opts);
    REQUIRE_FALSE(box->reset_ring(fuzzed));
  }
  // After a reset, the ring works again.
  auto out = outbox::open(out_opts);
  REQUIRE(out);
  REQUIRE_FALSE(out->try_write(pattern(100, 1)));
  CHECK(read_now(*box) == pattern(100, 1));
}

} // namespace

TEST_CASE("random bytes over a ring's header and data are answered cleanly") {
  fuzz(garbage::header_and_data, 2000);
}

TEST_CASE("random bytes over a ring's data are answered cleanly") {
  fuzz(garbage::data_only, 2000);
}

TEST_CASE("a random head counter is answered cleanly") {
  fuzz(garbage::head_only, 2000);
}

TEST_CASE("random data under a plausible head counter is answered cleanly") {
  fuzz(garbage::plausible_head, 2000);
}

TEST_CASE("random frame headers are answered cleanly") {
  fuzz(garbage::random_frames, 4000);
}

TEST_CASE("a writer finds a garbage tail counter and reports corrupt_ring") {
  auto opts = test_inbox_options(capacity, 3, max_message);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out = outbox::open(test_outbox_options(opts, fuzzed));
  REQUIRE(out);
  REQUIRE_FALSE(out->try_write(pattern(100, 1)));
  raw_mapping raw{box->name()};
  auto* ring = reinterpret_cast<internal::ring_header_data*>(
    raw.base() + internal::ring_offset(fuzzed, capacity));
  ring->tail.store(12345); // past the head, and not a multiple of 8
  caf::error err;
  for (int i = 0; i < 100 && !err; ++i)
    err = out->try_write(pattern(100, i));
  INFO(text(err));
  CHECK(is(err, error::corrupt_ring));
  // Every later call fails fast with the same error.
  CHECK(is(out->write(pattern(1, 1), ring_writer::clock::now() + 1s), error::corrupt_ring));
}

TEST_CASE("random bytes over the segment header make outbox::open fail cleanly") {
  auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng{seed};
  auto opts = test_inbox_options(capacity, 3, max_message);
  for (int s = 0; s < 500; ++s) {
    opts.token = fresh_token();
    auto box = inbox::create(opts);
    REQUIRE(box);
    raw_mapping raw{box->name()};
    auto* h = reinterpret_cast<internal::segment_header_data*>(raw.base());
    // Keep the magic half the time, so that the later checks are reached.
    auto keep_magic = rng() % 2 == 0;
    fill_random(raw.base() + (keep_magic ? 8 : 0), keep_magic ? 56 : 64, rng);
    if (rng() % 2 == 0)
      h->version = internal::layout_version;
    if (rng() % 2 == 0)
      std::memcpy(h->token, opts.token.bytes.data(), 16);
    auto out = outbox::open(test_outbox_options(opts, fuzzed));
    if (!out) {
      auto& err = out.error();
      INFO(text(err));
      CHECK((is(err, error::invalid_segment) || is(err, error::version_mismatch)
             || is(err, error::token_mismatch) || is(err, error::invalid_argument)));
    }
  }
}
