#include "server.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <set>
#include <shared_mutex>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <caf/actor_companion.hpp>
#include <caf/all.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "actors.hpp"
#include "corked_socket.hpp"
#include "posted_frames.hpp"
#include "protocol.hpp"

namespace chat {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Each I/O thread runs an io_context of its own, and a connection lives on one of them: its
// handlers never run concurrently, so it needs no strand, and its sockets and streams have
// that io_context's executor as their type, not Asio's type-erased `any_io_executor` (whose
// copies, one or more per handler, were ~15% of the gateway's CPU under load).
using executor = net::io_context::executor_type;
using socket_type = net::basic_stream_socket<tcp, executor>;
using http_stream = beast::basic_stream<tcp, executor>;

class ws_session;

struct server_state {
  server_state(caf::actor_system& s, server_options o)
    : sys(s), opts(std::move(o)), iocs(std::max(1u, opts.io_threads)) {
    for (auto& ioc : iocs) {
      ioc = std::make_unique<net::io_context>(1);
      work.push_back(net::make_work_guard(*ioc));
    }
    acceptor.emplace(*iocs.front());
  }

  caf::actor_system& sys;
  server_options opts;
  // Destroyed by `server::stop` once its threads are done: that destroys the handlers still
  // pending, and with them the connections they hold (which hold this state).
  std::vector<std::unique_ptr<net::io_context>> iocs; // one per I/O thread
  // Keeps each thread in `run` while its io_context has no connection yet.
  std::vector<net::executor_work_guard<executor>> work;
  size_t next_ioc = 0; // the acceptor's: where the next connection lives
  // Guards posting to `iocs` from other threads (the session actors) against their
  // destruction.
  std::shared_mutex io_mtx;
  bool io_alive = true;
  std::optional<tcp::acceptor> acceptor;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::mutex mtx;
  std::set<std::shared_ptr<ws_session>> live; // open WebSocket connections
};

namespace {

using clock_type = std::chrono::steady_clock;

using reuse_port_option = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Messages an actor handles on an I/O thread before the thread does I/O again.
constexpr size_t io_thread_throughput = 64;

// An I/O thread's CAF execution unit: an actor made runnable on that thread (a session by a
// frame its connection read, a room by a session running here) runs on it, after the
// handler at hand, instead of waking a CAF worker. A frame then goes from the socket through
// its session and room to the members' queues on one thread, with no hand-off; rooms shared
// by connections of several I/O threads run on whichever woke them (CAF runs an actor on one
// thread at a time). Made runnable elsewhere, an actor goes to CAF's scheduler as usual.
//
// Actors keep a pointer to the unit they last ran on and may use it later from any thread
// (a response promise does), so units are never freed: a server takes them from `pool` and
// gives them back when it stops.
class io_unit : public caf::execution_unit {
public:
  explicit io_unit(caf::actor_system* sys) : caf::execution_unit(sys) {
    // nop
  }

  void exec_later(caf::resumable* job) override {
    if (current != this || ioc_ == nullptr || job->subtype() == caf::resumable::io_actor) {
      system().scheduler().enqueue(job);
      return;
    }
    jobs_.push_back(job);
    if (!run_posted_) {
      run_posted_ = true;
      net::post(*ioc_, [this] { run_jobs(); });
    }
  }

  /// The unit of the I/O thread calling, or null.
  static thread_local io_unit* current;

  /// A unit of `sys` not in use by any thread.
  static io_unit* take(caf::actor_system& sys) {
    std::lock_guard<std::mutex> guard{pool_mtx()};
    auto& free = pool()[&sys];
    if (free.empty())
      return new io_unit(&sys); // never freed: see above
    auto* unit = free.back();
    free.pop_back();
    return unit;
  }

  /// Runs `ioc` on the calling thread with this unit; afterwards, hands the actors still
  /// queued here to CAF's scheduler and returns the unit to the pool.
  void run(net::io_context& ioc) {
    ioc_ = &ioc;
    current = this;
    ioc.run();
    current = nullptr;
    ioc_ = nullptr;
    run_posted_ = false;
    for (auto* job : jobs_)
      system().scheduler().enqueue(job);
    jobs_.clear();
    std::lock_guard<std::mutex> guard{pool_mtx()};
    pool()[&system()].push_back(this);
  }

private:
  void run_jobs() {
    run_posted_ = false;
    for (auto n = jobs_.size(); n > 0 && !jobs_.empty(); --n) {
      auto* job = jobs_.front();
      jobs_.pop_front();
      if (job->resume(this, io_thread_throughput) == caf::resumable::resume_later)
        jobs_.push_back(job);
      else
        intrusive_ptr_release(job); // done or waiting: the reference taken when scheduled
    }
    if (!jobs_.empty() && !run_posted_) {
      run_posted_ = true;
      net::post(*ioc_, [this] { run_jobs(); });
    }
  }

