#pragma once

// A blocking HTTP/1.1 client for tests of the observer: one request per connection, as a
// browser or a Prometheus scraper speaks to it. Header-only: link Boost::headers.

#include <cstdint>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace strata::test {

struct http_reply {
  unsigned status = 0;
  std::string body;
  std::string content_type;
};

/// Sends `method target` to 127.0.0.1:`port` and returns the answer; throws on a network
/// error (Catch reports it as the test's failure).
inline http_reply http_request(uint16_t port, const std::string& target,
                               boost::beast::http::verb method = boost::beast::http::verb::get,
                               const std::string& body = {}) {
  namespace http = boost::beast::http;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock{ioc};
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return {res.result_int(), res.body(), std::string{res[http::field::content_type]}};
}

} // namespace strata::test
