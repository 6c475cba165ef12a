// Fault injection through the observer's POST /fault (docs/design/chaos.md): refused unless
// strata.observer.faults is on; each kind makes a child fail, and the events that follow
// carry the fault's tag; bad requests are answered with a 4xx and change nothing.

#include <chrono>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "observed_system.hpp"
#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using nlohmann::json;
namespace http = boost::beast::http;

namespace {

// A strata system with the observer on a free loopback port, faults allowed or not.
struct observed : observed_system {
  explicit observed(bool faults) : observed_system(faults) {
    // nop
  }

  http_reply fault(const json& body) {
    return http_request(sys->observer_port(), "/fault", http::verb::post, body.dump());
  }
};

supervisor_spec echo_children(placement where) {
  supervisor_spec spec;
  spec.intensity = 100;
  auto a = child("a", "echo");
  a.placement = where;
  a.shutdown = shutdown_spec::after(std::chrono::milliseconds(50));
  spec.children = {a, child("b", "echo")};
  return spec;
}

} // namespace

TEST_CASE("POST /fault is refused with 403 while strata.observer.faults is off") {
  observed f{false};
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  auto res = f.fault({{"path", "root/a"}, {"kind", "exception"}});
  CHECK(res.status == 403);
  CHECK_THAT(res.body, Catch::Contains("strata.observer.faults"));
  // Nothing happened to the child.
  CHECK(f.ping(f.child_of(*sup, "a"), 1) == 1);
}

TEST_CASE("a system that does not accept faults refuses inject_fault_atom sent directly") {
  fixture f;
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  fault_request req;
  req.child = "a";
  req.kind = fault_kind::exception;
  caf::error err;
  (*f.self)
    ->request(*sup, std::chrono::seconds(10), inject_fault_atom::value, req)
    .receive([](const std::string&) {}, [&](caf::error& x) { err = std::move(x); });
  CHECK(is(err, error::fault_refused));
  CHECK_THAT(to_text(err), Catch::Contains("strata.observer.faults is off"));
  CHECK(f.ping(f.child_of(*sup, "a"), 1) == 1);
}

TEST_CASE("an injected exception ends a task or thread child and its events carry the fault") {
  for (auto where : {placement::task, placement::thread}) {
    INFO(to_string(where));
    observed f{true};
    auto sup = f.sys->start_supervisor("root", echo_children(where));
    REQUIRE(sup);
    auto res = f.fault({{"path", "root/a"}, {"kind", "exception"}, {"tag", "chaos#1 exception"}});
    INFO(res.body);
    REQUIRE(res.status == 200);
    auto doc = json::parse(res.body);
    CHECK(doc.at("ok") == true);
    CHECK(doc.at("path") == "root/a");
    auto exited = f.wait_for(event_kind::exited, "a");
    CHECK_THAT(exited.reason, Catch::StartsWith("exception"));
    CHECK(exited.fault == "chaos#1 exception");
    CHECK_THAT(to_json_line(exited), Catch::Contains(R"("fault":"chaos#1 exception")"));
    auto restarted = f.wait_for(event_kind::restarted, "a");
    CHECK(restarted.fault == "chaos#1 exception");
    // Once it runs again, its events are its own.
    f.tell(f.child_of(*sup, "a"), crash_atom::value);
    CHECK(f.wait_for(event_kind::exited, "a").fault.empty());
  }
}

TEST_CASE("under one_for_all the siblings stopped and restarted for a fault carry it too") {
  observed f{true};
  auto spec = echo_children(placement::task);
  spec.strategy = strategy::one_for_all;
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  REQUIRE(f.fault({{"path", "root/a"}, {"kind", "exception"}, {"tag", "all"}}).status == 200);
  auto b_exited = f.wait_for(event_kind::exited, "b");
  CHECK(b_exited.reason == "shutdown");
  CHECK(b_exited.fault == "all");
  CHECK(f.wait_for(event_kind::restarted, "b").fault == "all");
}

TEST_CASE("an injected kill ends a task child with killed and its event carries the fault") {
  observed f{true};
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  auto res = f.fault({{"supervisor", "root"}, {"child", "a"}, {"kind", "kill"}, {"tag", "k"}});
  INFO(res.body);
  REQUIRE(res.status == 200);
  auto exited = f.wait_for(event_kind::exited, "a");
  CHECK(exited.reason == "killed");
  CHECK(exited.fault == "k");
}

TEST_CASE("an injected hang blocks a task child for its duration, then it answers again") {
  observed f{true};
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  auto a = f.child_of(*sup, "a");
  auto res = f.fault({{"path", "root/a"}, {"kind", "hang"}, {"hang_ms", 300}, {"tag", "h"}});
  INFO(res.body);
  REQUIRE(res.status == 200);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(f.ping(a, 5) == 5); // waits behind the blocked handler
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(200));
  // A hang it survives leaves the tag on its next exit (docs/design/chaos.md).
  REQUIRE_FALSE(terminate_child(*sup, "a"));
  CHECK(f.wait_for(event_kind::exited, "a").fault == "h");
}

TEST_CASE("segv and abort of an in-process child need allow_process_exit") {
  observed f{true};
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  for (const char* kind : {"segv", "abort"}) {
    auto res = f.fault({{"path", "root/a"}, {"kind", kind}});
    CHECK(res.status == 409);
    CHECK_THAT(res.body, Catch::Contains("allow_process_exit"));
  }
  CHECK(f.ping(f.child_of(*sup, "a"), 2) == 2);
}

TEST_CASE("bad fault requests are answered with a 4xx and change nothing") {
  observed f{true};
  auto sup = f.sys->start_supervisor("root", echo_children(placement::task));
  REQUIRE(sup);
  auto port = f.sys->observer_port();
  CHECK(http_request(port, "/fault").status == 405);
  CHECK(http_request(port, "/fault", http::verb::post, "{not json").status == 400);
  CHECK(http_request(port, "/fault", http::verb::post, "[1,2]").status == 400);
  CHECK(f.fault({{"path", "root/a"}, {"kind", "explode"}}).status == 400);
  CHECK(f.fault({{"path", "root/a"}, {"kind", "hang"}}).status == 409); // no hang_ms
  CHECK(f.fault({{"path", "root/a"}, {"kind", "hang"}, {"hang_ms", "x"}}).status == 400);
  CHECK(f.fault({{"path", "root/a"}, {"kind", "exception"}, {"extra", 1}}).status == 400);
  CHECK(f.fault({{"path", "rootless"}, {"kind", "exception"}}).status == 400);
  CHECK(f.fault({{"kind", "exception"}}).status == 400);
  CHECK(f.fault({{"path", "nowhere/a"}, {"kind", "exception"}}).status == 404);
  CHECK(f.fault({{"path", "root/zz"}, {"kind", "exception"}}).status == 404);
  CHECK(f.fault({{"path", "root/a"}, {"kind", "exception"}, {"tag", std::string(300, 'x')}}).status
        == 400);
  // The tree is untouched: both children answer, nobody restarted.
  CHECK(f.ping(f.child_of(*sup, "a"), 3) == 3);
  CHECK(f.ping(f.child_of(*sup, "b"), 4) == 4);
}

TEST_CASE("an event without a fault has no fault field in its JSON line") {
  supervision_event ev;
  ev.kind = event_kind::exited;
  CHECK(to_json_line(ev).find("fault") == std::string::npos);
  ev.fault = "chaos#2 kill";
  CHECK_THAT(to_json_line(ev), Catch::EndsWith(R"(,"fault":"chaos#2 kill"})"));
}