  static std::mutex& pool_mtx() {
    static std::mutex mtx;
    return mtx;
  }

  static std::map<caf::actor_system*, std::vector<io_unit*>>& pool() {
    static auto* units = new std::map<caf::actor_system*, std::vector<io_unit*>>;
    return *units;
  }

  net::io_context* ioc_ = nullptr; // while a thread runs it
  std::deque<caf::resumable*> jobs_; // that thread's only
  bool run_posted_ = false;
};

thread_local io_unit* io_unit::current = nullptr;

// Session ids: unique in a cluster of gateways, each process's pid in the high bits and a
// count below them (2^28 sessions per process life), all under 2^53: exact in JavaScript.
// The pid is asked each time: a node is a fork, and would inherit a pid cached here.
uint64_t next_session_id() {
  static std::atomic<uint64_t> count{0};
  auto base = static_cast<uint64_t>(::getpid()) << 28;
  return base | (++count & ((uint64_t{1} << 28) - 1));
}

// Bytes of frames gathered for one write, at most (see `ws_session::send`).
constexpr size_t max_gathered = 64 * 1024;

// How long a connection being closed may take to finish its close handshake.
constexpr auto close_grace = std::chrono::seconds(5);

// The actor a session answers through: an actor companion, not scheduled, whose enqueue
// hands each `(out_atom, frame)` to the connection on the sender's thread (see
// `ws_session::post`). A scheduled actor here cost a mailbox, a wake-up and a run per frame.
caf::actor connection_actor(caf::actor_system& sys, std::weak_ptr<ws_session> conn,
                            std::shared_ptr<server_state> st);

// The text of an `(out_atom, frame)` message.
const std::string& frame_of(const caf::message& msg) {
  return msg.get_as<std::string>(1);
}

} // namespace

/// One WebSocket connection, on one I/O thread: reads frames into its session actor, and
/// writes the frames sent to it, those that arrived together in one write, with a bounded
/// queue behind a client that does not keep up.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(socket_type&& socket, std::shared_ptr<server_state> st)
    : ws_(std::move(socket)), st_(std::move(st)), close_timer_(ws_.get_executor()) {
    // nop
  }

  void run(http::request<http::string_body> req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(max_frame_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  // From any thread, holding `io_mtx` shared (see `connection_actor`): queues `msg`, an
  // `(out_atom, frame)`, for the client. One post to its thread drains every frame that
  // arrives before it runs: under load, a burst of frames costs one handler, not one each.
  // A room's frame is one `caf::message` shared by all its members' queues, never copied.
  void post(caf::message msg) {
    if (inbox_.push(std::move(msg)))
      net::post(ws_.get_executor(), [self = shared_from_this()] { self->drain(); });
  }

  // After the Asio threads stopped: ends the actors of a connection that did not close.
  void abandon() {
    ended_ = true;
    end_actors();
  }

  // From any thread: close with `code` once the queued frames are written.
  void post_close(uint16_t code) {
    std::shared_lock<std::shared_mutex> guard{st_->io_mtx};
    if (!st_->io_alive)
      return;
    net::post(ws_.get_executor(), [self = shared_from_this(), code] { self->close(code); });
  }

private:
  void on_accept(beast::error_code ec) {
    if (ec)
      return;
    {
      std::lock_guard<std::mutex> guard{st_->mtx};
      if (st_->stopping)
        return;
      st_->live.insert(shared_from_this());
    }
    auto& actors = st_->sys;
    connection_ = connection_actor(actors, std::weak_ptr<ws_session>{shared_from_this()}, st_);
    auto id = next_session_id();
    if (st_->opts.session_threads)
      session_ = actors.spawn<caf::detached>(chat::session, id, connection_);
    else
      session_ = actors.spawn(chat::session, id, connection_);
    tokens_ = st_->opts.burst;
    last_ = clock_type::now();
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {
      // Closed by the client, timed out, or a frame over the limit (Beast has then sent
      // close code 1009 itself).
      gone();
      return;
    }
    if (!ws_.got_text()) {
      send(error({"bad_frame", "only text frames carry requests"}));
    } else if (!admit()) {
      send(error({"rate_limited", "too many frames; this one was dropped"}));
      if (refused_ >= static_cast<double>(st_->opts.abuse_limit)) {
        close(close_policy);
        buffer_.consume(buffer_.size());
        return;
      }
    } else {
      // With this thread's unit: the session runs here (`io_unit`).
      session_->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                                  in_atom::value,
                                                  beast::buffers_to_string(buffer_.data())),
                        io_unit::current);
    }
    buffer_.consume(buffer_.size());
    do_read();
  }

