#pragma once

// The observer's live view (docs/design/observer.md, "The live view"): WebSocket connections
// at `GET /live` that get a snapshot of the tree, then the supervision events in batches at
// most every 100 ms, on the observer's own Asio thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "strata/supervision_event.hpp"

#include "internal/observer_http.hpp"
#include "internal/observer_tree.hpp"

namespace strata::internal {

/// The events waiting for the next batch, bounded: the event subscriber (a CAF actor) adds,
/// the observer's thread takes. Past `capacity` events in one batch the rest are dropped
/// and the batch says so (`overflowed`): the pages then ask for a snapshot, which is
/// smaller than the burst. An actor never waits for a page here.
class live_feed {
public:
  /// Events kept for one batch at most.
  static constexpr size_t capacity = 2000;

  /// Whether any live page is connected: without one, events are not even rendered.
  /// @threadsafe
  bool watched() const noexcept {
    // SYNC POINT READ: pairs with the release in `set_watched`; a stale answer only costs
    // one event rendered for nobody, or one missed while the first page connects (its
    // snapshot comes after).
    return watched_.load(std::memory_order_acquire);
  }

  /// Owner: the observer's thread. @threadsafe
  void set_watched(bool x) noexcept {
    // SYNC POINT WRITE: pairs with the acquire in `watched`.
    watched_.store(x, std::memory_order_release);
  }

  /// Adds `ev` to the next batch (as a JSON line) or counts it as dropped. @threadsafe
  void push(const supervision_event& ev);

  /// The batch so far, emptied; `dropped` tells how many events did not fit. @threadsafe
  std::vector<std::string> take(size_t& dropped);

private:
  std::mutex mtx_; // guards events_ and dropped_
  std::vector<std::string> events_;
  size_t dropped_ = 0;
  std::atomic<bool> watched_{false};
};

class live_session;

/// The WebSocket connections of the live view and their batch timer. Everything but the
/// constructor runs on the observer's thread (the one running `ioc`).
class live_hub {
public:
  /// Renders a `/tree` document for `query` (nullopt: no such path); called on the
  /// observer's thread, it blocks it while the tree is walked, as `/tree` does.
  using snapshot_fn = std::function<std::optional<std::string>(const tree_query&)>;

  /// How often batches go out at most.
  static constexpr auto batch_interval = std::chrono::milliseconds(100);

  live_hub(boost::asio::io_context& ioc, std::shared_ptr<live_feed> feed, snapshot_fn snapshot);

  live_hub(const live_hub&) = delete;
  live_hub& operator=(const live_hub&) = delete;

  /// Takes over `socket`, whose request `req` asked for a WebSocket at `/live` and was
  /// parsed into `query` (the snapshot's path, offset and limit). Observer's thread only.
  void accept(boost::asio::ip::tcp::socket socket, http_request req, tree_query query);

  /// Closes every connection with 1001 (going away) and calls `done` once they are closed
  /// (or at once when there is none). Observer's thread only.
  void close_all(std::function<void()> done);

  /// A snapshot message (`{"type":"snapshot","tree":...}`) for `query`, or an error
  /// message. Observer's thread only.
  std::string snapshot_message(const tree_query& query);

  /// Called by a session when its connection is gone. Observer's thread only.
  void closed(const live_session* who);

private:
  void tick();

  boost::asio::io_context& ioc_;
  std::shared_ptr<live_feed> feed_;
  snapshot_fn snapshot_;
  boost::asio::steady_timer timer_;
  bool ticking_ = false;
  std::vector<std::shared_ptr<live_session>> sessions_;
  std::function<void()> on_all_closed_;
};

} // namespace strata::internal
