// Rings between processes: forked writer processes, a million messages, in order and intact.
// Every test here forks before this process has any thread.

#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

constexpr size_t large = size_t{48} * 1024; // fragmented in a 16 KiB ring

// Body of a writer process: opens its slot and writes messages first..first+count-1.
// Returns an exit code: 0 on success, 2 if open failed, 3 if a write failed.
int write_messages(const outbox_options& opts, uint64_t first, uint64_t count) {
  auto out = outbox::open(opts);
  if (!out)
    return 2;
  std::vector<char> msg;
  for (uint64_t seq = first; seq < first + count; ++seq) {
    make_message(seq, large, msg);
    if (out->write(msg, ring_writer::clock::now() + std::chrono::seconds{30}))
      return 3;
  }
  return 0;
}

} // namespace

TEST_CASE("a million messages cross from a writer process to the reader in order, intact") {
  constexpr uint64_t count = 1'000'000;
  auto opts = test_inbox_options(uint64_t{1} << 14);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out_opts = test_outbox_options(opts);
  child_guard child{fork_child([&] { return write_messages(out_opts, 0, count); })};
  std::vector<char> buf;
  uint64_t seq = 0;
  std::string problem;
  while (seq < count && problem.empty()) {
    auto r = box->receive(buf, 30s);
    if (r.status == receive_status::corrupt)
      problem = text(r.error);
    else if (r.status == receive_status::message)
      problem = check_message(buf, seq++, large);
    else
      problem = "nothing received for 30 s";
  }
  INFO(problem);
  CHECK(problem.empty());
  CHECK(seq == count);
  CHECK(child.wait() == 0);
}

TEST_CASE("two writer processes keep their own order in their own slots") {
  constexpr uint64_t count = 200'000;
  auto opts = test_inbox_options(uint64_t{1} << 14, 2);
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out0 = test_outbox_options(opts, 0);
  auto out1 = test_outbox_options(opts, 1);
  child_guard child0{fork_child([&] { return write_messages(out0, 0, count); })};
  child_guard child1{fork_child([&] { return write_messages(out1, count, count); })};
  std::vector<char> buf;
  uint64_t next[2] = {0, count};
  std::string problem;
  while ((next[0] < count || next[1] < 2 * count) && problem.empty()) {
    auto r = box->receive(buf, 30s);
    if (r.status == receive_status::corrupt)
      problem = text(r.error);
    else if (r.status == receive_status::message)
      problem = check_message(buf, next[r.slot]++, large);
    else
      problem = "nothing received for 30 s";
  }
  INFO(problem);
  CHECK(problem.empty());
  CHECK(child0.wait() == 0);
  CHECK(child1.wait() == 0);
}