  // Token bucket: `rate` frames a second on average, `burst` at once. The refused frames pile
  // up in `refused_`, which drains at `rate` a second too: a client that keeps sending at over
  // twice its rate reaches `abuse_limit` and is closed, one that overshoots now and then is
  // not. (Counting refusals in a row instead, each frame the refill admits would start the
  // count again, and a flood below `rate * abuse_limit` frames a second would never be closed:
  // a loaded machine's slow flood, in the tests.)
  bool admit() {
    auto now = clock_type::now();
    auto refill = st_->opts.rate * std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(st_->opts.burst, tokens_ + refill);
    refused_ = std::max(0.0, refused_ - refill);
    if (tokens_ < 1) {
      refused_ += 1;
      return false;
    }
    tokens_ -= 1;
    return true;
  }

  // On the connection's thread: the frames posted since the last drain, in the order posted,
  // leave in one write (the socket is corked meanwhile).
  // Past `max_outbound` posted frames not drained yet, the connection's thread lags that far
  // behind: closed as a slow consumer is.
  void drain() {
    if (!inbox_.take(draining_)) {
      if (can_send())
        close_lagging();
      return;
    }
    auto& out = ws_.next_layer();
    out.cork();
    for (auto& msg : draining_)
      send(std::move(msg));
    draining_.clear();
    out.uncork();
  }

  void send(std::string frame) {
    send(caf::make_message(out_atom::value, std::move(frame)));
  }

  // Appends the frame to the socket's gathered bytes, or queues it while those are over
  // `max_gathered` (the client reads slower than it is sent to): past `max_outbound` queued,
  // a slow consumer is closed, not left to grow, and never slows a room. The close frame
  // follows what was gathered; if the client does not read even that, the socket is closed
  // after `close_grace`.
  void send(caf::message frame) {
    if (!can_send())
      return;
    if (waiting_ || !outq_.empty()) {
      if (outq_.size() >= st_->opts.max_outbound) {
        close_lagging();
        return;
      }
      outq_.push_back(std::move(frame));
      return;
    }
    put(frame_of(frame));
    if (ws_.next_layer().buffered() >= max_gathered)
      wait_for_kernel();
  }

  // A complete text frame of `text`, written past Beast's stream: Beast writes one message
  // per operation, and a write operation per frame was the largest user-space cost left in a
  // profile under load. Its own frame encoder makes the header (unmasked, as a server's
  // frames are; permessage-deflate is never offered, so no frame is compressed). Beast's own
  // frames (the handshake's answer, pongs, the close frame) come whole through the same
  // socket, so nothing interleaves within a frame.
  void put(const std::string& text) {
    websocket::detail::frame_header fh;
    fh.op = websocket::detail::opcode::text;
    fh.fin = true;
    fh.mask = false;
    fh.rsv1 = false;
    fh.rsv2 = false;
    fh.rsv3 = false;
    fh.len = text.size();
    fh.key = 0;
    websocket::detail::fh_buffer header;
    websocket::detail::write(header, fh);
    ws_.next_layer().append(header.data(), net::buffer(text));
  }

  void wait_for_kernel() {
    waiting_ = true;
    ws_.next_layer().async_flush([self = shared_from_this()](beast::error_code ec) {
      self->waiting_ = false;
      if (ec) {
        self->gone();
        return;
      }
      auto& out = self->ws_.next_layer();
      out.cork();
      while (!self->outq_.empty() && out.buffered() < max_gathered) {
        self->put(frame_of(self->outq_.front()));
        self->outq_.pop_front();
      }
      out.uncork();
      if (out.buffered() >= max_gathered)
        self->wait_for_kernel();
      else if (self->close_code_)
        self->do_close();
    });
  }

