// The chat gateway's placements: sessions on threads of their own; rooms in a node of their
// own (another OS process), killed with SIGKILL under traffic; gateways in nodes of their own,
// one of them killed with SIGKILL under traffic.

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include "strata/nodes/provider.hpp"

#include "actors.hpp"
#include "gateway.hpp"
#include "protocol.hpp"
#include "server.hpp"
#include "ws_client.hpp"

using namespace chat;
using nlohmann::json;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using client = chat::test::ws_client;

// The service as chat_gateway --gateway-nodes=n runs it: rooms and the directory here, n
// gateways each in a node of its own, sharing one port.
struct gateway_nodes {
  explicit gateway_nodes(size_t n) {
    add_factories(cfg);
    for (size_t i = 1; i <= n; ++i)
      cfg.set_placement(gateway_id(i), strata::placement::process);
    strata::nodes::install(cfg);
    sys.emplace(cfg);
    REQUIRE_FALSE(sys->provider_error());
    auto sup = sys->start_supervisor("rooms", rooms_spec());
    REQUIRE(sup);
    REQUIRE(sys->start_supervisor("directory", directory_spec(*sup)));
    reservation.emplace("127.0.0.1", 0);
    server_options opts;
    opts.address = "127.0.0.1";
    opts.port = reservation->port();
    auto gw = sys->start_supervisor("gateways", gateways_spec(n, opts));
    REQUIRE(gw);
    gateways = *gw;
  }

  ~gateway_nodes() {
    CHECK_FALSE(strata::stop(gateways));
  }

  uint16_t port() const {
    return reservation->port();
  }

  strata::config cfg;
  std::optional<strata::system> sys;
  std::optional<port_reservation> reservation;
  caf::actor gateways;
};

// The pid of the process serving a session: the high bits of its id.
pid_t serving_pid(const json& welcome) {
  return static_cast<pid_t>(welcome["session"].get<uint64_t>() >> 28);
}

} // namespace

TEST_CASE("sessions in thread placement chat like task ones") {
  server_options opts;
  opts.session_threads = true;
  chat::test::gateway g{opts};
  client a{g.port()};
  a.send(R"({"op":"hello","nick":"ana"})");
  a.next("welcome");
  a.send(R"({"op":"join","room":"t"})");
  a.next("joined");
  a.send(R"({"op":"say","room":"t","text":"on a thread","id":1})");
  CHECK(a.next("message")["text"] == "on a thread");
}

TEST_CASE("rooms in a node of their own: SIGKILL it, the client gets its room back") {
  chat::test::gateway g{{}, [](strata::config& cfg) {
                          cfg.set_placement("room", strata::placement::process);
                          strata::nodes::install(cfg);
                        }};
  client a{g.port()};
  client b{g.port()};
  a.send(R"({"op":"hello","nick":"ana"})");
  a.next("welcome");
  b.send(R"({"op":"hello","nick":"bo"})");
  b.next("welcome");
  a.send(R"({"op":"join","room":"far"})");
  a.next("joined");
  b.send(R"({"op":"join","room":"far"})");
  b.next("joined");
  a.send(R"({"op":"say","room":"far","text":"before","id":1})");
  CHECK(b.next("message")["text"] == "before");
  auto st = strata::nodes::status(g.cfg);
  REQUIRE(st);
  pid_t node = 0;
  for (auto pid : st->nodes)
    if (pid != 0)
      node = pid;
  REQUIRE(node != 0);
  // Traffic while the node dies: what reaches a client is in order, without repeats; what
  // the dead room had not yet sent is lost with it; frames sent while the session joins
  // again wait for it. No client hears an error.
  a.next("message");
  for (int id = 1; id <= 40; ++id) {
    a.send(json{{"op", "say"}, {"room", "far"}, {"text", "t"}, {"id", id}}.dump());
    if (id == 20)
      REQUIRE(::kill(node, SIGKILL) == 0);
  }
  std::map<client*, int> last;
  // Reads `c` until `op` (or the message with text `text`), checking the traffic's order.
  auto read_until = [&](client& c, const std::string& op, const std::string& text = "") {
    for (;;) {
      auto x = c.next();
      REQUIRE(x["op"] != "error");
      if (x["op"] == op && (text.empty() || x["text"] == text))
        return;
      if (x["op"] == "message") {
        REQUIRE(x["text"] == "t");
        CHECK(x["id"].get<int>() > last[&c]);
        last[&c] = x["id"].get<int>();
      }
    }
  };
  // Both sessions join the restarted room by themselves: each client sees `joined` again
  // (a fresh room: the history went with the node), and they talk on.
  read_until(a, "joined");
  read_until(b, "joined");
  a.send(R"({"op":"say","room":"far","text":"after","id":99})");
  read_until(b, "message", "after");
  read_until(a, "message", "after");
  auto children = strata::which_children(g.rooms);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().restarts == 1);
}

