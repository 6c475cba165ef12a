// A child crashing 100,000 times in a row while its siblings keep answering requests.

#include <future>

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using namespace std::chrono_literals;

namespace {

constexpr int crashes_wanted = 100000;
std::atomic<int> crashes{0};

} // namespace

TEST_CASE("100,000 crashes in a row leak nothing and every sibling request is answered") {
  fixture f([](config& cfg) {
    cfg.add_worker("crasher", [](caf::event_based_actor* self) -> caf::behavior {
      // Crash right after starting, until enough crashes happened.
      if (crashes.fetch_add(1) < crashes_wanted)
        self->send(self, crash_atom::value);
      return {
        [](crash_atom) { throw std::runtime_error("crash on purpose"); },
        [](ping_atom, int x) { return x; },
      };
    });
  });
  // Events are not read here: leave the group so they do not pile up in our mailbox.
  (*f.self)->leave(events_group(f.sys->actors()));
  auto baseline = f.sys->actors().registry().running();
  supervisor_spec spec;
  spec.intensity = 10 * crashes_wanted;
  spec.period = 3600s;
  spec.children = {child("s1", "echo"), child("crasher", "crasher"), child("s2", "echo"),
                   child("s3", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  std::vector<caf::actor> siblings{f.child_of(*sup, "s1"), f.child_of(*sup, "s2"),
                                   f.child_of(*sup, "s3")};
  // Requests go to the siblings for as long as the crash loop runs.
  size_t asked = 0;
  size_t answered = 0;
  while (crashes.load() <= crashes_wanted) {
    for (auto& s : siblings) {
      ++asked;
      if (f.ping(s, static_cast<int>(asked)) == static_cast<int>(asked))
        ++answered;
    }
  }
  CHECK(answered == asked);
  CHECK(asked > 0);
  // The crasher now runs for good: it answers, and it was restarted every time.
  auto crasher = f.child_of(*sup, "crasher");
  REQUIRE(crasher);
  CHECK(f.ping(crasher, 5) == 5);
  auto children = which_children(*sup);
  REQUIRE(children);
  CHECK(children->at(1).restarts == static_cast<uint64_t>(crashes_wanted));
  // The siblings were never restarted: one_for_one left them alone.
  for (auto& s : siblings)
    CHECK(std::find_if(children->begin(), children->end(),
                       [&](const child_info& c) { return c.handle == s; })
          != children->end());
  // Nothing leaked: the live actors are the supervisor and its four children.
  auto settled = std::async(std::launch::async, [&] {
    f.sys->actors().registry().await_running_count_equal(baseline + 1 + 4);
  });
  CHECK(settled.wait_for(30s) == std::future_status::ready);
  INFO("asked " << asked << " sibling requests during the crash loop");
}
