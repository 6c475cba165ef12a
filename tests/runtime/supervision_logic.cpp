// The supervisor's pure decisions, checked without actors or threads.

#include "internal/supervision_logic.hpp"

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <catch2/catch.hpp>

#include "strata/error.hpp"

using namespace strata;
using namespace strata::internal;
using namespace std::chrono_literals;

namespace {

using time_point = restart_intensity::time_point;
const time_point t0 = time_point{} + 1000s;

} // namespace

TEST_CASE("more restarts than the intensity within the period make the supervisor give up") {
  restart_intensity r{3, std::chrono::seconds(5)};
  CHECK(r.add_restart(t0));
  CHECK(r.add_restart(t0 + 1s));
  CHECK(r.add_restart(t0 + 2s));
  CHECK_FALSE(r.add_restart(t0 + 3s));
}

TEST_CASE("restarts older than the period are forgotten") {
  restart_intensity r{1, std::chrono::seconds(5)};
  CHECK(r.add_restart(t0));
  // OTP keeps R >= now - period: at exactly now - period the old restart still counts.
  CHECK_FALSE(r.add_restart(t0 + 5s));
  restart_intensity s{1, std::chrono::seconds(5)};
  CHECK(s.add_restart(t0));
  CHECK(s.add_restart(t0 + 5s + 1ns));
  CHECK(s.size() == 1);
}

TEST_CASE("an intensity of zero gives up at the first restart") {
  restart_intensity r{0, std::chrono::seconds(5)};
  CHECK_FALSE(r.add_restart(t0));
}

TEST_CASE("exit reasons classify as normal, shutdown or abnormal") {
  CHECK(classify(caf::error{}) == exit_class::normal);
  CHECK(classify(caf::exit_reason::normal) == exit_class::normal);
  CHECK(classify(caf::exit_reason::user_shutdown) == exit_class::shutdown);
  CHECK(classify(make_error(error::shutdown, "any term")) == exit_class::shutdown);
  CHECK(classify(caf::exit_reason::kill) == exit_class::abnormal);
  CHECK(classify(caf::exit_reason::unknown) == exit_class::abnormal);
  CHECK(classify(make_error(error::exception, "boom")) == exit_class::abnormal);
  CHECK(classify(caf::sec::runtime_error) == exit_class::abnormal);
}

TEST_CASE("permanent restarts always, transient only after abnormal exits, temporary never") {
  for (auto cls : {exit_class::normal, exit_class::shutdown, exit_class::abnormal}) {
    CHECK(should_restart(restart_type::permanent, cls));
    CHECK_FALSE(should_restart(restart_type::temporary, cls));
  }
  CHECK_FALSE(should_restart(restart_type::transient, exit_class::normal));
  CHECK_FALSE(should_restart(restart_type::transient, exit_class::shutdown));
  CHECK(should_restart(restart_type::transient, exit_class::abnormal));
}

TEST_CASE("one_for_one restarts the failed child alone") {
  auto plan = plan_restart(strategy::one_for_one, 4, 2);
  CHECK(plan.stop.empty());
  CHECK(plan.start == std::vector<size_t>{2});
}

TEST_CASE("one_for_all stops the others right to left and starts all left to right") {
  auto plan = plan_restart(strategy::one_for_all, 4, 1);
  CHECK(plan.stop == std::vector<size_t>{3, 2, 0});
  CHECK(plan.start == std::vector<size_t>{0, 1, 2, 3});
}

TEST_CASE("rest_for_one stops the younger siblings in reverse and restarts from the failed") {
  auto plan = plan_restart(strategy::rest_for_one, 5, 1);
  CHECK(plan.stop == std::vector<size_t>{4, 3, 2});
  CHECK(plan.start == std::vector<size_t>{1, 2, 3, 4});
  auto last = plan_restart(strategy::rest_for_one, 5, 4);
  CHECK(last.stop.empty());
  CHECK(last.start == std::vector<size_t>{4});
}

TEST_CASE("auto shutdown follows OTP: any significant, or the last significant") {
  CHECK_FALSE(auto_shutdown_triggered(auto_shutdown::never, true, 0));
  CHECK_FALSE(auto_shutdown_triggered(auto_shutdown::any_significant, false, 0));
  CHECK(auto_shutdown_triggered(auto_shutdown::any_significant, true, 3));
  CHECK_FALSE(auto_shutdown_triggered(auto_shutdown::all_significant, true, 1));
  CHECK(auto_shutdown_triggered(auto_shutdown::all_significant, true, 0));
  CHECK_FALSE(auto_shutdown_triggered(auto_shutdown::all_significant, false, 0));
}

TEST_CASE("backoff doubles from min, is capped at max and stretched by the jitter") {
  backoff_spec b;
  b.min = std::chrono::milliseconds(10);
  b.max = std::chrono::milliseconds(100);
  CHECK(backoff_delay(b, 1, 0.5) == caf::timespan{10ms});
  CHECK(backoff_delay(b, 2, 0.5) == caf::timespan{20ms});
  CHECK(backoff_delay(b, 4, 0.5) == caf::timespan{80ms});
  CHECK(backoff_delay(b, 5, 0.5) == caf::timespan{100ms});
  CHECK(backoff_delay(b, 4000000000u, 0.5) == caf::timespan{100ms});
  b.jitter = 0.5;
  CHECK(backoff_delay(b, 1, 0.0) == caf::timespan{10ms});
  CHECK(backoff_delay(b, 1, 1.0) == caf::timespan{15ms});
  backoff_spec off;
  CHECK(backoff_delay(off, 3, 0.5) == caf::timespan{0});
}
