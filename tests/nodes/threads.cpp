// One ring between two threads of one process: a million messages, in order and intact.

#include <thread>

#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

TEST_CASE("a million messages of varying size cross between two threads in order, intact") {
  constexpr uint64_t count = 1'000'000;
  constexpr size_t large = size_t{48} * 1024; // fragmented in the 16 KiB ring
  auto rp = open_pair(uint64_t{1} << 14);
  caf::error write_error;
  std::thread writer{[&] {
    std::vector<char> msg;
    for (uint64_t seq = 0; seq < count && !write_error; ++seq) {
      make_message(seq, large, msg);
      write_error = rp.out.write(msg, ring_writer::clock::now() + 30s);
    }
  }};
  std::vector<char> buf;
  uint64_t seq = 0;
  std::string problem;
  while (seq < count && problem.empty()) {
    auto r = rp.box.receive(buf, 30s);
    if (r.status == receive_status::corrupt)
      problem = text(r.error);
    else if (r.status == receive_status::message)
      problem = check_message(buf, seq++, large);
    else if (write_error)
      problem = "writer failed: " + text(write_error);
  }
  writer.join();
  INFO(problem);
  CHECK(problem.empty());
  CHECK(seq == count);
  CHECK_FALSE(write_error);
}
