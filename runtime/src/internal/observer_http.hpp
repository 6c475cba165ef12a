#pragma once

// The observer's HTTP server: Boost.Beast on one Asio thread of its own, so that serving a
// page never takes a CAF scheduler thread and a slow client never holds up an actor.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <caf/expected.hpp>

namespace strata::internal {

namespace http = boost::beast::http;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

/// Parses `strata.observer.listen`: `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` (host
/// 127.0.0.1, loopback unless a host is named); PORT 0 binds any free port.
/// @returns `error::invalid_config` naming the key and what is expected.
caf::expected<boost::asio::ip::tcp::endpoint> parse_listen(const std::string& text);

/// A plain HTTP/1.1 server calling `handler` for each request on its own thread, one
/// request at a time (the handler of the observer takes a snapshot of the tree, which is
/// cheap next to a person's or a scraper's pace). Keep-alive is honoured; a request that
/// cannot be parsed is answered 400 and its connection closed. A request for a WebSocket goes
/// to the `upgrader`, if one is set, which may take the connection (the live view's `/live`).
class http_server {
public:
  using handler = std::function<http_response(const http_request&)>;

  /// Answers a request that asks for a WebSocket upgrade: a response to send over HTTP, or
  /// nullopt when it took the connection (moved `socket` away). Called on the server's thread.
  using upgrader
    = std::function<std::optional<http_response>(http_request& req, boost::asio::ip::tcp::socket&)>;

  /// Called on the server's thread as it stops, to close the connections an `upgrader` took;
  /// it calls its argument once they are closed.
  using closer = std::function<void(std::function<void()> done)>;

  explicit http_server(handler fun);

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Stops it (see `stop`).
  ~http_server();

  /// Binds and listens on `where`, then serves on a new thread. Owner thread only.
  /// @returns the bound endpoint (its port when `where` asked for 0), or
  /// `error::invalid_config` when it cannot bind.
  caf::expected<boost::asio::ip::tcp::endpoint> start(const boost::asio::ip::tcp::endpoint& where);

  /// Closes the listener and every connection, and joins the thread; a request being
  /// handled is finished first, and the connections an `upgrader` took are given a second
  /// (`stop_grace`) to close. Idempotent. Owner thread only.
  void stop();

  /// Routes WebSocket upgrades to `up`, and has `close` called on stop. Before `start` only.
  void set_upgrader(upgrader up, closer close);

  /// The context the server's thread runs, for timers and connections of an `upgrader`.
  boost::asio::io_context& context() {
    return ioc_;
  }

  /// How long `stop` waits for the connections an `upgrader` took to close.
  static constexpr auto stop_grace = std::chrono::seconds(1);

private:
  void accept();

  // Declared first, destroyed last: the sockets and pending handlers below belong to it.
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  handler handler_;
  upgrader upgrader_;
  closer closer_;
  std::thread thread_;
};

} // namespace strata::internal
