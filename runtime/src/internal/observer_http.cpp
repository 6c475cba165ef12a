#include "internal/observer_http.hpp"

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "strata/error.hpp"

namespace strata::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* listen_key = "strata.observer.listen";
constexpr const char* listen_form = "expected HOST:PORT, [IPV6]:PORT, :PORT or PORT (0-65535)";

// A client that sends nothing (or reads nothing) for this long is dropped.
constexpr auto idle_timeout = std::chrono::seconds(30);

// Requests are GETs with a short target: anything bigger is not meant for us.
constexpr uint32_t header_limit = 8 * 1024;
constexpr uint64_t body_limit = 8 * 1024;

caf::error bad_listen(const std::string& text, const std::string& why) {
  return make_error(error::invalid_config, listen_key, "'" + text + "': " + why);
}

// One connection: read a request, answer it, and again while the client keeps it alive.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, const http_server::handler& fun, const http_server::upgrader& up)
    : stream_(std::move(socket)), handler_(fun), upgrader_(up) {
    // nop
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(header_limit);
    parser_->body_limit(body_limit);
    stream_.expires_after(idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->on_read(ec);
                     });
  }

private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout
        || ec == asio::error::operation_aborted || ec == asio::error::eof
        || ec == asio::error::connection_reset)
      return close();
    if (ec) {
      // Not HTTP we can read: say so and close, as the connection's state is unknown.
      http_response res{http::status::bad_request, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "bad request: " + ec.message() + "\n";
      res.keep_alive(false);
      return write(std::move(res));
    }
    auto req = parser_->release();
    http_response res;
    try {
      if (upgrader_ && beast::websocket::is_upgrade(req)) {
        // The connection is no longer HTTP once taken: this session ends here.
        stream_.expires_never();
        auto answer = upgrader_(req, stream_.socket());
        if (!answer)
          return;
        // A refused upgrade: the client expected to stop speaking HTTP, so close.
        answer->version(req.version());
        answer->keep_alive(false);
        return write(std::move(*answer));
      }
      res = handler_(req);
    } catch (const std::exception& e) {
      // Thrown out of here, it would end the server's thread and the program with it.
      res = http_response{http::status::internal_server_error, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = std::string{"internal error: "} + e.what() + "\n";
    }
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    write(std::move(res));
  }

  void write(http_response res) {
    res.prepare_payload();
    response_ = std::move(res);
    stream_.expires_after(idle_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive())
                          return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http_response response_;
  const http_server::handler& handler_; // the server's, which outlives every session
  const http_server::upgrader& upgrader_; // likewise
};

} // namespace

caf::expected<tcp::endpoint> parse_listen(const std::string& text) {
  std::string host = "127.0.0.1";
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string::npos)
      return bad_listen(text, "an IPv6 address goes in brackets: [::1]:PORT");
    if (host.empty() && colon == 0)
      host = "127.0.0.1";
    else if (host.empty())
      return bad_listen(text, listen_form);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) > 65535)
    return bad_listen(text, listen_form);
  if (host == "localhost")
    host = "127.0.0.1";
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return bad_listen(text, "'" + host + "' is not an IP address (or localhost)");
  return tcp::endpoint{addr, static_cast<uint16_t>(std::stoul(port))};
}

http_server::http_server(handler fun) : handler_(std::move(fun)) {
  // nop
}

http_server::~http_server() {
  stop();
}

caf::expected<tcp::endpoint> http_server::start(const tcp::endpoint& where) {
  beast::error_code ec;
  auto fail = [&](const char* what) {
    return make_error(error::invalid_config, listen_key,
                      std::string{what} + " " + where.address().to_string() + ":"
                        + std::to_string(where.port()) + ": " + ec.message());
  };
  if (acceptor_.open(where.protocol(), ec); ec)
    return fail("cannot open a socket for");
  // A restarted program gets its port back at once, not after TIME_WAIT.
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return fail("cannot set SO_REUSEADDR for");
  if (acceptor_.bind(where, ec); ec)
    return fail("cannot bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
    return fail("cannot listen on");
  auto bound = acceptor_.local_endpoint(ec);
  if (ec)
    return fail("cannot read the port of");
  accept();
  thread_ = std::thread{[this] { ioc_.run(); }};
  return bound;
}

void http_server::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open())
      return; // closed by stop()
    if (!ec)
      std::make_shared<session>(std::move(socket), handler_, upgrader_)->read();
    accept();
  });
}

void http_server::stop() {
  if (!thread_.joinable())
    return;
  // The acceptor belongs to the server's thread: close it there. Stopping the context then
  // leaves the pending reads and writes undone; their sessions go with ioc_. WebSockets are
  // closed first (1001, going away), for at most stop_grace: a page that does not answer
  // its close frame does not hold up the system's shutdown.
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    if (!closer_)
      return ioc_.stop();
    auto grace = std::make_shared<asio::steady_timer>(ioc_, stop_grace);
    grace->async_wait([this, grace](beast::error_code) { ioc_.stop(); });
    closer_([this] { ioc_.stop(); });
  });
  thread_.join();
}

void http_server::set_upgrader(upgrader up, closer close) {
  upgrader_ = std::move(up);
  closer_ = std::move(close);
}

} // namespace strata::internal
