#pragma once

// The observer's HTTP server: Boost.Beast on one Asio thread of its own, so that serving a
// page never takes a CAF scheduler thread and a slow client never holds up an actor.

#include <cstdint>
#include <functional>
#include <memory>
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
/// cannot be parsed is answered 400 and its connection closed.
class http_server {
public:
  using handler = std::function<http_response(const http_request&)>;

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
  /// handled is finished first. Idempotent. Owner thread only.
  void stop();

private:
  void accept();

  // Declared first, destroyed last: the sockets and pending handlers below belong to it.
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  handler handler_;
  std::thread thread_;
};

} // namespace strata::internal
