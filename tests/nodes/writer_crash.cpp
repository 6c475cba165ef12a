// A writer process killed with SIGKILL at a random moment: the reader never sees a partial
// message, and once the owner resets the ring a new writer process can use the slot.
// Every test here forks before this process has any thread.

#include <random>

#include "error_of.hpp"
#include "shm_test_support.hpp"

using strata::test::error_of;

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

constexpr size_t large = size_t{48} * 1024;

// Body of a writer process: writes messages from `first` on, until killed (or `count`).
int write_from(const outbox_options& opts, uint64_t first, uint64_t count) {
  auto out = outbox::open(opts);
  if (!out)
    return 2;
  std::vector<char> msg;
  for (uint64_t seq = first; seq - first < count; ++seq) {
    make_message(seq, large, msg);
    if (out->write(msg, ring_writer::clock::now() + std::chrono::seconds{60}))
      return 3;
  }
  return 0;
}

} // namespace

TEST_CASE("a writer killed mid-traffic leaves no partial message and its slot is reusable") {
  // A 4 KiB ring: messages above ~1 KiB (every 64th is up to 4 KiB, every 1024th up to 48 KiB)
  // are fragmented, so the writer often dies inside a fragmented message.
  auto opts = test_inbox_options(uint64_t{1} << 12);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out_opts = test_outbox_options(opts);
  auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng{seed};
  std::vector<char> buf;
  constexpr int rounds = 60;
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    uint64_t first = uint64_t(round) << 32;
    child_guard child{fork_child([&] { return write_from(out_opts, first, ~uint64_t{0}); })};
    // Read a random number of messages (the large ones are fragmented), then let the writer
    // run on for a random while (it fills the ring and sleeps, or is mid-frame) and kill it.
    auto kill_after = 1 + rng() % 3000; // at least one: the writer has claimed the slot
    uint64_t seq = first;
    while (seq < first + kill_after) {
      auto r = box->receive(buf, 30s);
      INFO(text(r.error));
      REQUIRE(r.status == receive_status::message);
      REQUIRE(check_message(buf, seq++, large).empty());
    }
    auto extra = rng() % 200000;
    for (volatile uint64_t i = 0; i < extra; i = i + 1) {
      // a busy delay to vary the moment of death, not a synchronisation
    }
    child.kill();
    // The dead writer still holds the slot: nobody else may write into its half-done ring.
    auto intruder = outbox::open(out_opts);
    REQUIRE_FALSE(intruder);
    CHECK(is(error_of(intruder), error::slot_in_use));
    // What it published is whole messages, in order; a cut-off fragmented message is
    // withheld.
    for (;;) {
      auto r = box->try_receive(buf);
      INFO(text(r.error));
      REQUIRE(r.status != receive_status::corrupt);
      if (r.status == receive_status::empty)
        break;
      REQUIRE(check_message(buf, seq++, large).empty());
    }
    REQUIRE_FALSE(box->reset_ring(0));
  }
  // A new writer process uses the slot after the last reset, and exits cleanly.
  constexpr uint64_t count = 5000;
  child_guard child{fork_child([&] { return write_from(out_opts, 7, count); })};
  for (uint64_t seq = 7; seq < 7 + count; ++seq) {
    auto r = box->receive(buf, 30s);
    REQUIRE(r.status == receive_status::message);
    REQUIRE(check_message(buf, seq, large).empty());
  }
  CHECK(child.wait() == 0);
  CHECK(box->try_receive(buf).status == receive_status::empty);
}
