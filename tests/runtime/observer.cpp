// The observer: strata.observer.listen serves the live tree as JSON (/tree) and Prometheus
// text (/metrics) over HTTP. These tests speak HTTP to it as a browser or a scraper would.

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "error_of.hpp"
#include "http_client.hpp"
#include "observed_system.hpp"
#include "test_workers.hpp"

using namespace strata;
using namespace strata::test;
using nlohmann::json;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

http_reply request(uint16_t port, const std::string& target, http::verb method = http::verb::get) {
  return http_request(port, target, method);
}

json get_tree(uint16_t port, const std::string& query = {}) {
  auto res = request(port, "/tree" + query);
  REQUIRE(res.status == 200);
  CHECK(res.content_type == "application/json");
  return json::parse(res.body);
}

using observed = observed_system;

const json* find_child(const json& sup, const std::string& id) {
  for (const auto& c : sup.at("children"))
    if (c.at("id") == id)
      return &c;
  return nullptr;
}

// Checks the /tree entry of every child of `sup` against which_children, recursively.
void check_against_which_children(const caf::actor& sup, const json& doc) {
  auto kids = which_children(sup);
  REQUIRE(kids);
  REQUIRE(doc.at("state") == "running");
  REQUIRE(doc.at("children_total") == kids->size());
  for (const auto& k : *kids) {
    INFO(doc.at("path").get<std::string>() << "/" << k.id);
    auto c = find_child(doc, k.id);
    REQUIRE(c != nullptr);
    CHECK(c->at("path") == doc.at("path").get<std::string>() + "/" + k.id);
    CHECK(c->at("restarts") == k.restarts);
    CHECK(c->at("state") == to_string(k.status));
    CHECK(c->at("placement") == to_string(k.placement));
    CHECK(c->at("type") == to_string(k.type));
    if (k.handle)
      CHECK(c->at("actor_id") == k.handle.id());
    else
      CHECK(c->at("actor_id").is_null());
    if (k.type == child_type::supervisor && k.handle)
      check_against_which_children(k.handle, c->at("supervisor"));
  }
}

} // namespace

TEST_CASE("the observer is off by default") {
  fixture f;
  CHECK(f.sys->observer_port() == 0);
  CHECK_FALSE(f.sys->observer_error());
}

TEST_CASE("strata.observer.listen rejects malformed values as invalid_config") {
  for (const char* bad : {"nonsense", "127.0.0.1:65536", "127.0.0.1:", "::1:9100", "[::1",
                          "host.example:80", "127.0.0.1:-1", "1.2.3:80", ":12x"}) {
    INFO(bad);
    config cfg;
    std::istringstream none;
    auto err = cfg.parse({std::string{"--strata.observer.listen="} + bad}, none);
    REQUIRE(err);
    CHECK(err.category() == error_category);
    CHECK(err.code() == static_cast<uint8_t>(error::invalid_config));
    CHECK_THAT(to_text(err), Catch::Contains("strata.observer.listen"));
  }
  for (const char* good : {"0", ":0", "127.0.0.1:0", "[::1]:0", "localhost:9100"}) {
    INFO(good);
    config cfg;
    std::istringstream none;
    CHECK_FALSE(cfg.parse({std::string{"--strata.observer.listen="} + good}, none));
  }
}

TEST_CASE("a port already taken is reported by observer_error and the system runs on") {
  observed first;
  fixture f(
    [&](config& cfg) { cfg.set_observer_listen("127.0.0.1:" + std::to_string(first.port())); });
  CHECK(f.sys->observer_port() == 0);
  REQUIRE(f.sys->observer_error());
  CHECK_THAT(to_text(f.sys->observer_error()), Catch::Contains("cannot bind"));
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  CHECK(f.sys->start_supervisor("root", spec));
}

TEST_CASE("a malformed listen value set in code is reported by observer_error") {
  fixture f([](config& cfg) { cfg.set_observer_listen("127.0.0.1:http"); });
  CHECK(f.sys->observer_port() == 0);
  REQUIRE(f.sys->observer_error());
  CHECK(f.sys->observer_error().code() == static_cast<uint8_t>(error::invalid_config));
}

