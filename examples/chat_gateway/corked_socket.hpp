#pragma once

// A TCP socket that gathers writes, as the next layer of Beast's WebSocket stream.
//
// Beast writes each WebSocket message with its own `async_write_some` on the next layer: on a
// bare socket, one `send` system call per frame. A connection that has several frames queued
// (a burst of room traffic, or any load near saturation) then pays a system call, and on
// loopback the peer's whole receive path, for every frame. While corked, this layer appends
// what is written to a buffer (what Beast writes, reported written at once, and the frames
// its owner `append`s itself); `uncork` sends everything gathered with one write. Uncorked,
// each write is sent as soon as the previous send is done, and what arrives meanwhile goes
// out with the next one. Reads go straight to the socket.
//
// The owner bounds the buffer: it looks at `buffered()` after each frame and, over its limit,
// waits for `async_flush` (so a client that does not read backs the frames up into the
// owner's queue, where its slow-consumer rule sees them). Everything runs on the socket's
// executor, on one thread, as Beast's own operations do.

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace chat {

template <class Socket>
class corked_socket {
public:
  using socket_type = Socket;
  using executor_type = typename socket_type::executor_type;
  using next_layer_type = socket_type;

  explicit corked_socket(socket_type&& socket) : st_(std::make_shared<state>(std::move(socket))) {
    // nop
  }

  corked_socket(corked_socket&&) = default;
  corked_socket& operator=(corked_socket&&) = delete;

  // A send in flight holds the state, not this object: closing the socket ends it.
  ~corked_socket() {
    if (st_) {
      boost::beast::error_code ignored;
      st_->socket.close(ignored);
    }
  }

  executor_type get_executor() noexcept {
    return st_->socket.get_executor();
  }

  socket_type& next_layer() noexcept {
    return st_->socket;
  }

  /// Bytes gathered and not yet handed to the kernel.
  size_t buffered() const noexcept {
    return st_->gathered.size();
  }

  /// Gathers writes until `uncork`.
  void cork() noexcept {
    st_->corked = true;
  }

  /// Sends what was gathered (after the send in flight, if one is).
  void uncork() {
    st_->corked = false;
    if (!st_->sending)
      send_gathered(st_);
  }

  /// Calls `handler(error_code)` once every byte written so far is with the kernel, or the
  /// socket failed.
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code)>(
      [this](auto handler) {
        auto& st = *st_;
        if (!st.sending && st.gathered.empty()) {
          boost::asio::post(get_executor(),
                            boost::beast::bind_handler(std::move(handler), st.error));
          return;
        }
        st.flushed.push_back(make_callback(std::move(handler)));
        uncork();
      },
      token);
  }

  /// Appends `head` and then `body` as written (sent at once unless corked).
  void append(boost::asio::const_buffer head, boost::asio::const_buffer body) {
    auto& st = *st_;
    if (st.error)
      return; // the socket failed: the owner hears of it from its next read or flush
    for (auto b : {head, body}) {
      auto p = static_cast<const char*>(b.data());
      st.gathered.insert(st.gathered.end(), p, p + b.size());
    }
    if (!st.corked && !st.sending)
      send_gathered(st_);
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return st_->socket.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, size_t)>(
      [this](auto handler, const Buffers& buffers) {
        auto& st = *st_;
        size_t n = 0;
        if (!st.error) {
          for (auto i = boost::asio::buffer_sequence_begin(buffers);
               i != boost::asio::buffer_sequence_end(buffers); ++i) {
            boost::asio::const_buffer b = *i;
            auto p = static_cast<const char*>(b.data());
            st.gathered.insert(st.gathered.end(), p, p + b.size());
            n += b.size();
          }
          if (!st.corked && !st.sending)
            send_gathered(st_);
        }
        boost::asio::post(get_executor(),
                          boost::beast::bind_handler(std::move(handler), st.error, n));
      },
      token, buffers);
  }

private:
  // A move-only `void(error_code)` (Beast's handlers cannot be copied into std::function).
  struct callback {
    virtual ~callback() = default;
    virtual void operator()(boost::beast::error_code ec) = 0;
  };

  template <class Handler>
  static std::unique_ptr<callback> make_callback(Handler&& handler) {
    struct impl : callback {
      explicit impl(Handler&& h) : h(std::move(h)) {
        // nop
      }
      void operator()(boost::beast::error_code ec) override {
        h(ec);
      }
      Handler h;
    };
    return std::make_unique<impl>(std::move(handler));
  }

  struct state {
    explicit state(socket_type&& s) : socket(std::move(s)) {
      // nop
    }
    socket_type socket;
    std::vector<char> gathered; // written by Beast, not yet sent
    std::vector<char> sent; // in the kernel's hands (the write in flight)
    bool corked = false;
    bool sending = false;
    boost::beast::error_code error; // the socket's first failure: every later write fails
    std::vector<std::unique_ptr<callback>> flushed; // waiting for `async_flush`
  };

  static void send_gathered(const std::shared_ptr<state>& st) {
    if (st->gathered.empty() || st->error) {
      finish_flush(*st);
      return;
    }
    st->sending = true;
    st->sent.swap(st->gathered);
    boost::asio::async_write(st->socket, boost::asio::buffer(st->sent),
                             [st](boost::beast::error_code ec, size_t) {
                               st->sending = false;
                               st->sent.clear();
                               if (ec && !st->error)
                                 st->error = ec;
                               if (!st->corked || st->error)
                                 send_gathered(st);
                               else
                                 finish_flush(*st);
                             });
  }

  // Nothing in flight: tells the waiters of `async_flush` that all was sent (or failed).
  static void finish_flush(state& st) {
    if (st.sending || (!st.gathered.empty() && !st.error) || st.flushed.empty())
      return;
    auto waiters = std::move(st.flushed);
    st.flushed.clear();
    for (auto& w : waiters)
      boost::asio::post(st.socket.get_executor(),
                        [w = std::move(w), ec = st.error]() mutable { (*w)(ec); });
  }

  std::shared_ptr<state> st_;
};

// Beast's close handshake ends with a teardown of the next layer: after the gathered bytes
// (the close frame among them) are sent, the socket's own teardown.
template <class Socket, class Handler>
void async_teardown(boost::beast::role_type role, corked_socket<Socket>& stream,
                    Handler&& handler) {
  stream.async_flush(
    [&stream, role, h = std::forward<Handler>(handler)](boost::beast::error_code) mutable {
      boost::beast::websocket::async_teardown(role, stream.next_layer(), std::move(h));
    });
}

} // namespace chat
