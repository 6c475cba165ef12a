#pragma once

// The chat gateway's network side: Boost.Beast HTTP (`GET /`: the chat page) and WebSocket
// (`/ws`: one session actor per connection), on Asio threads of its own.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/meta/type_name.hpp>

namespace chat {

struct server_options {
  std::string address = "0.0.0.0";
  uint16_t port = 8080; // 0: any free port (see `server::port`)
  unsigned io_threads = 1;
  bool session_threads = false; // `thread` placement: a detached session actor per connection
  // Frames queued for a client before it is closed (1008): behind a client that reads too
  // slowly, and, apart, posted to a connection whose I/O thread has not drained them yet.
  size_t max_outbound = 1024;
  double rate = 50; // frames per second a client may send on average ...
  double burst = 100; // ... and at once
  // Refused frames pile up, draining at `rate` a second; this many piled up close the
  // connection (1008): a client that keeps sending at over twice its rate.
  size_t abuse_limit = 200;
  // SO_REUSEPORT: several servers, in one process or in several, share the port and the
  // kernel spreads connections across them (see `reserve_port`).
  bool reuse_port = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_options& x) {
  return f(caf::meta::type_name("chat::server_options"), x.address, x.port, x.io_threads,
           x.session_threads, x.max_outbound, x.rate, x.burst, x.abuse_limit, x.reuse_port);
}

/// Close codes the gateway uses.
constexpr uint16_t close_going_away = 1001; // shutdown
constexpr uint16_t close_too_big = 1009; // a frame over max_frame_bytes
constexpr uint16_t close_policy = 1008; // cannot keep up, or keeps flooding

struct server_state;

/// A running gateway: listens on construction, stops (closing every connection with 1001)
/// on `stop` or destruction.
class server {
public:
  /// @throws boost::system::system_error when the address cannot be bound.
  server(caf::actor_system& sys, server_options opts);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port it listens on.
  uint16_t port() const;

  /// Connections open right now.
  size_t connections() const;

  /// Closes every connection with a close frame and stops the Asio threads.
  void stop();

private:
  std::shared_ptr<server_state> state_;
  std::vector<std::thread> threads_;
};

/// A port held for servers with `reuse_port`: bound with SO_REUSEPORT but not listening, so
/// it takes no connections itself, and no other user's program can take the port meanwhile.
class port_reservation {
public:
  /// Binds `address:port` (port 0: a free one). The port must be free: a port that other
  /// sockets hold, even with SO_REUSEPORT, is refused, so that two gateways never share one.
  /// @throws boost::system::system_error when it is not.
  port_reservation(const std::string& address, uint16_t port);
  ~port_reservation();

  port_reservation(const port_reservation&) = delete;
  port_reservation& operator=(const port_reservation&) = delete;

  uint16_t port() const {
    return port_;
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// The chat page served at `/`.
const std::string& page();

} // namespace chat