TEST_CASE("/tree matches the real tree after crashes, restarts and a terminated child") {
  observed f;
  supervisor_spec inner;
  inner.intensity = 5;
  inner.children = {child("c", "echo")};
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo"), child("b", "echo"), child("sub", "sup", inner)};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto before = get_tree(f.port());
  REQUIRE(before.at("roots").size() == 1);
  CHECK(find_child(before.at("roots")[0], "a")->at("restarts") == 0);
  CHECK(find_child(before.at("roots")[0], "a")->at("last_exit").is_null());
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  auto sub = f.child_of(*sup, "sub");
  f.tell(f.child_of(sub, "c"), crash_atom::value);
  f.wait_for(event_kind::restarted, "c");
  f.tell(f.child_of(sub, "c"), quit_atom::value, static_cast<int>(how_to_quit::crash));
  f.wait_for(event_kind::restarted, "c");
  REQUIRE_FALSE(terminate_child(*sup, "b"));
  auto doc = get_tree(f.port());
  CHECK(doc.at("supervisors") == 2);
  CHECK(doc.at("children").at("total") == 4);
  CHECK(doc.at("children").at("by_state").at("running") == 3);
  CHECK(doc.at("children").at("by_state").at("stopped") == 1);
  const auto& root = doc.at("roots")[0];
  CHECK(root.at("path") == "root");
  CHECK(root.at("strategy") == "one_for_one");
  CHECK(root.at("mailbox").is_number());
  check_against_which_children(*sup, root);
  auto a = find_child(root, "a");
  CHECK(a->at("restarts") == 1);
  CHECK(a->at("last_exit") == "exception: boom");
  CHECK(a->at("mailbox") == 0); // an idle worker, counting since the observer started
  auto b = find_child(root, "b");
  CHECK(b->at("state") == "stopped");
  CHECK(b->at("last_exit") == "shutdown");
  auto s = find_child(root, "sub");
  CHECK(s->at("type") == "supervisor");
  CHECK(s->at("mailbox").is_number());
  const auto& nested = s->at("supervisor");
  CHECK(nested.at("path") == "root/sub");
  auto c = find_child(nested, "c");
  CHECK(c->at("path") == "root/sub/c");
  CHECK(c->at("restarts") == 2);
  CHECK(c->at("last_exit") == "unknown");
  // ?path= shows one subtree.
  auto only = get_tree(f.port(), "?path=root%2Fsub");
  REQUIRE(only.at("roots").size() == 1);
  CHECK(only.at("roots")[0].at("path") == "root/sub");
}

TEST_CASE("/tree answers while a supervisor waits for a child to stop") {
  observed f;
  auto slow = child("slow", "stubborn");
  slow.shutdown = shutdown_spec::after(std::chrono::seconds(20));
  supervisor_spec spec;
  spec.children = {child("a", "echo"), slow};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  // The supervisor is busy until "slow" is killed, 20 s from now; which_children would wait
  // that long, the observer does not.
  auto slow_hdl = f.child_of(*sup, "slow");
  f.tell(*sup, terminate_child_atom::value, std::string{"slow"});
  // "slow" shown stopped while it still runs (it ignores the shutdown) means the supervisor
  // is in the middle of stopping it.
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto doc = get_tree(f.port());
    const auto& root = doc.at("roots")[0];
    REQUIRE(root.at("state") == "running"); // it answered, though busy
    auto s = find_child(root, "slow");
    REQUIRE(s != nullptr);
    if (s->at("state") == "stopped") {
      CHECK(find_child(root, "a")->at("state") == "running");
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  }
  // Let the test end without waiting for the kill timer.
  caf::anon_send_exit(slow_hdl, caf::exit_reason::kill);
}

TEST_CASE("an exit reason that is not UTF-8 still makes valid JSON") {
  fixture f([](config& cfg) {
    cfg.set_observer_listen("127.0.0.1:0");
    cfg.add_worker("latin1", [](caf::event_based_actor*) -> caf::behavior {
      return {[](crash_atom) { throw std::runtime_error("caf\xe9 \xff"); }};
    });
  });
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "latin1")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  auto doc = get_tree(f.sys->observer_port());
  auto a = find_child(doc.at("roots")[0], "a");
  REQUIRE(a != nullptr);
  CHECK(a->at("last_exit") == "exception: caf\uFFFD \uFFFD");
  CHECK(request(f.sys->observer_port(), "/metrics").status == 200);
}

namespace {

// The samples of a Prometheus text exposition, by series ("name{labels}"), checking on the
// way that every series appears once and after its family's HELP and TYPE lines.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> result;
  std::set<std::string> helped;
  std::set<std::string> typed;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);) {
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      CHECK(helped.insert(line.substr(7, line.find(' ', 7) - 7)).second);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      CHECK(typed.insert(line.substr(7, line.find(' ', 7) - 7)).second);
      continue;
    }
    auto space = line.rfind(' ');
    auto series = line.substr(0, space);
    auto name = series.substr(0, series.find('{'));
    INFO(line);
    CHECK(helped.count(name) == 1);
    CHECK(typed.count(name) == 1);
    CHECK(result.emplace(series, std::stod(line.substr(space + 1))).second);
  }
  return result;
}

} // namespace

