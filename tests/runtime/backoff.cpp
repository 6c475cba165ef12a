// Exponential restart backoff (beyond OTP).

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

TEST_CASE("backoff delays restarts exponentially and keeps siblings' order") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 10;
  spec.period = 60s;
  auto c = child("a", "echo");
  c.backoff.min = 50ms;
  c.backoff.max = 1s;
  c.backoff.reset_after = 10s;
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  std::vector<int64_t> gaps;
  for (int i = 0; i < 3; ++i) {
    f.tell(f.child_of(*sup, "a"), crash_atom::value);
    auto exited = f.wait_for(event_kind::exited, "a");
    auto restarted = f.wait_for(event_kind::restarted, "a");
    gaps.push_back((restarted.mono_ns - exited.mono_ns) / 1000000);
  }
  CHECK(gaps[0] >= 50);
  CHECK(gaps[1] >= 100);
  CHECK(gaps[2] >= 200);
}

TEST_CASE("a child waiting out its backoff shows as restarting and can be terminated") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 10;
  auto c = child("a", "echo");
  c.backoff.min = 30s;
  c.backoff.max = 60s;
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.next_event();
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::exited, "a");
  auto children = which_children(*sup);
  REQUIRE(children);
  CHECK(children->at(0).status == child_status::restarting);
  CHECK(is(error_of(restart_child(*sup, "a")), error::restarting));
  CHECK_FALSE(terminate_child(*sup, "a"));
  CHECK(which_children(*sup)->at(0).status == child_status::stopped);
  // The supervisor stops promptly: nothing waits for the 30 s backoff.
  CHECK_FALSE(stop(*sup, 5s));
}