  // Not after a close frame: ours (`close`), or Beast's answer to the client's.
  bool can_send() const {
    return !closing_ && !ended_ && !close_code_ && ws_.is_open();
  }

  // The client, or the connection's thread before it, lags `max_outbound` frames behind:
  // what waits is dropped and the connection closed as a slow consumer (1008).
  void close_lagging() {
    outq_.clear();
    close(close_policy);
  }

  void close(uint16_t code) {
    if (closing_ || close_code_)
      return;
    close_code_ = code;
    close_timer_.expires_after(close_grace);
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->ended_) {
        // The close handshake did not finish: the client is gone or does not read.
        beast::get_lowest_layer(self->ws_).close(ec);
        self->gone();
      }
    });
    if (!waiting_)
      do_close();
  }

  void do_close() {
    closing_ = true;
    ws_.async_close(websocket::close_reason{close_code_},
                    [self = shared_from_this()](beast::error_code) { self->gone(); });
  }

  // The connection is over: its actors end, rooms announce the departure.
  void gone() {
    if (ended_)
      return;
    ended_ = true;
    close_timer_.cancel();
    end_actors();
    std::lock_guard<std::mutex> guard{st_->mtx};
    st_->live.erase(shared_from_this());
  }

  void end_actors() {
    if (session_)
      caf::anon_send_exit(session_, caf::exit_reason::user_shutdown);
    if (connection_) {
      // Terminated, not just left: its handle may live on (in a room, or in the registry of
      // a node it was sent to), and an actor that ends with its last reference would run its
      // cleanup whenever that goes, the actor system's shutdown included.
      auto c = caf::actor_cast<caf::actor_companion*>(connection_);
      caf::scoped_execution_unit host{&c->system()};
      c->cleanup(caf::exit_reason::user_shutdown, &host);
    }
  }

  // On a bare socket, not a beast::tcp_stream: the WebSocket stream has timeouts of its own
  // (`run`), and tcp_stream's timer bookkeeping would be paid on every read and write. The
  // socket gathers the frames of a burst into one write (`drain`).
  websocket::stream<corked_socket<socket_type>> ws_;
  std::shared_ptr<server_state> st_;
  beast::flat_buffer buffer_;
  std::deque<caf::message> outq_; // (out_atom, frame): waiting for room in the gathered bytes
  posted_frames inbox_{st_->opts.max_outbound}; // posted from any thread, not drained yet
  std::vector<caf::message> draining_; // the connection's thread only
  bool waiting_ = false; // for the kernel to take gathered bytes (`wait_for_kernel`)
  bool closing_ = false;
  bool ended_ = false;
  uint16_t close_code_ = 0;
  caf::actor connection_;
  caf::actor session_;
  net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
                            executor>
    close_timer_;
  double tokens_ = 0;
  clock_type::time_point last_;
  double refused_ = 0; // refused frames, draining at `rate` a second (`admit`)
};

namespace {

caf::actor connection_actor(caf::actor_system& sys, std::weak_ptr<ws_session> conn,
                            std::shared_ptr<server_state> st) {
  // Hidden: not counted among the system's running actors; the connection terminates it when
  // it ends (`end_actors`), and the last reference frees it.
  auto handle = sys.spawn<caf::actor_companion, caf::hidden>();
  caf::actor_cast<caf::actor_companion*>(handle)->on_enqueue(
    [conn = std::move(conn), st = std::move(st)](caf::mailbox_element_ptr ptr) {
      auto msg = ptr->move_content_to_message();
      if (!msg.match_elements<out_atom, std::string>())
        return;
      // Under the lock that `server::stop` takes before it destroys the io_context: the
      // connection may die here, with our reference the last, and its destructor needs the
      // io_context's services.
      std::shared_lock<std::shared_mutex> guard{st->io_mtx};
      if (!st->io_alive)
        return; // the server has stopped
      if (auto c = conn.lock())
        c->post(std::move(msg));
    });
  return handle;
}

/// One HTTP connection: serves the page, or hands a `/ws` upgrade to a ws_session.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(socket_type&& socket, std::shared_ptr<server_state> st)
    : stream_(std::move(socket)), st_(std::move(st)) {
    // nop
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec)
      return; // closed, timed out or not HTTP
    if (websocket::is_upgrade(req_)) {
      if (req_.target() == "/ws") {
        stream_.expires_never();
        std::make_shared<ws_session>(stream_.release_socket(), st_)->run(std::move(req_));
        return;
      }
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(req_.version());
    res->keep_alive(req_.keep_alive());
    res->set(http::field::server, "strata chat gateway");
    if (req_.method() == http::verb::get && req_.target() == "/") {
      res->result(http::status::ok);
      res->set(http::field::content_type, "text/html; charset=utf-8");
      res->body() = page();
    } else {
      res->result(http::status::not_found);
      res->set(http::field::content_type, "text/plain");
      res->body() = "not found\n";
    }
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (!ec && res->keep_alive())
                          self->do_read();
                        else
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
                      });
  }

  http_stream stream_;
  std::shared_ptr<server_state> st_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
};

