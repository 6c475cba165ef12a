// The observer across nodes: /tree shows `process` children with the node and pid they run
// in and the mailbox their node counts, walks a process-placed supervisor's subtree through
// its node, and sees its events as they happen; it follows a node's death and restart; so
// does the live view (/live). Real forks, real signals.

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "live_client.hpp"
#include "process_test_support.hpp"

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;
using nlohmann::json;
using strata::test::http_request;

namespace {

json get_tree(const cluster& c) {
  auto res = http_request(c.sys->observer_port(), "/tree");
  REQUIRE(res.status == 200);
  return json::parse(res.body);
}

const json& child_in(const json& sup, const std::string& id) {
  for (const auto& c : sup.at("children"))
    if (c.at("id") == id)
      return c;
  FAIL("no child " << id << " in " << sup.dump());
  throw std::logic_error{"unreachable"};
}

} // namespace

TEST_CASE("/tree shows process children with their node and pid, and their subtrees",
          "[nodes][process][observer]") {
  cluster c{{}, [](config& cfg) { cfg.set_observer_listen("127.0.0.1:0"); }};
  REQUIRE(c.sys->observer_port() != 0);
  supervisor_spec spec;
  spec.intensity = 5;
  auto worker = in_process({"worker", start("victim", 1)});
  auto team = in_process({"team", start("team", 2)});
  spec.children = {worker, team};
  auto sup = c.start_root(spec);
  auto worker_pid = c.pid_of(c.child_of(sup, "worker"));
  auto team_pid = c.pid_of(c.child_of(c.child_of(sup, "team"), "member1"));
  auto doc = get_tree(c);
  CHECK(doc.at("supervisors") == 2);
  const auto& root = doc.at("roots")[0];
  const auto& w = child_in(root, "worker");
  CHECK(w.at("placement") == "process");
  CHECK(w.at("state") == "running");
  CHECK(w.at("pid") == worker_pid);
  CHECK(w.at("node").is_string());
  const auto& t = child_in(root, "team");
  CHECK(t.at("pid") == team_pid);
  const auto& nested = t.at("supervisor");
  CHECK(nested.at("state") == "running");
  CHECK(nested.at("path") == "root/team");
  CHECK(nested.at("pid") == team_pid);
  CHECK(nested.at("children_total") == 2);
  CHECK(child_in(nested, "member2").at("path") == "root/team/member2");
  // The worker's node dies of SIGKILL; the supervisor restarts it in a new one.
  REQUIRE(::kill(worker_pid, SIGKILL) == 0);
  c.wait_for(event_kind::restarted, "worker");
  auto new_pid = c.pid_of(c.child_of(sup, "worker"));
  auto after = get_tree(c);
  const auto& w2 = child_in(after.at("roots")[0], "worker");
  CHECK(w2.at("restarts") == 1);
  CHECK(w2.at("pid") == new_pid);
  CHECK(w2.at("pid") != worker_pid);
  CHECK_THAT(w2.at("last_exit").get<std::string>(),
             Catch::Contains(expected_reason(fault::sigkill)));
  auto metrics = http_request(c.sys->observer_port(), "/metrics");
  CHECK_THAT(metrics.body,
             Catch::Contains(R"(strata_children{state="running",placement="process"} 2)"));
}

TEST_CASE("a live page sees a process child's node die and come back, with its new pid",
          "[nodes][process][observer]") {
  cluster c{{}, [](config& cfg) { cfg.set_observer_listen("127.0.0.1:0"); }};
  REQUIRE(c.sys->observer_port() != 0);
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {in_process({"worker", start("victim", 1)})};
  auto sup = c.start_root(spec);
  auto worker_pid = c.pid_of(c.child_of(sup, "worker"));
  strata::test::live_client page{c.sys->observer_port()};
  auto snap = page.next("snapshot");
  const auto& w = child_in(snap.at("tree").at("roots").at(0), "worker");
  CHECK(w.at("placement") == "process");
  CHECK(w.at("pid") == worker_pid);
  REQUIRE(::kill(worker_pid, SIGKILL) == 0);
  auto exited = strata::test::wait_pushed(page, "exited", "worker");
  CHECK_THAT(exited.at("reason").get<std::string>(),
             Catch::Contains(expected_reason(fault::sigkill)));
  auto restarted = strata::test::wait_pushed(page, "restarted", "worker");
  CHECK(restarted.at("restarts") == 1);
  // The page asks for a snapshot when it sees a restart: the new node's pid is in it.
  page.send("snapshot");
  auto after = page.next("snapshot");
  const auto& w2 = child_in(after.at("tree").at("roots").at(0), "worker");
  CHECK(w2.at("restarts") == 1);
  CHECK(w2.at("pid") == c.pid_of(c.child_of(sup, "worker")));
  CHECK(w2.at("pid") != worker_pid);
}

