// strata-timeline: renders a recorded event log as a PNG (and SVG) with gnuplot, prints the
// right summary per placement for a known log, and reports malformed lines without failing.

#include <array>
#include <cstdio>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "read_file.hpp"
#include "run_program.hpp"
#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
namespace http = boost::beast::http;

namespace {

run_result timeline(const std::string& args) {
  return run_program(STRATA_TIMELINE, args);
}

std::string temp_path(const std::string& suffix) {
  return "/tmp/strata-timeline-test-" + std::to_string(::getpid()) + suffix;
}

} // namespace

TEST_CASE("strata-timeline renders a PNG from a log recorded under injected faults") {
  auto log = temp_path(".jsonl");
  auto png = temp_path(".png");
  std::remove(log.c_str());
  std::remove(png.c_str());
  {
    fixture f([&](config& cfg) {
      std::istringstream none;
      REQUIRE_FALSE(cfg.parse({"--strata.event-log=" + log, "--strata.observer.listen=127.0.0.1:0",
                               "--strata.observer.faults"},
                              none));
    });
    supervisor_spec spec;
    spec.intensity = 2; // the third crash within the period is a give-up
    spec.children = {child("a", "echo"), child("b", "echo")};
    spec.children[1].placement = placement::thread;
    REQUIRE(f.sys->start_supervisor("root", spec));
    for (int i = 1; i <= 3; ++i) {
      auto body = nlohmann::json{{"path", i == 2 ? "root/b" : "root/a"},
                                 {"kind", "exception"},
                                 {"tag", "test#" + std::to_string(i)}};
      REQUIRE(http_request(f.sys->observer_port(), "/fault", http::verb::post, body.dump()).status
              == 200);
      f.wait_for(i < 3 ? event_kind::restarted : event_kind::intensity_reached);
    }
  } // the system's shutdown writes the last events before it returns
  auto res = timeline(log + " -o " + png + " --summary");
  INFO(res.out);
  REQUIRE(res.status == 0);
  auto image = read_file(png);
  REQUIRE(image.size() > 8);
  CHECK(image.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK_THAT(res.out, Catch::Contains("0 malformed lines skipped"));
  // task: two crashes (both injected), one restart, one give-up; thread: one and one.
  CHECK_THAT(res.out, Catch::Matches(R"((.|\n)*task +2 +2 +1 +1 +\S+ +\S+ +1\n(.|\n)*)"));
  CHECK_THAT(res.out, Catch::Matches(R"((.|\n)*thread +1 +1 +1 +1 +\S+ +\S+ +0\n(.|\n)*)"));
  auto svg = temp_path(".svg");
  REQUIRE(timeline(log + " -o " + svg).status == 0);
  CHECK_THAT(read_file(svg), Catch::Contains("<svg"));
  std::remove(log.c_str());
  std::remove(png.c_str());
  std::remove(svg.c_str());
}

TEST_CASE("strata-timeline's summary of a known log counts per placement") {
  auto res = timeline(std::string{STRATA_TEST_DATA} + "/known_events.jsonl --summary");
  INFO(res.out);
  REQUIRE(res.status == 0);
  // Malformed lines are reported with their line numbers and skipped, not fatal.
  CHECK_THAT(res.out, Catch::Contains("15 events, 3 malformed lines skipped"));
  CHECK_THAT(res.out, Catch::Contains("known_events.jsonl:6: skipped, not a JSON object"));
  CHECK_THAT(res.out, Catch::Contains("known_events.jsonl:14: skipped, no string 'placement'"));
  CHECK_THAT(res.out, Catch::Contains("placement  crashes   faults  restarts recovered    mean_ms "
                                      "    p99_ms give_ups\n"
                                      "process          1        1         1         1     20.000 "
                                      "    20.000        0\n"
                                      "task             3        1         2         2      3.000 "
                                      "     4.000        1\n"
                                      "thread           0        0         1         0          - "
                                      "         -        0\n"));
}

TEST_CASE("strata-timeline reports a missing log, a bad output and a missing gnuplot") {
  CHECK(timeline("/nonexistent/events.jsonl").status == 66);
  auto known = std::string{STRATA_TEST_DATA} + "/known_events.jsonl";
  CHECK(timeline(known + " -o out.gif").status == 64);
  auto res = timeline(known + " -o " + temp_path(".png") + " --gnuplot=/nonexistent/gnuplot");
  CHECK(res.status == 69);
  CHECK_THAT(res.out, Catch::Contains("gnuplot-nox"));
}