void do_accept(const std::shared_ptr<server_state>& st) {
  auto& ioc = *st->iocs[st->next_ioc++ % st->iocs.size()];
  st->acceptor->async_accept(ioc, [st](beast::error_code ec, socket_type socket) {
    if (ec)
      return; // the acceptor was closed
    // Frames are small and each is due now: without this, Nagle's
    // algorithm holds one back until the client's delayed ACK
    // (40 ms on Linux).
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<http_session>(std::move(socket), st)->run();
    do_accept(st);
  });
}

} // namespace

server::server(caf::actor_system& sys, server_options opts)
  : state_(std::make_shared<server_state>(sys, std::move(opts))) {
  auto& st = *state_;
  tcp::endpoint ep{net::ip::make_address(st.opts.address), st.opts.port};
  st.acceptor->open(ep.protocol());
  st.acceptor->set_option(net::socket_base::reuse_address(true));
  if (st.opts.reuse_port)
    st.acceptor->set_option(reuse_port_option(true));
  st.acceptor->bind(ep);
  st.acceptor->listen(net::socket_base::max_listen_connections);
  st.port = st.acceptor->local_endpoint().port();
  do_accept(state_);
  for (auto& ioc : st.iocs)
    threads_.emplace_back([ioc = ioc.get(), unit = io_unit::take(st.sys)] {
      // Named for top -H and perf; else they inherit the name of the thread that started them.
      pthread_setname_np(pthread_self(), "chat.io");
      unit->run(*ioc);
    });
}

server::~server() {
  stop();
}

port_reservation::port_reservation(const std::string& address, uint16_t port) {
  net::io_context ioc;
  tcp::endpoint ep{net::ip::make_address(address), port};
  {
    // Without SO_REUSEPORT this bind fails on a port that any socket listens on.
    tcp::acceptor probe{ioc};
    probe.open(ep.protocol());
    probe.set_option(net::socket_base::reuse_address(true));
    probe.bind(ep);
    ep.port(probe.local_endpoint().port());
  }
  tcp::acceptor held{ioc};
  held.open(ep.protocol());
  held.set_option(net::socket_base::reuse_address(true));
  held.set_option(reuse_port_option(true));
  held.bind(ep);
  port_ = ep.port();
  fd_ = held.release();
}

port_reservation::~port_reservation() {
  if (fd_ >= 0)
    ::close(fd_);
}

uint16_t server::port() const {
  return state_->port;
}

size_t server::connections() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->live.size();
}

void server::stop() {
  if (threads_.empty())
    return;
  auto st = state_;
  net::post(*st->iocs.front(), [s = st.get()] {
    beast::error_code ec;
    s->acceptor->close(ec);
  });
  std::vector<std::shared_ptr<ws_session>> open;
  {
    std::lock_guard<std::mutex> guard{st->mtx};
    st->stopping = true;
    open.assign(st->live.begin(), st->live.end());
  }
  for (auto& c : open)
    c->post_close(close_going_away);
  open.clear(); // before the io_context goes: a connection's destructor needs its services
  // Give the close handshakes a moment, then stop whatever is left.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  st->work.clear();
  for (auto& ioc : st->iocs)
    ioc->stop();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  std::set<std::shared_ptr<ws_session>> left;
  {
    std::lock_guard<std::mutex> guard{st->mtx};
    left.swap(st->live);
  }
  for (auto& c : left)
    c->abandon();
  left.clear();
  {
    std::unique_lock<std::shared_mutex> guard{st->io_mtx};
    st->io_alive = false;
  }
  st->acceptor.reset();
  st->iocs.clear();
}

} // namespace chat