TEST_CASE("/metrics counts the messages exchanged with each node", "[nodes][process][observer]") {
  cluster c{{}, [](config& cfg) { cfg.set_observer_listen("127.0.0.1:0"); }};
  REQUIRE(c.sys->observer_port() != 0);
  supervisor_spec spec;
  spec.children = {in_process({"worker", start("victim", 1)})};
  auto sup = c.start_root(spec);
  auto hdl = c.child_of(sup, "worker");
  auto pid = c.pid_of(hdl);
  // Counted from here: what the start exchanged is in the counts too, so compare growth.
  auto count = [&](const std::string& direction) -> long long {
    auto body = http_request(c.sys->observer_port(), "/metrics").body;
    auto key = "pid=\"" + std::to_string(pid) + "\",direction=\"" + direction + "\"} ";
    auto at = body.find(key);
    if (at == std::string::npos)
      return -1;
    return std::stoll(body.substr(at + key.size()));
  };
  auto sent = count("sent");
  auto received = count("received");
  REQUIRE(sent >= 0);
  REQUIRE(received >= 0);
  caf::scoped_actor self{c.sys->actors()};
  for (int i = 0; i < 50; ++i)
    self->request(hdl, std::chrono::seconds{10}, add_atom::value, i, 1)
      .receive([i](int sum) { CHECK(sum == i + 1); },
               [](caf::error& err) { FAIL(nodes::to_text(err)); });
  CHECK(count("sent") - sent >= 50);
  CHECK(count("received") - received >= 50);
  // The node goes: its series go with it (a restarted child's node is counted anew).
  REQUIRE(::kill(pid, SIGKILL) == 0);
  c.wait_for(event_kind::restarted, "worker");
  CHECK(count("sent") == -1);
}

TEST_CASE("a process-placed supervisor's events reach the root: its subscribers, the event log, "
          "/metrics and the live page",
          "[nodes][process][observer]") {
  auto log_path = "/tmp/strata-nodes-observer-" + std::to_string(::getpid()) + ".jsonl";
  std::remove(log_path.c_str());
  {
    cluster c{{}, [&](config& cfg) {
                cfg.set_observer_listen("127.0.0.1:0");
                cfg.set_event_log(log_path);
              }};
    REQUIRE(c.sys->observer_port() != 0);
    supervisor_spec spec;
    spec.children = {in_process({"team", start("team", 2)})};
    auto sup = c.start_root(spec);
    // The team's own starts, published in its node, reach the root's subscribers.
    auto started = c.wait_for(event_kind::started, "member2");
    CHECK(started.supervisor == "root/team");
    strata::test::live_client page{c.sys->observer_port()};
    page.next("snapshot");
    // member1 crashes inside the node; its supervisor there restarts it.
    auto member = c.child_of(c.child_of(sup, "team"), "member1");
    caf::anon_send(member, fault_atom::value, static_cast<int>(fault::exception));
    auto restarted = c.wait_for(event_kind::restarted, "member1");
    CHECK(restarted.supervisor == "root/team");
    CHECK(restarted.restarts == 1);
    // Pushed to the page as it happened, not only in its next snapshot.
    auto pushed = strata::test::wait_pushed(page, "restarted", "member1");
    CHECK(pushed.at("supervisor") == "root/team");
    auto metrics = http_request(c.sys->observer_port(), "/metrics").body;
    CHECK_THAT(metrics, Catch::Contains(R"(strata_restarts_total{supervisor="root/team"} 1)"));
    CHECK_THAT(metrics, Catch::Contains(
                          R"(strata_exits_total{supervisor="root/team",reason="exception"} 1)"));
  }
  // Written once, by the root (a node inherits the root's configuration, log path included).
  std::ifstream log{log_path};
  std::string line;
  int team_restarts = 0;
  int team_shutdowns = 0;
  while (std::getline(log, line)) {
    auto ev = json::parse(line);
    if (ev.at("supervisor") != "root/team")
      continue;
    team_restarts += ev.at("event") == "restarted" ? 1 : 0;
    team_shutdowns += ev.at("event") == "shutdown" ? 1 : 0;
  }
  CHECK(team_restarts == 1);
  // The node's last event, published as its supervisor ended, was handed on before it went.
  CHECK(team_shutdowns == 1);
  std::remove(log_path.c_str());
}

TEST_CASE("/tree shows a process child's mailbox depth as its node counts it",
          "[nodes][process][observer]") {
  cluster c{{}, [](config& cfg) { cfg.set_observer_listen("127.0.0.1:0"); }};
  REQUIRE(c.sys->observer_port() != 0);
  supervisor_spec spec;
  auto worker = in_process({"worker", start("victim", 1)});
  worker.shutdown = shutdown_spec::brutal_kill(); // it ends the test stuck in a handler
  spec.children = {worker};
  auto sup = c.start_root(spec);
  auto hdl = c.child_of(sup, "worker");
  auto mailbox = [&] { return child_in(get_tree(c).at("roots")[0], "worker").at("mailbox"); };
  CHECK(mailbox() == 0);
  // Stuck in a handler, with five messages behind it.
  caf::anon_send(hdl, fault_atom::value, static_cast<int>(fault::hang));
  for (int i = 0; i < 5; ++i)
    caf::anon_send(hdl, add_atom::value, i, 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (mailbox() != 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10}); // polling /tree, not a sync
  CHECK(mailbox() == 5);
  CHECK_THAT(http_request(c.sys->observer_port(), "/metrics").body,
             Catch::Contains(R"(strata_supervisor_worker_mailbox_messages{supervisor="root"} 5)"));
}
