// OTP's validity rules for supervisor and child specs.

#include <catch2/catch.hpp>

#include "strata/error.hpp"
#include "strata/supervisor_spec.hpp"

using namespace strata;

namespace {

child_spec worker(std::string id) {
  return child_spec{std::move(id), start("echo")};
}

std::string why(const caf::error& err) {
  REQUIRE(is(err, error::invalid_spec));
  return to_text(err);
}

} // namespace

TEST_CASE("a valid spec passes") {
  supervisor_spec spec;
  spec.children = {worker("a"), worker("b")};
  CHECK_FALSE(validate(spec));
}

TEST_CASE("a significant permanent child is rejected") {
  supervisor_spec spec;
  spec.auto_shutdown = auto_shutdown::any_significant;
  auto c = worker("a");
  c.significant = true;
  spec.children = {c};
  CHECK_THAT(why(validate(spec)), Catch::Contains("significant and permanent"));
  spec.children[0].restart = restart_type::transient;
  CHECK_FALSE(validate(spec));
}

TEST_CASE("a significant child under auto_shutdown never is rejected") {
  supervisor_spec spec;
  auto c = worker("a");
  c.significant = true;
  c.restart = restart_type::temporary;
  spec.children = {c};
  CHECK_THAT(why(validate(spec)), Catch::Contains("auto_shutdown never"));
}

TEST_CASE("simple_one_for_one needs exactly one child spec") {
  supervisor_spec spec;
  spec.strategy = strategy::simple_one_for_one;
  CHECK_THAT(why(validate(spec)), Catch::Contains("exactly one"));
  spec.children = {worker("a"), worker("b")};
  CHECK_THAT(why(validate(spec)), Catch::Contains("exactly one"));
  spec.children = {worker("a")};
  CHECK_FALSE(validate(spec));
}

TEST_CASE("duplicate and empty child ids are rejected") {
  supervisor_spec spec;
  spec.children = {worker("a"), worker("a")};
  CHECK_THAT(why(validate(spec)), Catch::Contains("duplicate"));
  spec.children = {worker("")};
  CHECK_THAT(why(validate(spec)), Catch::Contains("empty"));
}

TEST_CASE("a non-positive period or shutdown timeout is rejected") {
  supervisor_spec spec;
  spec.period = caf::timespan{0};
  CHECK_THAT(why(validate(spec)), Catch::Contains("period"));
  supervisor_spec s2;
  auto c = worker("a");
  c.shutdown = shutdown_spec::after(std::chrono::milliseconds(0));
  s2.children = {c};
  CHECK_THAT(why(validate(s2)), Catch::Contains("timeout"));
}

TEST_CASE("out-of-range enum values from outside are rejected, not trusted") {
  supervisor_spec spec;
  auto c = worker("a");
  c.restart = static_cast<restart_type>(42);
  spec.children = {c};
  CHECK_THAT(why(validate(spec)), Catch::Contains("restart"));
  supervisor_spec s2;
  s2.strategy = static_cast<strategy>(9);
  CHECK_THAT(why(validate(s2)), Catch::Contains("strategy"));
}

TEST_CASE("a bad backoff is rejected") {
  supervisor_spec spec;
  auto c = worker("a");
  c.backoff.min = std::chrono::seconds(2);
  c.backoff.max = std::chrono::seconds(1);
  spec.children = {c};
  CHECK_THAT(why(validate(spec)), Catch::Contains("backoff max"));
  spec.children[0].backoff.max = std::chrono::seconds(3);
  spec.children[0].backoff.jitter = 2.0;
  CHECK_THAT(why(validate(spec)), Catch::Contains("jitter"));
}

TEST_CASE("is() answers false for an empty error instead of crashing") {
  CHECK_FALSE(is(caf::error{}, error::invalid_spec));
  CHECK(to_text(caf::error{}) == "normal");
}
