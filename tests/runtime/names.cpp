// Registered names: OTP's register/2, whereis/1 and unregister/1 within one process (across
// nodes: tests/nodes/process_placement.cpp).

#include "strata/names.hpp"

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

TEST_CASE("a registered name resolves to its actor until it is unregistered") {
  fixture f;
  auto echo = f.sys->actors().spawn(
    [](caf::event_based_actor*, int) -> caf::behavior { return {[](int x) { return x; }}; }, 0);
  REQUIRE_FALSE(register_name(f.sys->actors(), "echo", echo));
  auto found = whereis(f.sys->actors(), "echo");
  REQUIRE(found);
  CHECK(*found == echo);
  REQUIRE_FALSE(unregister_name(f.sys->actors(), "echo"));
  CHECK(is(error_of(whereis(f.sys->actors(), "echo")), error::name_not_found));
  CHECK(is(unregister_name(f.sys->actors(), "echo"), error::name_not_found));
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

TEST_CASE("a name held by a live actor cannot be taken, and frees itself when it exits") {
  fixture f;
  auto make = [&] {
    return f.sys->actors().spawn(
      [](caf::event_based_actor*, int) -> caf::behavior { return {[](int x) { return x; }}; }, 0);
  };
  auto first = make();
  auto second = make();
  REQUIRE_FALSE(register_name(f.sys->actors(), "svc", first));
  REQUIRE_FALSE(register_name(f.sys->actors(), "alias", first));
  CHECK(is(register_name(f.sys->actors(), "svc", second), error::name_taken));
  (*f.self)->monitor(first);
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  (*f.self)->receive([](caf::down_msg&) {});
  // As in OTP, the names are free once their holder is dead, whether or not the server's own
  // monitor has told it yet (ours fires first: CAF runs the later attachment first).
  CHECK(is(error_of(whereis(f.sys->actors(), "svc")), error::name_not_found));
  CHECK(is(error_of(whereis(f.sys->actors(), "alias")), error::name_not_found));
  CHECK_FALSE(register_name(f.sys->actors(), "svc", second));
  caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
}

TEST_CASE("register_name refuses an empty name or handle") {
  fixture f;
  CHECK(is(register_name(f.sys->actors(), "", caf::actor{}), error::invalid_spec));
}
