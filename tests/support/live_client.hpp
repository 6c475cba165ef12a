#pragma once

// A blocking WebSocket client for tests of the observer's live view (`/live`), with a timeout
// on every read, so that a test fails instead of hanging. Header-only: link Boost::headers and
// nlohmann_json; compile with STRATA_BEAST_WARNING_FLAGS.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace strata::test {

/// A page's side of `/live`: connects and handshakes on 127.0.0.1:`port`, then reads the
/// snapshot and the batches. Throws on a network error (Catch reports it as the failure).
struct live_client {
  /// How long one step (connecting, a read) may take.
  static constexpr auto step = std::chrono::seconds(10);

  explicit live_client(uint16_t port, const std::string& target = "/live") : ws(ioc) {
    lowest().expires_after(step);
    lowest().connect(
      boost::asio::ip::tcp::endpoint{boost::asio::ip::make_address("127.0.0.1"), port});
    ws.handshake("127.0.0.1:" + std::to_string(port), target);
    lowest().expires_never();
  }

  boost::beast::tcp_stream& lowest() {
    return boost::beast::get_lowest_layer(ws);
  }

  /// Sends one message (text, or binary if `binary`).
  void send(const std::string& text, bool binary = false) {
    ws.binary(binary);
    ws.write(boost::asio::buffer(text));
  }

  /// The next message as text; throws system_error when the connection closed. Beast's
  /// timeouts apply to asynchronous operations only, hence an async read run here.
  std::string next_text() {
    boost::beast::flat_buffer buf;
    boost::beast::error_code result = boost::asio::error::timed_out;
    bool done = false;
    ws.async_read(buf, [&](boost::beast::error_code ec, size_t) {
      result = ec;
      done = true;
    });
    ioc.restart();
    ioc.run_for(step);
    if (!done) {
      lowest().cancel();
      ioc.restart();
      ioc.run_for(std::chrono::seconds(1));
      FAIL("no message within 10 s");
    }
    if (result)
      throw boost::system::system_error{result};
    return boost::beast::buffers_to_string(buf.data());
  }

  /// The next message, parsed.
  nlohmann::json next() {
    return nlohmann::json::parse(next_text());
  }

  /// The next message of `type`, skipping others.
  nlohmann::json next(const std::string& type) {
    for (int i = 0; i < 10000; ++i)
      if (auto x = next(); x.at("type") == type)
        return x;
    FAIL("no " + type + " message");
    return {};
  }

  /// Reads until the server closes; the code of its close frame (0 when it sent none). A
  /// client that reads the close frame late may fail to answer it, the server having given
  /// up waiting: the frame's code still counts.
  uint16_t close_code() {
    for (int i = 0; i < 10000; ++i) {
      try {
        next_text();
      } catch (const boost::system::system_error& e) {
        if (e.code() != boost::beast::websocket::error::closed)
          UNSCOPED_INFO("the connection ended with " << e.code().message());
        return static_cast<uint16_t>(ws.reason().code);
      }
    }
    return 0;
  }

  /// Whether the server ends the connection (with a close frame or without).
  bool ended() {
    for (int i = 0; i < 10000; ++i) {
      try {
        next_text();
      } catch (const boost::system::system_error&) {
        return true;
      }
    }
    return false;
  }

  /// Events pushed but not yet looked at by `wait_pushed`.
  std::deque<nlohmann::json> backlog;

  boost::asio::io_context ioc;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws;
};

/// Reads events until one of `kind` for `child` (any child when empty) arrives; returns it.
/// Batches may hold several events: those after the one found stay in the client's backlog.
inline nlohmann::json wait_pushed(live_client& c, const std::string& kind,
                                  const std::string& child) {
  for (int i = 0; i < 100000; ++i) {
    while (!c.backlog.empty()) {
      auto ev = std::move(c.backlog.front());
      c.backlog.pop_front();
      if (ev.at("event") == kind && (child.empty() || ev.at("child") == child))
        return ev;
    }
    auto msg = c.next();
    if (msg.at("type") != "events")
      continue;
    for (auto& ev : msg.at("events"))
      c.backlog.push_back(std::move(ev));
  }
  FAIL("no " + kind + " event for " + child);
  return {};
}

} // namespace strata::test