TEST_CASE("/metrics counts restarts, exits by reason and children by state and placement") {
  observed f;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo"), child("b", "echo")};
  // A quote and a backslash in a path must come out escaped in the labels.
  auto sup = f.sys->start_supervisor("ro\"o\\t", spec);
  REQUIRE(sup);
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  REQUIRE_FALSE(terminate_child(*sup, "b"));
  const std::string sup_label = R"(supervisor="ro\"o\\t")";
  // The counters come from the event stream, which reaches the observer on its own time:
  // wait for the last event to be counted, not for a fixed time.
  std::map<std::string, double> m;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto res = request(f.port(), "/metrics");
    REQUIRE(res.status == 200);
    CHECK(res.content_type == "text/plain; version=0.0.4; charset=utf-8");
    m = parse_exposition(res.body);
    if (m["strata_exits_total{" + sup_label + ",reason=\"shutdown\"}"] == 1)
      break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  CHECK(m.at("strata_restarts_total{" + sup_label + "}") == 2);
  CHECK(m.at("strata_exits_total{" + sup_label + ",reason=\"exception\"}") == 2);
  CHECK(m.at("strata_exits_total{" + sup_label + ",reason=\"shutdown\"}") == 1);
  CHECK(m.at("strata_supervisor_child_restarts{" + sup_label + "}") == 2);
  CHECK(m.at("strata_supervisor_children{" + sup_label + ",state=\"running\"}") == 1);
  CHECK(m.at("strata_supervisor_children{" + sup_label + ",state=\"stopped\"}") == 1);
  CHECK(m.at(R"(strata_children{state="running",placement="task"})") == 1);
  CHECK(m.at(R"(strata_children{state="stopped",placement="task"})") == 1);
  CHECK(m.at(R"(strata_children{state="running",placement="process"})") == 0);
  CHECK(m.at(R"(strata_supervisors{state="running"})") == 1);
  CHECK(m.count("strata_supervisor_mailbox_messages{" + sup_label + "}") == 1);
}

TEST_CASE("/metrics passes promtool check metrics", "[.promtool]") {
  // Run by the CTest entry runtime_observer_promtool, skipped (not passed) without promtool.
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool not found: install Debian's prometheus package (scripts/test.sh does)");
    return;
  }
  observed f;
  supervisor_spec inner;
  inner.strategy = strategy::simple_one_for_one;
  inner.children = {child("w", "echo")};
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child("a", "echo"), child("pool", "sup", inner)};
  auto sup = f.sys->start_supervisor("ro\"o\\t\nx", spec);
  REQUIRE(sup);
  auto pool = f.child_of(*sup, "pool");
  for (int i = 0; i < 3; ++i)
    REQUIRE(start_child(pool, caf::make_message()));
  f.tell(f.child_of(*sup, "a"), crash_atom::value);
  f.wait_for(event_kind::restarted, "a");
  auto res = request(f.port(), "/metrics");
  REQUIRE(res.status == 200);
  auto path = "/tmp/strata-metrics-" + std::to_string(::getpid()) + ".prom";
  {
    std::ofstream out{path};
    out << res.body;
  }
  auto cmd = "promtool check metrics < " + path + " 2>&1";
  std::string output;
  auto pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[512];
  while (auto n = std::fread(buf, 1, sizeof(buf), pipe))
    output.append(buf, n);
  auto status = ::pclose(pipe);
  std::remove(path.c_str());
  INFO(res.body);
  INFO(output);
  CHECK(status == 0);
  CHECK(output.empty()); // promtool prints lint problems even when it exits 0
}

TEST_CASE("bad requests get a clear 4xx and the observer keeps serving") {
  observed f;
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  REQUIRE(f.sys->start_supervisor("root", spec));
  auto p = f.port();
  CHECK(request(p, "/nope").status == 404);
  CHECK(request(p, "/tree?path=nowhere").status == 404);
  for (const char* q : {"?limit=abc", "?offset=-1", "?limit=", "?limit=100001", "?bogus=1",
                        "?limit=1&limit=2", "?path=%zz", "?path=%4"}) {
    INFO(q);
    auto res = request(p, std::string{"/tree"} + q);
    CHECK(res.status == 400);
    CHECK_THAT(res.body, Catch::StartsWith("bad query"));
  }
  CHECK(request(p, "/metrics?x=1").status == 400);
  auto post = request(p, "/tree", http::verb::post);
  CHECK(post.status == 405);
  CHECK(request(p, "/metrics", http::verb::delete_).status == 405);
  {
    // Not HTTP at all.
    asio::io_context ioc;
    tcp::socket sock{ioc};
    sock.connect({asio::ip::make_address("127.0.0.1"), p});
    asio::write(sock, asio::buffer(std::string{"HELLO\x01\x02 there\r\n\r\n"}));
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    CHECK(res.result_int() == 400);
  }
  CHECK(request(p, "/").status == 200);
  auto doc = get_tree(p);
  CHECK(doc.at("roots")[0].at("children")[0].at("id") == "a");
}

