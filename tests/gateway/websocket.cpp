// The chat gateway through real connections: Boost.Beast clients against the server
// (examples/chat_gateway/server.hpp) on a free port.

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>

#include "actors.hpp"
#include "protocol.hpp"
#include "server.hpp"
#include "ws_client.hpp"

using namespace chat;
using nlohmann::json;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using client = chat::test::ws_client;
using chat::test::gateway;

} // namespace

TEST_CASE("the page is served at /, and nothing else is") {
  gateway g;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  tcp::resolver resolver{ioc};
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(g.port())));
  for (auto [target, status] : {std::pair{"/", 200u}, std::pair{"/missing", 404u}}) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    CHECK(res.result_int() == status);
    if (status == 200)
      CHECK(res.body().find("<title>strata chat</title>") != std::string::npos);
  }
}

TEST_CASE("two clients chat in a room over WebSocket, in order") {
  gateway g;
  client a{g.port()};
  client b{g.port()};
  a.send(R"({"op":"hello","nick":"ana"})");
  CHECK(a.next()["op"] == "welcome");
  b.send(R"({"op":"hello","nick":"bo"})");
  CHECK(b.next()["op"] == "welcome");
  a.send(R"({"op":"join","room":"lobby"})");
  CHECK(a.next("joined")["members"] == json::array({"ana"}));
  b.send(R"({"op":"join","room":"lobby"})");
  CHECK(b.next("joined")["members"].size() == 2);
  CHECK(a.next()
        == json{{"op", "presence"}, {"room", "lobby"}, {"nick", "bo"}, {"state", "joined"}});
  for (int i = 0; i < 40; ++i)
    b.send(json{{"op", "say"}, {"room", "lobby"}, {"text", "t"}, {"id", i}}.dump());
  for (auto* c : {&a, &b})
    for (int i = 0; i < 40; ++i) {
      auto m = c->next();
      REQUIRE(m["op"] == "message");
      CHECK(m["from"] == "bo");
      CHECK(m["id"] == i);
    }
  a.send(R"({"op":"ping"})");
  CHECK(a.next() == json{{"op", "pong"}});
}

TEST_CASE("bad input gets its answer, and the gateway keeps serving") {
  gateway g;
  client other{g.port()};
  other.send(R"({"op":"hello","nick":"other"})");
  other.next();
  SECTION("invalid JSON, wrong types, unknown ops, binary frames: an error, the session stays") {
    client a{g.port()};
    a.send("{nope");
    CHECK(a.next()["code"] == "bad_json");
    a.send(R"({"op":"hello","nick":5})");
    CHECK(a.next()["code"] == "bad_field");
    a.send(R"({"op":"jump"})");
    CHECK(a.next()["code"] == "unknown_op");
    a.ws.binary(true);
    a.ws.write(net::buffer(std::string{"\x01\x02"}));
    CHECK(a.next()["code"] == "bad_frame");
    a.send(R"({"op":"ping"})");
    CHECK(a.next()["op"] == "pong");
  }
  SECTION("an oversized frame closes that connection with 1009") {
    client a{g.port()};
    a.send(std::string(max_frame_bytes + 1, ' '));
    CHECK(a.close_code() == close_too_big);
  }
  SECTION("a flood is refused, then closed with 1008") {
    client a{g.port()};
    size_t limited = 0;
    for (int i = 0; i < 400; ++i)
      a.send(R"({"op":"ping"})");
    auto code
      = a.close_code([&](const json& m) { limited += m.value("code", "") == "rate_limited"; });
    CHECK(limited >= 200);
    CHECK(code == close_policy);
  }
  SECTION("a client that vanishes mid-frame") {
    net::io_context ioc;
    websocket::stream<beast::tcp_stream> raw{ioc};
    tcp::resolver resolver{ioc};
    beast::get_lowest_layer(raw).connect(resolver.resolve("127.0.0.1", std::to_string(g.port())));
    raw.handshake("127.0.0.1", "/ws");
    // A frame header that promises 100 bytes, 3 of them sent, then the socket goes.
    unsigned char partial[] = {0x81, 0x80 | 100, 1, 2, 3, 4, 'a', 'b', 'c'};
    net::write(beast::get_lowest_layer(raw).socket(), net::buffer(partial));
    beast::get_lowest_layer(raw).socket().close();
  }
  // Whatever happened to the others, this one is still served.
  other.send(R"({"op":"ping"})");
  CHECK(other.next()["op"] == "pong");
}

