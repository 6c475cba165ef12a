// task and thread placement, and overriding placements from CAF's configuration.

#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

namespace {

caf::error parse(config& cfg, std::vector<std::string> args, const std::string& ini = "") {
  std::istringstream in{ini};
  return cfg.parse(caf::actor_system_config::string_list{args}, in);
}

} // namespace

TEST_CASE("a thread-placed child runs on its own thread and may block") {
  std::promise<void> release;
  auto released = release.get_future().share();
  fixture f([released](config& cfg) {
    cfg.set("scheduler.max-threads", 1);
    cfg.add_worker("blocker", [released](caf::event_based_actor*) -> caf::behavior {
      return {[released](ping_atom, int x) {
        released.wait(); // blocks its own OS thread only
        return x;
      }};
    });
  });
  supervisor_spec spec;
  auto b = child("b", "blocker");
  b.placement = placement::thread;
  spec.children = {b, child("t", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.tell(f.child_of(*sup, "b"), ping_atom::value, 1);
  // The pool has a single thread, yet the task child answers while the thread child blocks.
  CHECK(f.ping(f.child_of(*sup, "t"), 2) == 2);
  release.set_value();
  CHECK(which_children(*sup)->at(0).placement == placement::thread);
}

TEST_CASE("a thread-placed child answers from one dedicated thread") {
  fixture f;
  supervisor_spec spec;
  auto c = child("th", "echo");
  c.placement = placement::thread;
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto th = f.child_of(*sup, "th");
  auto ask = [&] {
    uint64_t id = 0;
    (*f.self)
      ->request(th, std::chrono::seconds(5), thread_atom::value)
      .receive([&](uint64_t x) { id = x; }, [](caf::error&) {});
    return id;
  };
  auto first = ask();
  CHECK(first != 0);
  for (int i = 0; i < 10; ++i)
    CHECK(ask() == first);
}

TEST_CASE("the command line overrides a child's placement without recompiling") {
  fixture f([](config& cfg) { REQUIRE_FALSE(parse(cfg, {"--strata.placement.w=thread"})); });
  supervisor_spec spec;
  spec.children = {child("w", "echo"), child("v", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto children = which_children(*sup);
  REQUIRE(children);
  CHECK(children->at(0).placement == placement::thread);
  CHECK(children->at(1).placement == placement::task);
  CHECK(f.next_event().placement == placement::thread);
}

TEST_CASE("the config file overrides a child's placement, and the command line wins") {
  config cfg;
  REQUIRE_FALSE(parse(cfg, {}, "[strata.placement]\nw=\"thread\"\nv=\"thread\"\n"));
  CHECK(cfg.placement_for("w", placement::task) == placement::thread);
  config cfg2;
  REQUIRE_FALSE(
    parse(cfg2, {"--strata.placement.v=task"}, "[strata.placement]\nw=\"thread\"\nv=\"thread\"\n"));
  CHECK(cfg2.placement_for("w", placement::task) == placement::thread);
  CHECK(cfg2.placement_for("v", placement::thread) == placement::task);
  CHECK(cfg2.placement_for("other", placement::thread) == placement::thread);
}

TEST_CASE("a malformed placement is a clear configuration error") {
  config cfg;
  auto err = parse(cfg, {"--strata.placement.rooms=proces"});
  REQUIRE(err);
  CHECK(is(err, error::invalid_config));
  CHECK_THAT(to_text(err), Catch::Contains("strata.placement.rooms") && Catch::Contains("proces"));
  config cfg2;
  CHECK(is(parse(cfg2, {"--strata.placement.rooms"}), error::invalid_config));
  config cfg3;
  CHECK(is(parse(cfg3, {}, "[strata.placement]\nrooms=42\n"), error::invalid_config));
  config cfg4;
  CHECK(is(parse(cfg4, {}, "[strata.placement]\nrooms=\"fiber\"\n"), error::invalid_config));
}

TEST_CASE("other CAF options still parse, and unknown ones are still refused") {
  config cfg;
  CHECK_FALSE(parse(cfg, {"--scheduler.max-threads=2", "--strata.placement.x=thread"}));
  CHECK(caf::get_or(cfg.content, "scheduler.max-threads", size_t{0}) == 2);
  config cfg2;
  auto err = parse(cfg2, {"--no-such-option=1"});
  CHECK_THAT(to_text(err), Catch::Contains("not_an_option") && Catch::Contains("no-such"));
}

TEST_CASE("process placement without strata::nodes fails the start with a clear error") {
  fixture f;
  supervisor_spec spec;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto c = child("p", "echo");
  c.placement = placement::process;
  auto res = start_child(*sup, c);
  REQUIRE_FALSE(res);
  CHECK_THAT(to_text(error_of(res)), Catch::Contains("placement_unavailable"));
}