TEST_CASE("gateways in nodes of their own: SIGKILL one under traffic, only its clients drop") {
  gateway_nodes g{2};
  // Clients until each gateway serves two (the kernel spreads connections over the port's
  // listeners by a hash of their addresses), all in one room.
  std::map<pid_t, std::vector<std::unique_ptr<client>>> by_node;
  std::map<client*, std::string> nicks;
  for (int i = 0; i < 64; ++i) {
    if (by_node.size() == 2 && by_node.begin()->second.size() >= 2
        && by_node.rbegin()->second.size() >= 2)
      break;
    auto c = std::make_unique<client>(g.port());
    auto nick = "c" + std::to_string(i);
    c->send(json{{"op", "hello"}, {"nick", nick}}.dump());
    auto pid = serving_pid(c->next("welcome"));
    c->send(R"({"op":"join","room":"lobby"})");
    c->next("joined");
    nicks[c.get()] = nick;
    by_node[pid].push_back(std::move(c));
  }
  REQUIRE(by_node.size() == 2);
  auto& [victim, doomed] = *by_node.begin();
  auto& survivors = by_node.rbegin()->second;
  REQUIRE(doomed.size() >= 2);
  REQUIRE(survivors.size() >= 2);
  REQUIRE(victim != ::getpid());
  // Traffic from a survivor before and after the kill: every survivor gets all of it, in
  // order, and hears that the doomed clients left.
  auto& talker = *survivors.front();
  for (int id = 1; id <= 30; ++id)
    talker.send(json{{"op", "say"}, {"room", "lobby"}, {"text", "t"}, {"id", id}}.dump());
  REQUIRE(::kill(victim, SIGKILL) == 0);
  for (int id = 31; id <= 60; ++id)
    talker.send(json{{"op", "say"}, {"room", "lobby"}, {"text", "t"}, {"id", id}}.dump());
  for (auto& c : survivors) {
    std::set<std::string> gone;
    for (auto& d : doomed)
      gone.insert(nicks[d.get()]);
    int expected = 1;
    while (expected <= 60 || !gone.empty()) {
      auto x = c->next();
      REQUIRE(x["op"] != "error");
      if (x["op"] == "message" && x["from"] == nicks[&talker]) {
        REQUIRE(x["id"] == expected);
        ++expected;
      } else if (x["op"] == "presence" && x["state"] == "left") {
        CHECK(gone.erase(x["nick"].get<std::string>()) == 1);
      }
    }
  }
  // The doomed clients lost their connection: no close frame, a dead peer.
  for (auto& d : doomed)
    CHECK(d->close_code() == 0);
  // Its supervisor started the gateway again; new clients are served and reach the others.
  std::optional<strata::child_info> restarted;
  for (int i = 0; i < 500 && !restarted; ++i) {
    auto children = strata::which_children(g.gateways);
    REQUIRE(children);
    for (auto& ch : *children)
      if (ch.restarts == 1 && ch.status == strata::child_status::running)
        restarted = ch;
    if (!restarted)
      std::this_thread::sleep_for(10ms);
  }
  REQUIRE(restarted);
  std::set<pid_t> serving;
  for (int i = 0; i < 16 && serving.size() < 2; ++i) {
    client late{g.port()};
    late.send(json{{"op", "hello"}, {"nick", "late" + std::to_string(i)}}.dump());
    serving.insert(serving_pid(late.next("welcome")));
    late.send(R"({"op":"join","room":"lobby"})");
    late.next("joined");
    late.send(json{{"op", "say"}, {"room", "lobby"}, {"text", "back"}, {"id", 100 + i}}.dump());
    CHECK(survivors.back()->next("message")["id"] == 100 + i);
  }
  CHECK(serving.size() == 2);
  CHECK(serving.count(victim) == 0);
}
