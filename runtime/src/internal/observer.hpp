#pragma once

// The observer (docs/design/observer.md): `strata.observer.listen` makes a strata system
// serve its live tree over HTTP, `/tree` as JSON and `/metrics` as Prometheus text, and the
// live page (`/`) with its WebSocket (`/live`).

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "internal/observer_http.hpp"
#include "internal/observer_live.hpp"
#include "internal/observer_tree.hpp"

namespace strata::internal {

class observer {
public:
  /// Returns the top-level supervisors, oldest first. @threadsafe
  using roots_fn = std::function<std::vector<caf::actor>()>;

  /// `faults`: whether `POST /fault` injects faults (`strata.observer.faults`).
  observer(caf::actor_system& sys, roots_fn roots, bool faults = false);

  observer(const observer&) = delete;
  observer& operator=(const observer&) = delete;

  ~observer();

  /// Subscribes to the supervision events and serves on `listen` (see `parse_listen`).
  /// @returns the bound port, or `error::invalid_config`. Owner thread only.
  caf::expected<uint16_t> start(const std::string& listen);

  /// Stops serving (a request being answered finishes first) and drops the subscription.
  /// Idempotent. @threadsafe (`system::shutdown` is).
  void stop();

  /// Answers one request; called on the server's thread.
  http_response handle(const http_request& req);

private:
  /// `/live`: takes the connection for the live view, or answers why not (404, 400, 403).
  std::optional<http_response> upgrade(http_request& req, boost::asio::ip::tcp::socket& socket);

  /// `/tree`'s document for `query` (nullopt: no supervisor at its path). Server's thread.
  std::optional<std::string> tree(const tree_query& query, int indent);

  struct counters_box {
    std::mutex mtx; // guards counters
    event_counters counters;
  };

  caf::actor_system& sys_;
  roots_fn roots_;
  bool faults_; // whether POST /fault injects; fixed at construction
  std::shared_ptr<counters_box> counters_;
  std::shared_ptr<live_feed> feed_;
  std::mutex stop_mtx_; // guards subscriber_ and the server's stop
  caf::actor subscriber_;
  http_server server_;
  // After server_: its timer belongs to server_'s context, and goes first.
  live_hub live_;
};

} // namespace strata::internal
