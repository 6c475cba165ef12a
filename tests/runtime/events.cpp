// Supervision events: subscribers and the JSON-lines log.

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;

TEST_CASE("events carry the supervisor path, child, placement, reason and both clocks") {
  fixture f;
  supervisor_spec spec;
  spec.intensity = 3;
  spec.children = {child("a", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto started = f.next_event();
  CHECK(started.kind == event_kind::started);
  CHECK(started.supervisor == "root");
  CHECK(started.child == "a");
  CHECK(started.placement == placement::task);
  CHECK(started.mono_ns > 0);
  CHECK(started.wall_ms > 1600000000000);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  auto exited = f.next_event();
  CHECK(exited.reason == "exception: boom");
  CHECK(exited.mono_ns >= started.mono_ns);
  auto restarted = f.next_event();
  CHECK(restarted.kind == event_kind::restarted);
  CHECK(restarted.restarts == 1);
}

TEST_CASE("events name the child's actor: the one started, the one that ended") {
  fixture f;
  auto where = GENERATE(placement::task, placement::thread);
  CAPTURE(where);
  supervisor_spec spec;
  spec.intensity = 3;
  auto c = child("a", "echo");
  c.placement = where;
  spec.children = {c};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto first = f.child_of(*sup, "a");
  auto started = f.wait_for(event_kind::started, "a");
  CHECK(started.actor == first.address());
  f.tell(first, crash_atom::value);
  auto exited = f.wait_for(event_kind::exited, "a");
  CHECK(exited.actor == first.address());
  auto restarted = f.wait_for(event_kind::restarted, "a");
  auto second = f.child_of(*sup, "a");
  CHECK(second != first);
  CHECK(restarted.actor == second.address());
  // The address is a way to the child while it lives, as a pid from a progress report is.
  auto hdl = caf::actor_cast<caf::actor>(restarted.actor);
  REQUIRE(hdl);
  auto echoed = f.ping(hdl, 7);
  REQUIRE(echoed);
  CHECK(*echoed == 7);
  // Stopped by its supervisor (inline for a task, awaited through a monitor for a thread).
  REQUIRE_FALSE(terminate_child(*sup, "a"));
  auto stopped = f.wait_for(event_kind::exited, "a");
  CHECK(stopped.actor == second.address());
  // Kinds about no one child name no actor.
  (void)strata::stop(*sup);
  CHECK(f.wait_for(event_kind::shutdown).actor == caf::actor_addr{});
}

TEST_CASE("--strata.event-log writes every event as one JSON line") {
  auto path = "/tmp/strata-events-" + std::to_string(::getpid()) + ".jsonl";
  std::remove(path.c_str());
  {
    fixture f([&](config& cfg) {
      std::istringstream none;
      REQUIRE_FALSE(cfg.parse({"--strata.event-log=" + path}, none));
    });
    REQUIRE_FALSE(f.sys->event_log_error());
    supervisor_spec spec;
    spec.intensity = 3;
    spec.children = {child("a", "echo")};
    auto sup = f.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    f.next_event();
    f.tell(f.child_of(*sup, "a"), crash_atom::value);
    f.wait_for(event_kind::restarted, "a");
  } // the system's shutdown writes the last events before it returns
  std::ifstream in{path};
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(nlohmann::json::parse(line));
  std::remove(path.c_str());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["event"] == "started");
  CHECK(lines[1]["event"] == "exited");
  CHECK(lines[1]["reason"] == "exception: boom");
  CHECK(lines[2]["event"] == "restarted");
  CHECK(lines[3]["event"] == "exited"); // stopped by the system's shutdown
  CHECK(lines[4]["event"] == "shutdown");
  for (auto& j : lines) {
    for (auto key :
         {"mono_ns", "wall_ms", "supervisor", "child", "placement", "event", "reason", "restarts"})
      CHECK(j.contains(key));
    CHECK(j["supervisor"] == "root");
    CHECK(j["placement"] == "task");
  }
}

TEST_CASE("an event log that cannot be opened is reported, and the system still runs") {
  fixture f([](config& cfg) {
    std::istringstream none;
    REQUIRE_FALSE(cfg.parse({"--strata.event-log=/nonexistent-dir/x.jsonl"}, none));
  });
  CHECK(is(f.sys->event_log_error(), error::invalid_config));
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  CHECK(f.sys->start_supervisor("root", spec));
}

TEST_CASE("JSON lines escape hostile text and stay one line") {
  supervision_event ev;
  ev.child = "a\"b\nc";
  ev.reason = std::string{"bad utf8 \xff\xfe and \x01 control"};
  auto line = to_json_line(ev);
  CHECK(line.find('\n') == std::string::npos);
  auto j = nlohmann::json::parse(line);
  CHECK(j["child"] == "a\"b\nc");
}
