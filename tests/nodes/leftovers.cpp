// Runs after the other nodes tests (ctest DEPENDS): none of them may leave a segment behind.
// Every test process has exited by then, so a segment they leaked has a dead owner.

#include "shm_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

TEST_CASE("no test left a segment of a dead owner in /dev/shm") {
  // Removes them too, so that one leak fails one run, not every later one.
  auto removed = remove_stale_segments();
  REQUIRE(removed);
  for (auto& name : *removed)
    UNSCOPED_INFO("left behind: " << name);
  CHECK(removed->empty());
}
