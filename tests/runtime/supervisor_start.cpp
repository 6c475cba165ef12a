// Starting a tree: order, failures, exceptions.

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

TEST_CASE("children start left to right and all answer") {
  fixture f;
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("b", "echo"), child("c", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  CHECK(f.next_events(3) == std::vector<std::string>{"started a", "started b", "started c"});
  for (auto id : {"a", "b", "c"})
    CHECK(f.ping(f.child_of(*sup, id), 7) == 7);
}

TEST_CASE("a failing start stops the started children right to left and names the child") {
  fixture f;
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("b", "echo"), child("bad", "failing_init"),
                   child("d", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE_FALSE(sup);
  CHECK(is(error_of(sup), error::start_failed));
  auto text = to_text(error_of(sup));
  CHECK_THAT(text, Catch::Contains("bad") && Catch::Contains("init exploded"));
  CHECK(f.next_events(6)
        == std::vector<std::string>{"started a", "started b", "start_failed bad", "exited b",
                                    "exited a", "shutdown"});
}

TEST_CASE("an exception in a handler becomes the child's exit reason") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.wait_for(event_kind::started, "a");
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  auto ev = f.wait_for(event_kind::exited, "a");
  CHECK(ev.reason == "exception: boom");
  f.wait_for(event_kind::restarted, "a");
  CHECK(f.ping(f.child_of(*sup, "a"), 1) == 1);
}

TEST_CASE("an exception in a child's init fails its start with the child and the text") {
  fixture f;
  supervisor_spec spec;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto res = start_child(*sup, child("x", "failing_init"));
  REQUIRE_FALSE(res);
  CHECK(to_text(error_of(res)) == "start_failed: x: exception: init exploded");
  // OTP keeps no spec of a child that failed to start.
  auto counts = count_children(*sup);
  REQUIRE(counts);
  CHECK(counts->specs == 0);
}

TEST_CASE("a worker whose init quits with a reason fails its start with it, and its supervisor "
          "lives") {
  // OTP's init/1 returning `{stop, Reason}`. A `kill` from the child whose start failed is
  // no more fatal to the supervisor than a running child's.
  fixture f([](config& cfg) {
    cfg.add_worker("quits", [](caf::event_based_actor* self, int32_t reason) -> caf::behavior {
      self->quit(caf::make_error(static_cast<caf::exit_reason>(reason)));
      return {[](ping_atom, int x) { return x; }};
    });
  });
  supervisor_spec spec;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  for (auto where : {placement::task, placement::thread}) {
    INFO(to_string(where));
    auto killed = child("k", "quits", static_cast<int32_t>(caf::exit_reason::kill));
    killed.placement = where;
    auto res = start_child(*sup, killed);
    REQUIRE_FALSE(res);
    CHECK(to_text(error_of(res)) == "start_failed: k: killed");
    auto stopped = child("s", "quits", static_cast<int32_t>(caf::exit_reason::user_shutdown));
    stopped.placement = where;
    res = start_child(*sup, stopped);
    REQUIRE_FALSE(res);
    CHECK(to_text(error_of(res)) == "start_failed: s: shutdown");
  }
  auto counts = count_children(*sup);
  REQUIRE(counts);
  CHECK(counts->specs == 0);
}

TEST_CASE("an exception in a supervisor's spec function fails its start") {
  fixture f([](config& cfg) {
    cfg.add_supervisor("broken",
                       []() -> supervisor_spec { throw std::logic_error("no spec today"); });
  });
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("nested", "broken")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE_FALSE(sup);
  CHECK_THAT(to_text(error_of(sup)), Catch::Contains("nested") && Catch::Contains("no spec today"));
}

TEST_CASE("an unknown factory or wrong arguments fail the start with a clear error") {
  fixture f;
  supervisor_spec spec;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto unknown = start_child(*sup, child("x", "no_such_factory"));
  REQUIRE_FALSE(unknown);
  CHECK_THAT(to_text(error_of(unknown)),
             Catch::Contains("unknown_factory") && Catch::Contains("no_such_factory"));
  auto wrong = start_child(*sup, child("y", "echo_tagged", 42));
  REQUIRE_FALSE(wrong);
  CHECK_THAT(to_text(error_of(wrong)), Catch::Contains("bad_arguments"));
  auto right = start_child(*sup, child("z", "echo_tagged", std::string{"t"}));
  CHECK(right);
}

TEST_CASE("an invalid spec is refused before anything starts") {
  fixture f;
  supervisor_spec spec;
  spec.children = {child("a", "echo"), child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE_FALSE(sup);
  CHECK(is(error_of(sup), error::invalid_spec));
}

TEST_CASE("nested supervisors start their own children and report paths") {
  fixture f;
  supervisor_spec inner;
  inner.children = {child("w", "echo")};
  supervisor_spec spec;
  spec.children = {child("inner", "sup", inner)};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto ev = f.next_event();
  CHECK(ev.supervisor == "root/inner");
  CHECK(brief(ev) == "started w");
  ev = f.next_event();
  CHECK(ev.supervisor == "root");
  CHECK(brief(ev) == "started inner");
  auto info = which_children(*sup);
  REQUIRE(info);
  CHECK(info->at(0).type == child_type::supervisor);
}
