// The chat gateway's placements: sessions on threads of their own, and rooms in a node of
// their own (another OS process), which is killed with SIGKILL under a client.

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <thread>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include "strata/nodes/provider.hpp"

#include "actors.hpp"
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
  REQUIRE(::kill(node, SIGKILL) == 0);
  // Both sessions join the restarted room by themselves: each client sees `joined` again
  // (a fresh room: the history went with the node), and they talk on.
  a.next("joined");
  b.next("joined");
  a.send(R"({"op":"say","room":"far","text":"after","id":2})");
  CHECK(b.next("message")["text"] == "after");
  auto children = strata::which_children(g.rooms);
  REQUIRE(children);
  REQUIRE(children->size() == 1);
  CHECK(children->front().restarts == 1);
}