TEST_CASE("the system shuts down at once with clients connected to the observer") {
  auto f = std::make_unique<observed>();
  supervisor_spec spec;
  spec.children = {child("a", "echo")};
  REQUIRE(f->sys->start_supervisor("root", spec));
  asio::io_context ioc;
  // One client idle, one halfway through a request: the server waits 30 s for either.
  tcp::socket idle{ioc};
  idle.connect({asio::ip::make_address("127.0.0.1"), f->port()});
  tcp::socket half{ioc};
  half.connect({asio::ip::make_address("127.0.0.1"), f->port()});
  asio::write(half, asio::buffer(std::string{"GET /tree HTTP/1.1\r\nHost: x\r\n"}));
  CHECK(request(f->port(), "/tree").status == 200);
  auto t0 = std::chrono::steady_clock::now();
  f.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  // Their connections were closed, not left open.
  char byte = 0;
  boost::system::error_code ec;
  idle.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec);
}

TEST_CASE("10,000 children under one simple_one_for_one supervisor: /tree pages them") {
  observed f;
  f.start_pool(10000);
  auto page = get_tree(f.port(), "?offset=9950&limit=100");
  const auto& root = page.at("roots")[0];
  CHECK(root.at("children_total") == 10000);
  CHECK(root.at("children_by_state").at("running") == 10000);
  REQUIRE(root.at("children").size() == 50);
  CHECK(root.at("children")[49].at("id") == "w#10000");
  CHECK(page.at("children").at("total") == 10000);
  // By default a page holds 1,000 children: a document a browser reads at once.
  auto first = request(f.port(), "/tree");
  CHECK(json::parse(first.body).at("roots")[0].at("children").size() == 1000);
  CHECK(first.body.size() < 1000000);
  // /metrics aggregates: no series per child.
  auto metrics = request(f.port(), "/metrics");
  CHECK(metrics.body.size() < 10000);
  CHECK_THAT(metrics.body,
             Catch::Contains(R"(strata_children{state="running",placement="task"} 10000)"));
}

namespace {

using block_atom = caf::atom_constant<caf::atom("t_block")>;

// Holds the `blocker` worker inside its handler until released.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
};

gate blocker_gate;

caf::behavior blocker(caf::event_based_actor*) {
  return {
    [](block_atom) {
      std::unique_lock<std::mutex> guard{blocker_gate.mtx};
      blocker_gate.cv.wait(guard, [] { return blocker_gate.open; });
    },
    [](ping_atom, int x) { return x; },
  };
}

// Polls /tree (an outside view of the actors) until `pred` holds for `path`'s child `id`.
json wait_for_child(uint16_t port, const std::string& id,
                    const std::function<bool(const json&)>& pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto doc = get_tree(port);
    auto c = find_child(doc.at("roots").at(0), id);
    REQUIRE(c != nullptr);
    if (pred(*c) || std::chrono::steady_clock::now() > deadline)
      return *c;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

} // namespace

TEST_CASE("/tree shows a worker's mailbox depth as the worker counts it") {
  observed f{false, [](config& cfg) { cfg.add_worker("blocker", blocker); }};
  auto port = f.port();
  supervisor_spec spec;
  child_spec slow{"slow", start("blocker")};
  slow.placement = placement::thread; // blocks its own thread, not a scheduler's
  spec.children = {slow, child_spec{"idle", start("echo")}};
  auto sup = f.sys->start_supervisor("mailboxes", spec);
  REQUIRE(sup);
  auto kids = which_children(*sup);
  REQUIRE(kids);
  auto hdl = kids->at(0).handle;
  CHECK(
    wait_for_child(port, "idle", [](const json& c) { return c.at("mailbox") == 0; }).at("mailbox")
    == 0);
  {
    std::lock_guard<std::mutex> guard{blocker_gate.mtx};
    blocker_gate.open = false;
  }
  caf::anon_send(hdl, block_atom::value);
  for (int i = 0; i < 5; ++i)
    caf::anon_send(hdl, ping_atom::value, i);
  // The block runs (off the count); the five pings wait.
  auto c = wait_for_child(port, "slow", [](const json& c) { return c.at("mailbox") == 5; });
  CHECK(c.at("mailbox") == 5);
  auto metrics = request(port, "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains(
                        R"(strata_supervisor_worker_mailbox_messages{supervisor="mailboxes"} 5)"));
  {
    std::lock_guard<std::mutex> guard{blocker_gate.mtx};
    blocker_gate.open = true;
  }
  blocker_gate.cv.notify_all();
  c = wait_for_child(port, "slow", [](const json& c) { return c.at("mailbox") == 0; });
  CHECK(c.at("mailbox") == 0);
}