TEST_CASE("a flood the refill admits a frame of now and then is closed all the same") {
  // 1,000 frames a second: while the flood lasts, the bucket admits a frame every millisecond.
  // Counted in a row, refusals would reach 2,000 only at a pace over 2,000,000 frames a
  // second; piled up, draining at 1,000 a second, they do at any pace over 2,000.
  server_options opts;
  opts.rate = 1000;
  opts.burst = 10;
  opts.abuse_limit = 2000;
  gateway g{opts};
  client a{g.port()};
  constexpr size_t sent = 10000;
  for (size_t i = 0; i < sent; ++i)
    a.send(R"({"op":"ping"})");
  size_t pongs = 0;
  size_t limited = 0;
  CHECK(a.close_code([&](const json& m) {
    // `value`, not `[]`: on a const object, `[]` of a missing key is undefined.
    pongs += m.value("op", "") == "pong";
    limited += m.value("code", "") == "rate_limited";
  }) == close_policy);
  CHECK(pongs >= 10);
  CHECK(limited >= 2000);
  CHECK(pongs + limited < sent);
}

TEST_CASE("a client that does not read is closed; the room goes on") {
  server_options opts;
  opts.max_outbound = 8;
  opts.rate = 100000;
  opts.burst = 100000;
  gateway g{opts};
  client fast{g.port()};
  // The slow one never reads, with a tiny receive buffer, so the server's writes to it stall.
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> slow{ioc};
  auto& sock = beast::get_lowest_layer(slow).socket();
  sock.open(tcp::v4());
  sock.set_option(net::socket_base::receive_buffer_size(4096));
  sock.connect({net::ip::make_address("127.0.0.1"), g.port()});
  slow.handshake("127.0.0.1", "/ws");
  for (auto* ws : {&fast.ws, &slow}) {
    ws->text(true);
    ws->write(net::buffer(std::string{R"({"op":"hello","nick":"n"})"}));
  }
  fast.next("welcome");
  slow.write(net::buffer(std::string{R"({"op":"join","room":"busy"})"}));
  fast.send(R"({"op":"join","room":"busy"})");
  fast.next("joined");
  std::string text(3900, 'x');
  // The fast one, reading as it goes, gets each of its messages back, unslowed...
  // (12 MB: more than the kernel buffers between the server and the slow one can hold.)
  for (int i = 0; i < 3000; ++i) {
    fast.send(json{{"op", "say"}, {"room", "busy"}, {"text", text}, {"id", i}}.dump());
    REQUIRE(fast.next("message")["id"] == i);
  }
  // ... and the slow one is dropped: closed with 1008, or cut off if it read not even that.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (g.srv->connections() > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(g.srv->connections() == 1);
}

TEST_CASE("a connection whose frames pile up past max_outbound before its thread drains them "
          "is closed with 1008; the gateway goes on") {
  // With a limit of 0, the first frame posted to a connection (its welcome) is past it, as
  // 1,025 frames posted while its I/O thread lags would be with the default; the unit test of
  // the bound is tests/gateway/posted_frames.cpp.
  server_options opts;
  opts.max_outbound = 0;
  gateway g{opts};
  client a{g.port()};
  a.send(R"({"op":"hello","nick":"ana"})");
  CHECK(a.close_code() == close_policy);
  client b{g.port()};
  b.send(R"({"op":"hello","nick":"bo"})");
  CHECK(b.close_code() == close_policy);
}

TEST_CASE("stopping the gateway closes every connection with 1001") {
  gateway g;
  client a{g.port()};
  client b{g.port()};
  a.send(R"({"op":"ping"})");
  a.next();
  b.send(R"({"op":"ping"})");
  b.next();
  std::thread stopper{[&] { g.srv->stop(); }};
  CHECK(a.close_code() == close_going_away);
  CHECK(b.close_code() == close_going_away);
  stopper.join();
}
