// one_for_one, one_for_all, rest_for_one, simple_one_for_one.

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

namespace {

supervisor_spec four(strategy how) {
  supervisor_spec spec;
  spec.strategy = how;
  spec.intensity = 10;
  spec.children = {child("a", "echo"), child("b", "echo"), child("c", "echo"), child("d", "echo")};
  return spec;
}

} // namespace

TEST_CASE("one_for_one restarts only the crashed child") {
  fixture f;
  auto sup = f.sys->start_supervisor("root", four(strategy::one_for_one));
  REQUIRE(sup);
  f.next_events(4);
  auto a = f.child_of(*sup, "a");
  auto b = f.child_of(*sup, "b");
  f.tell(b, crash_atom::value);
  CHECK(f.next_events(2) == std::vector<std::string>{"exited b", "restarted b"});
  CHECK(f.child_of(*sup, "a") == a);
  CHECK(f.child_of(*sup, "b") != b);
  CHECK(f.ping(f.child_of(*sup, "b"), 3) == 3);
}

TEST_CASE("one_for_all stops the others right to left and restarts all left to right") {
  fixture f;
  auto sup = f.sys->start_supervisor("root", four(strategy::one_for_all));
  REQUIRE(sup);
  f.next_events(4);
  f.tell(f.child_of(*sup, "b"), crash_atom::value);
  CHECK(f.next_events(8)
        == std::vector<std::string>{"exited b", "exited d", "exited c", "exited a", "restarted a",
                                    "restarted b", "restarted c", "restarted d"});
  for (auto id : {"a", "b", "c", "d"})
    CHECK(f.ping(f.child_of(*sup, id), 1) == 1);
}

TEST_CASE("rest_for_one restarts the crashed child and the younger siblings") {
  fixture f;
  auto sup = f.sys->start_supervisor("root", four(strategy::rest_for_one));
  REQUIRE(sup);
  f.next_events(4);
  auto a = f.child_of(*sup, "a");
  f.tell(f.child_of(*sup, "b"), crash_atom::value);
  CHECK(f.next_events(6)
        == std::vector<std::string>{"exited b", "exited d", "exited c", "restarted b",
                                    "restarted c", "restarted d"});
  CHECK(f.child_of(*sup, "a") == a);
}

TEST_CASE("siblings stopped by a restart exit with shutdown, not as crashes") {
  fixture f;
  auto sup = f.sys->start_supervisor("root", four(strategy::one_for_all));
  REQUIRE(sup);
  f.next_events(4);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  CHECK(f.next_event().reason == "exception: boom");
  for (int i = 0; i < 3; ++i)
    CHECK(f.next_event().reason == "shutdown");
}

TEST_CASE("simple_one_for_one starts dynamic children with extra arguments") {
  fixture f;
  supervisor_spec spec;
  spec.strategy = strategy::simple_one_for_one;
  spec.intensity = 10;
  spec.children = {child("tagged", "echo_tagged")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  std::vector<caf::actor> kids;
  for (auto tag : {"x", "y", "z"}) {
    auto kid = start_child(*sup, caf::make_message(std::string{tag}));
    REQUIRE(kid);
    kids.push_back(*kid);
  }
  auto counts = count_children(*sup);
  REQUIRE(counts);
  CHECK(counts->specs == 1);
  CHECK(counts->active == 3);
  CHECK(counts->workers == 3);
  // A crashed instance is restarted with the same arguments.
  f.next_events(3);
  f.tell(kids[1], crash_atom::value);
  auto ev = f.wait_for(event_kind::restarted);
  CHECK(ev.child == "tagged#2");
  auto children = which_children(*sup);
  REQUIRE(children);
  REQUIRE(children->size() == 3);
  std::string tag;
  (*f.self)
    ->request(children->at(1).handle, std::chrono::seconds(5), ping_atom::value, 1, std::string{})
    .receive([&](int, std::string t) { tag = t; }, [](caf::error&) {});
  CHECK(tag == "y");
}

TEST_CASE("simple_one_for_one terminates a child by its handle and removes it") {
  fixture f;
  supervisor_spec spec;
  spec.strategy = strategy::simple_one_for_one;
  spec.children = {child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto kid = start_child(*sup, caf::message{});
  REQUIRE(kid);
  CHECK_FALSE(terminate_child(*sup, *kid));
  CHECK(f.wait_down(*kid) == caf::exit_reason::user_shutdown);
  CHECK(count_children(*sup)->active == 0);
  CHECK(is(terminate_child(*sup, *kid), error::not_found));
  CHECK(is(terminate_child(*sup, "e"), error::simple_one_for_one));
  CHECK(is(error_of(start_child(*sup, child("z", "echo"))), error::simple_one_for_one));
}

TEST_CASE("simple_one_for_one stops all its children at once when it stops") {
  fixture f;
  supervisor_spec spec;
  spec.strategy = strategy::simple_one_for_one;
  spec.children = {child("e", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  std::vector<caf::actor> kids;
  for (int i = 0; i < 50; ++i)
    kids.push_back(*start_child(*sup, caf::message{}));
  CHECK_FALSE(stop(*sup));
  for (auto& kid : kids)
    CHECK(f.wait_down(kid) == caf::exit_reason::user_shutdown);
}
