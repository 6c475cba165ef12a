#pragma once

// What the gateway tests through real connections share: a gateway on a free port, and a
// blocking WebSocket client (Boost.Beast) with timeouts on every operation, so that a test
// fails instead of hanging.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors.hpp"
#include "server.hpp"

namespace chat::test {

/// A gateway on 127.0.0.1 and a free port: the rooms' supervisor, the directory, the server.
/// `customize` may change the config (placements, strata::nodes) before the system starts.
struct gateway {
  explicit gateway(server_options opts = {},
                   const std::function<void(strata::config&)>& customize = nullptr) {
    add_factories(cfg);
    if (customize)
      customize(cfg);
    sys.emplace(cfg);
    REQUIRE_FALSE(sys->provider_error());
    auto sup = sys->start_supervisor("rooms", rooms_spec());
    REQUIRE(sup);
    rooms = *sup;
    REQUIRE(sys->start_supervisor("directory", directory_spec(rooms)));
    opts.port = 0;
    opts.address = "127.0.0.1";
    srv.emplace(sys->actors(), opts);
  }

  ~gateway() {
    srv.reset();
  }

  uint16_t port() const {
    return srv->port();
  }

  strata::config cfg;
  std::optional<strata::system> sys;
  caf::actor rooms;
  std::optional<server> srv;
};

struct ws_client {
  explicit ws_client(uint16_t port) : ws(ioc) {
    boost::asio::ip::tcp::resolver resolver{ioc};
    lowest().expires_after(std::chrono::seconds(5));
    lowest().connect(resolver.resolve("127.0.0.1", std::to_string(port)));
    ws.handshake("127.0.0.1", "/ws");
  }

  boost::beast::tcp_stream& lowest() {
    return boost::beast::get_lowest_layer(ws);
  }

  void send(const std::string& frame) {
    lowest().expires_after(std::chrono::seconds(10));
    ws.text(true);
    ws.write(boost::asio::buffer(frame));
  }

  // The next frame; fails the test after 10 s. (Beast's timeouts apply to asynchronous
  // operations only, hence an async read run here.)
  nlohmann::json next() {
    boost::beast::flat_buffer buf;
    boost::beast::error_code result = boost::asio::error::timed_out;
    bool done = false;
    ws.async_read(buf, [&](boost::beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    ioc.restart();
    ioc.run_for(std::chrono::seconds(10));
    if (!done) {
      lowest().cancel();
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));
      FAIL("no frame within 10 s");
    }
    if (result)
      throw boost::system::system_error{result};
    return nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()));
  }

  // The next frame with this op, skipping others (e.g. presence notices).
  nlohmann::json next(const std::string& op) {
    for (int i = 0; i < 1000; ++i)
      if (auto x = next(); x["op"] == op)
        return x;
    FAIL("no " + op + " frame");
    return {};
  }

  // Reads until the server closes, handing each frame read to `on_frame` (if given); returns
  // the close code (0 if the read failed otherwise, with the error in the test's output).
  uint16_t close_code(const std::function<void(const nlohmann::json&)>& on_frame = nullptr) {
    for (;;) {
      try {
        auto frame = next();
        if (on_frame)
          on_frame(frame);
      } catch (const boost::system::system_error& e) {
        if (e.code() == boost::beast::websocket::error::closed)
          return static_cast<uint16_t>(ws.reason().code);
        UNSCOPED_INFO("the read ended with: " << e.code().message());
        return 0;
      }
    }
  }

  boost::asio::io_context ioc;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws;
};

} // namespace chat::test
