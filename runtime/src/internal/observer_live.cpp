#include "internal/observer_live.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <nlohmann/json.hpp>

#include "internal/observer_live_queue.hpp"

namespace strata::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// A page sends one word ("snapshot"): a bigger frame is not meant for us, and Beast closes
// the connection with 1009 (too big) before reading it.
constexpr size_t max_request = 1024;

// A page gets one snapshot per this interval at most, however often it asks: a snapshot
// walks the tree on the observer's thread, and a client asking in a loop must not keep it
// busy. (The page itself asks about once a second while events come.)
constexpr auto min_snapshot_interval = std::chrono::milliseconds(250);

} // namespace

void live_feed::push(const supervision_event& ev) {
  // Rendered before taking the lock, which the observer's thread takes every 100 ms.
  auto line = to_json_line(ev);
  std::lock_guard<std::mutex> guard{mtx_};
  if (events_.size() >= capacity) {
    ++dropped_;
    return;
  }
  events_.push_back(std::move(line));
}

std::vector<std::string> live_feed::take(size_t& dropped) {
  std::lock_guard<std::mutex> guard{mtx_};
  dropped = std::exchange(dropped_, 0);
  return std::exchange(events_, {});
}

// One live page: a snapshot first, then the batches, through a bounded queue; reads the
// page's requests for a new snapshot.
class live_session : public std::enable_shared_from_this<live_session> {
public:
  live_session(tcp::socket socket, live_hub& hub, tree_query query)
    : ws_(std::move(socket)),
      hub_(hub),
      query_(std::move(query)),
      snapshot_timer_(ws_.get_executor()) {
    // nop
  }

  void start(http_request req) {
    // The WebSocket's own timeouts take over from the TCP stream's, which would otherwise
    // close the socket under it.
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = std::chrono::seconds(5);
    // A page that answers no ping for this long is gone (a closed laptop lid).
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(max_request);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec)
        return self->finish(); // Beast answered the bad upgrade with a 400
      self->send_snapshot();
      self->read();
    });
  }

  void push_batch(const live_queue::message& msg) {
    if (closing_)
      return;
    queue_.push_batch(msg);
    write();
  }

  void close(websocket::close_code code) {
    if (closing_)
      return;
    closing_ = true;
    queue_.drop_waiting();
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) { self->finish(); });
  }

private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    // Closing on our side, the close's own handler finishes, once the close frame is out:
    // the read ends before that.
    if (closing_)
      return;
    if (ec)
      return finish(); // closed by the page, or a protocol error (Beast closed it)
    auto text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    if (!ws_.got_text())
      return close(websocket::close_code::unknown_data);
    if (text != "snapshot")
      return close(websocket::close_code::policy_error);
    // Asked again before the last one went out: that one is recent enough.
    if (!queue_.snapshot_waiting() && !snapshot_due_) {
      auto wait = last_snapshot_ + min_snapshot_interval - std::chrono::steady_clock::now();
      if (wait <= decltype(wait)::zero()) {
        send_snapshot();
      } else {
        snapshot_due_ = true;
        snapshot_timer_.expires_after(wait);
        snapshot_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
          self->snapshot_due_ = false;
          if (!ec && !self->closing_)
            self->send_snapshot();
        });
      }
    }
    read();
  }

  void send_snapshot() {
    last_snapshot_ = std::chrono::steady_clock::now();
    queue_.push_snapshot(std::make_shared<const std::string>(hub_.snapshot_message(query_)));
    write();
  }

  void write() {
    if (closing_)
      return;
    auto next = queue_.start_write();
    if (next == nullptr)
      return;
    ws_.text(true);
    // The message stays in the queue, so the buffer stays valid, until `written`.
    ws_.async_write(asio::buffer(**next),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->queue_.written();
                      if (ec)
                        return self->finish();
                      self->write();
                    });
  }

  void finish() {
    if (finished_)
      return;
    finished_ = true;
    closing_ = true;
    queue_.drop_waiting();
    hub_.closed(this);
  }

  websocket::stream<beast::tcp_stream> ws_;
  live_hub& hub_; // outlives every session's handlers (they never run after stop)
  tree_query query_;
  beast::flat_buffer in_;
  live_queue queue_;
  bool closing_ = false;
  bool finished_ = false;
  asio::steady_timer snapshot_timer_;
  std::chrono::steady_clock::time_point last_snapshot_;
  bool snapshot_due_ = false; // snapshot_timer_ runs for a snapshot asked too soon
};

live_hub::live_hub(asio::io_context& ioc, std::shared_ptr<live_feed> feed, snapshot_fn snapshot)
  : ioc_(ioc), feed_(std::move(feed)), snapshot_(std::move(snapshot)), timer_(ioc) {
  // nop
}

void live_hub::accept(tcp::socket socket, http_request req, tree_query query) {
  if (on_all_closed_)
    return; // stopping: the socket closes as it goes
  auto session = std::make_shared<live_session>(std::move(socket), *this, std::move(query));
  sessions_.push_back(session);
  feed_->set_watched(true);
  session->start(std::move(req));
  if (!ticking_) {
    ticking_ = true;
    timer_.expires_after(batch_interval);
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec)
        tick();
    });
  }
}

void live_hub::tick() {
  size_t dropped = 0;
  auto events = feed_->take(dropped);
  if (!events.empty() || dropped > 0) {
    // Rendered once for every page: `{"type":"events","dropped":N,"events":[...]}`.
    std::string msg = R"({"type":"events","dropped":)" + std::to_string(dropped) + R"(,"events":[)";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0)
        msg += ',';
      msg += events[i];
    }
    msg += "]}";
    auto shared = std::make_shared<const std::string>(std::move(msg));
    // A copy: a session may finish, and leave the list, while it is handed the batch.
    auto sessions = sessions_;
    for (const auto& s : sessions)
      s->push_batch(shared);
  }
  if (sessions_.empty() || on_all_closed_) {
    ticking_ = false;
    return;
  }
  timer_.expires_after(batch_interval);
  timer_.async_wait([this](beast::error_code ec) {
    if (!ec)
      tick();
  });
}

void live_hub::close_all(std::function<void()> done) {
  on_all_closed_ = std::move(done);
  timer_.cancel();
  if (sessions_.empty())
    return on_all_closed_();
  auto sessions = sessions_;
  for (const auto& s : sessions)
    s->close(websocket::close_code::going_away);
}

void live_hub::closed(const live_session* who) {
  auto i = std::find_if(sessions_.begin(), sessions_.end(),
                        [who](const auto& s) { return s.get() == who; });
  if (i != sessions_.end())
    sessions_.erase(i);
  if (!sessions_.empty())
    return;
  feed_->set_watched(false);
  if (on_all_closed_)
    on_all_closed_();
}

std::string live_hub::snapshot_message(const tree_query& query) {
  auto doc = snapshot_(query);
  if (!doc) {
    nlohmann::json err = {{"type", "error"},
                          {"error", "no supervisor at path '" + query.path + "'"}};
    return err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return R"({"type":"snapshot","tree":)" + *doc + "}";
}

} // namespace strata::internal
