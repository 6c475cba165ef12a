// Fault injection into process children through the observer's POST /fault
// (docs/design/chaos.md): their node gets a real signal (SIGKILL, SIGSEGV, SIGABRT, or SIGSTOP
// that the heartbeat must catch), or the child throws inside its node; the supervisor restarts
// it in a new node, and the exit and restart events carry the fault. Real forks, real signals.

#include <cstdio>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "process_test_support.hpp"

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;
using nlohmann::json;
using strata::test::http_request;
namespace http = boost::beast::http;

TEST_CASE("faults injected into a process child get it restarted and tag its events",
          "[nodes][process][observer]") {
  node_options opts;
  // A stopped node is declared hung after 300 ms without a heartbeat answer.
  opts.heartbeat_interval = std::chrono::milliseconds{100};
  opts.heartbeat_timeout = std::chrono::milliseconds{300};
  cluster c{opts, [](config& cfg) {
              cfg.set_observer_listen("127.0.0.1:0");
              cfg.set_observer_faults(true);
            }};
  REQUIRE(c.sys->observer_port() != 0);
  supervisor_spec spec;
  spec.intensity = 100;
  spec.children = {in_process({"worker", start("victim", 1)})};
  auto sup = c.start_root(spec);
  struct fault_case {
    const char* kind;
    const char* reason;
  };
  for (auto [kind, reason] : {fault_case{"kill", "killed by signal 9 (SIGKILL)"},
                              fault_case{"segv", "killed by signal 11 (SIGSEGV)"},
                              fault_case{"abort", "killed by signal 6 (SIGABRT)"},
                              fault_case{"hang", "hung: no heartbeat answer"},
                              fault_case{"exception", "injected fault"}}) {
    INFO(kind);
    auto pid = c.pid_of(c.child_of(sup, "worker"));
    auto tag = std::string{"nodes#"} + kind;
    json body{{"path", "root/worker"}, {"kind", kind}, {"tag", tag}};
    if (std::string{kind} == "hang")
      body["hang_ms"] = 60000; // the heartbeat must end it long before
    auto res = http_request(c.sys->observer_port(), "/fault", http::verb::post, body.dump());
    INFO(res.body);
    REQUIRE(res.status == 200);
    if (std::string{kind} != "exception")
      CHECK_THAT(res.body, Catch::Contains("pid " + std::to_string(pid)));
    auto exited = c.wait_for(event_kind::exited, "worker");
    CHECK_THAT(exited.reason, Catch::Contains(reason));
    CHECK(exited.fault == tag);
    auto restarted = c.wait_for(event_kind::restarted, "worker");
    CHECK(restarted.fault == tag);
    CHECK(c.pid_of(c.child_of(sup, "worker")) != pid);
  }
}

TEST_CASE("strata-chaos kills the node of a process child named by its pid",
          "[nodes][process][observer]") {
  cluster c{{}, [](config& cfg) {
              cfg.set_observer_listen("127.0.0.1:0");
              cfg.set_observer_faults(true);
            }};
  supervisor_spec spec;
  spec.children = {in_process({"worker", start("victim", 1)})};
  auto sup = c.start_root(spec);
  auto pid = c.pid_of(c.child_of(sup, "worker"));
  auto cmd = std::string{STRATA_CHAOS}
             + " --connect=127.0.0.1:" + std::to_string(c.sys->observer_port())
             + " --target=node:" + std::to_string(pid) + " --count=1 --seed=7 2>&1";
  std::string out;
  auto pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0)
    out.append(buf, n);
  CHECK(::pclose(pipe) == 0);
  INFO(out);
  CHECK_THAT(out, Catch::Contains("root/worker  kill  -> ok: SIGKILL sent to its node, pid "
                                  + std::to_string(pid)));
  auto exited = c.wait_for(event_kind::exited, "worker");
  CHECK_THAT(exited.reason, Catch::Contains(expected_reason(fault::sigkill)));
  CHECK(exited.fault == "chaos-7#1 kill");
  c.wait_for(event_kind::restarted, "worker");
}
