// chat_loadgen: load on a server of the chat gateway's WebSocket protocol (README, "Chat
// gateway"): strata's chat_gateway, or the Node.js peer in bench/gateway/node. Needs no
// strata: Boost.Beast clients on one or a few Asio threads.
//
//   chat_loadgen --url=ws://127.0.0.1:8080/ws --connections=1000 --rooms=100 --rate=20000
//   chat_loadgen --hold --port=8080 --connections=10000
//
// Load: N connections (opened at --ramp a second), each says hello with a nick of its own
// and joins room i % R; then --rate say frames a second in all (each connection its share,
// evenly spaced: every connection stays under the gateway's 50 frames/s limit) for --warmup
// plus --duration seconds. A say's text starts with the steady clock's nanoseconds when it
// was sent, so every member that receives the `message` knows its end-to-end latency. Over
// the --duration window: say frames sent, `message` frames delivered (received by any
// client) per second against those the sends should make, and latency p50/p99/p99.9.
// --rate=A,B,C runs steps, one after the other on the same connections, and stops after the
// first that misses the objective (p99 at most --slo-p99 ms, at least --slo-delivered % of
// the messages delivered): the server is saturated. A step in which the server falls far
// behind or starts refusing (closes, errors) is cut short; what it did then is reported,
// not counted as a failure of the run. The highest step within the objective is the
// sustained rate.
//
// Hold (--hold): N connections say hello and join, then each pings every --ping-every
// seconds for --duration seconds.
//
// Both end with every connection pinging once: a connection is held if it is open, never
// closed and answers within 30 s. A connection that fails to open, or closes, or an error
// frame before the server saturated: said on stderr, and the exit status is 1. (No step
// within the objective is a result: a sustained rate of 0.)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "histogram.hpp"
#include "scan.hpp"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using strata::bench::latency_histogram;

constexpr const char* usage = R"(usage: chat_loadgen [options]

  --url=ws://HOST:PORT/PATH   the server (or --host=127.0.0.1 --port=8080 --path=/ws)
  --connections=N      connections (1000)
  --rooms=R            rooms; connection i joins room i % R (N / 10)
  --rate=M[,M2,...]    say frames a second over all connections, a step per value
                       (10 x N; each connection sends M / N a second, at most 50)
  --duration=S         seconds measured per step (10); with --hold, seconds held
  --warmup=S           seconds of load before each step's measurement (2)
  --ramp=C             connections opened a second (2000)
  --threads=T          Asio threads, each with its share of the connections (1)
  --size=B             bytes of each say's text (64)
  --hold               hold the connections: hello, join, a ping every --ping-every s
  --ping-every=S       (with --hold) seconds between a connection's pings (10)
  --slo-p99=MS         the objective of a step: p99 latency at most MS (100) ...
  --slo-delivered=P    ... and at least P% of the messages delivered (99)
  --server-pid=PID     report the server's resident memory (/proc/PID/status)
  --json               JSON lines for scripts/bench.sh on stdout, the summary on stderr
  --system=NAME        the system column of the JSON lines (server)
  --suite=NAME         the suite of the JSON lines (gateway)
)";

[[noreturn]] void bad(const std::string& what) {
  std::fprintf(stderr, "chat_loadgen: %s (see --help)\n", what.c_str());
  std::exit(2);
}

struct options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string path = "/ws";
  size_t connections = 1000;
  size_t rooms = 0;
  std::vector<double> rates;
  double duration = 10;
  double warmup = 2;
  double ramp = 2000;
  unsigned threads = 1;
  size_t text_bytes = 64;
  bool hold = false;
  double ping_every = 10;
  double slo_p99_ms = 100;
  double slo_delivered = 99;
  long server_pid = 0;
  bool json = false;
  std::string system = "server";
  std::string suite = "gateway";
};

double number(const std::string& key, const std::string& value, double lo, double hi) {
  char* end = nullptr;
  auto x = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(x >= lo && x <= hi))
    bad("--" + key + " wants a number from " + std::to_string(lo) + " to " + std::to_string(hi)
        + ", not '" + value + "'");
  return x;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0)
      bad("unexpected argument '" + arg + "'");
    auto eq = arg.find('=');
    auto key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto value = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    if (key == "hold" && eq == std::string::npos)
      o.hold = true;
    else if (key == "json" && eq == std::string::npos)
      o.json = true;
    else if (eq == std::string::npos)
      bad("--" + key + " wants a value");
    else if (key == "url") {
      // ws://HOST[:PORT][/PATH]
      if (value.rfind("ws://", 0) != 0)
        bad("--url must start with ws://");
      auto rest = value.substr(5);
      auto slash = rest.find('/');
      o.path = slash == std::string::npos ? "/" : rest.substr(slash);
      auto hostport = rest.substr(0, slash);
      auto colon = hostport.rfind(':');
      o.host = hostport.substr(0, colon);
      o.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    } else if (key == "host")
      o.host = value;
    else if (key == "port")
      o.port = std::to_string(static_cast<int>(number(key, value, 1, 65535)));
    else if (key == "path")
      o.path = value;
    else if (key == "connections")
      o.connections = static_cast<size_t>(number(key, value, 1, 1e6));
    else if (key == "rooms")
      o.rooms = static_cast<size_t>(number(key, value, 1, 1e6));
    else if (key == "rate") {
      size_t start = 0;
      while (start <= value.size()) {
        auto comma = value.find(',', start);
        auto part = value.substr(start, comma == std::string::npos ? comma : comma - start);
        o.rates.push_back(number(key, part, 1, 1e8));
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    } else if (key == "duration")
      o.duration = number(key, value, 0.1, 86400);
    else if (key == "warmup")
      o.warmup = number(key, value, 0, 3600);
    else if (key == "ramp")
      o.ramp = number(key, value, 1, 1e6);
    else if (key == "threads")
      o.threads = static_cast<unsigned>(number(key, value, 1, 64));
    else if (key == "size")
      o.text_bytes = static_cast<size_t>(number(key, value, 24, 4000));
    else if (key == "ping-every")
      o.ping_every = number(key, value, 0.1, 3600);
    else if (key == "slo-p99")
      o.slo_p99_ms = number(key, value, 0.001, 1e6);
    else if (key == "slo-delivered")
      o.slo_delivered = number(key, value, 0, 100);
    else if (key == "server-pid")
      o.server_pid = static_cast<long>(number(key, value, 1, 1e9));
    else if (key == "system")
      o.system = value;
    else if (key == "suite")
      o.suite = value;
    else
      bad("unknown option --" + key);
  }
  if (o.rooms == 0)
    o.rooms = std::max<size_t>(1, o.connections / 10);
  if (o.rates.empty())
    o.rates.push_back(10.0 * static_cast<double>(o.connections));
  for (auto r : o.rates)
    if (!o.hold && r / static_cast<double>(o.connections) > 50)
      bad("--rate=" + std::to_string(static_cast<long long>(r))
          + " is over 50 frames/s for each of " + std::to_string(o.connections)
          + " connections: the gateway's rate limit");
  return o;
}

// Raises the soft limit on open files to the hard one: 10,000 connections need 10,000.
void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

uint64_t now_ns(clock_type::time_point t) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// What a shard counts; merged by the main thread once the shard's thread has handed it over.
struct counters {
  uint64_t sent = 0; // say frames sent in the window
  uint64_t expected = 0; // `message` frames those sends should deliver (their rooms' sizes)
  uint64_t delivered = 0; // `message` frames received in the window
  latency_histogram latency;

  void merge(const counters& o) {
    sent += o.sent;
    expected += o.expected;
    delivered += o.delivered;
    latency.merge(o.latency);
  }
};

struct health {
  size_t ready = 0; // said hello, joined, not closed
  size_t failed = 0; // never got that far
  size_t closed = 0; // closed after
  size_t answered = 0; // answered the last ping round
  uint64_t worst_ns = 0; // the highest latency since the step began
  std::map<std::string, uint64_t> problems; // what went wrong, counted

  uint64_t problem_count() const {
    uint64_t n = 0;
    for (auto& kvp : problems)
      n += kvp.second;
    return n;
  }

  void merge(const health& o) {
    ready += o.ready;
    failed += o.failed;
    closed += o.closed;
    answered += o.answered;
    worst_ns = std::max(worst_ns, o.worst_ns);
    for (auto& [what, n] : o.problems)
      problems[what] += n;
  }
};

class shard;

/// One WebSocket connection; every member function runs on its shard's thread.
class client : public std::enable_shared_from_this<client> {
public:
  client(shard& sh, size_t index);

  void start();
  void send(std::string frame);
  bool ready() const {
    return state_ == state::ready;
  }
  size_t index() const {
    return index_;
  }
  const std::string& room() const {
    return room_;
  }
  uint64_t next_id() {
    return ++said_;
  }
  // Pings, and counts the connection as answering once the pong is back.
  void ping_round() {
    awaiting_pong_ = true;
    send(R"({"op":"ping"})");
  }
  bool answered() const {
    return ready() && !awaiting_pong_;
  }

private:
  enum class state { connecting, hello, joining, ready, failed, closed };

  void on_connect(beast::error_code ec);
  void on_handshake(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, size_t);
  void handle(std::string_view frame, clock_type::time_point now);
  void do_write();
  void on_write(beast::error_code ec, size_t);
  void end(const std::string& why);

  shard& sh_;
  size_t index_;
  std::string room_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outq_;
  bool writing_ = false;
  bool awaiting_pong_ = false;
  state state_ = state::connecting;
  uint64_t said_ = 0;
};

/// An io_context on a thread of its own, with every connection i where i % threads is its
/// index. The main thread talks to it only through `call`.
class shard {
public:
  shard(const options& o, tcp::endpoint ep, unsigned index)
    : opts(o), endpoint(ep), index_(index), ticker_(ioc), work_(net::make_work_guard(ioc)) {
    for (size_t i = index; i < o.connections; i += o.threads)
      clients_.push_back(std::make_shared<client>(*this, i));
    for (size_t i = 0; i < o.connections; ++i)
      ++room_size_[i % o.rooms];
    thread_ = std::thread{[this] { ioc.run(); }};
  }

  ~shard() {
    call([this] {
      ticker_.cancel();
      clients_.clear();
      return 0;
    });
    work_.reset();
    ioc.stop();
    thread_.join();
  }

  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  /// From the main thread: runs `f` on this shard's thread and returns its result.
  template <class F>
  auto call(F f) -> decltype(f()) {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    net::post(ioc, [task] { (*task)(); });
    return result.get();
  }

  // -- from the main thread, through `call` -----------------------------------------------

  /// Opens this shard's connections at `per_second`, at most `max_pending` at once.
  void open(double per_second, size_t max_pending) {
    open_rate_ = per_second;
    max_pending_ = max_pending;
    open_start_ = clock_type::now();
    tick();
  }

  /// Sends `rate` frames a second from now until `until` (say frames, or pings if `pings`),
  /// counting from `window` on.
  void load(double rate, clock_type::time_point window, clock_type::time_point until, bool pings) {
    send_rate_ = rate;
    send_start_ = clock_type::now();
    send_until_ = until;
    window_start_ = window;
    window_end_ = until;
    pings_ = pings;
    sent_total_ = 0;
    counters_ = {};
    health_.worst_ns = 0;
  }

  void stop_sending() {
    send_rate_ = 0;
  }

  /// The window's counters, and the shard's from now on empty.
  counters take_counters() {
    return std::exchange(counters_, {});
  }

  void ping_round() {
    for (auto& c : clients_)
      if (c->ready())
        c->ping_round();
  }

  health check() const {
    health h = health_;
    for (auto& c : clients_)
      h.answered += c->answered() ? 1 : 0;
    return h;
  }

  // -- from the clients -------------------------------------------------------------------

  void on_ready() {
    ++health_.ready;
  }

  void on_failed(const std::string& why) {
    ++health_.failed;
    ++health_.problems[why];
    --pending_;
  }

  void on_closed(const std::string& why) {
    --health_.ready;
    ++health_.closed;
    ++health_.problems[why];
  }

  void on_joined() {
    --pending_;
  }

  void on_problem(const std::string& what) {
    ++health_.problems[what];
  }

  void on_message(std::string_view text, clock_type::time_point now) {
    uint64_t sent = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      sent = sent * 10 + static_cast<uint64_t>(text[i] - '0');
    if (i == 0) {
      ++health_.problems["a message without our timestamp"];
      return;
    }
    auto at = now_ns(now);
    auto latency = at > sent ? at - sent : 0;
    health_.worst_ns = std::max(health_.worst_ns, latency);
    if (now < window_start_ || now >= window_end_)
      return;
    ++counters_.delivered;
    counters_.latency.record(latency);
  }

  net::io_context ioc;
  const options& opts;
  tcp::endpoint endpoint;

private:
  void tick() {
    auto now = clock_type::now();
    // Connections, at the ramp's pace.
    if (opened_ < clients_.size()) {
      auto due
        = static_cast<size_t>(open_rate_ * std::chrono::duration<double>(now - open_start_).count())
          + 1;
      while (opened_ < std::min(due, clients_.size()) && pending_ < max_pending_) {
        ++pending_;
        clients_[opened_++]->start();
      }
    }
    // Frames, each connection in turn: one whose turn it is and is not ready loses it, so no
    // other goes over its share.
    if (send_rate_ > 0 && now < send_until_ && !clients_.empty()) {
      auto due = send_rate_ * std::chrono::duration<double>(now - send_start_).count();
      while (static_cast<double>(sent_total_) < due) {
        ++sent_total_;
        auto& c = clients_[next_++ % clients_.size()];
        if (!c->ready())
          continue;
        if (pings_) {
          c->send(R"({"op":"ping"})");
          continue;
        }
        c->send(say(*c, now));
        if (now >= window_start_) {
          ++counters_.sent;
          counters_.expected += room_size_[c->index() % opts.rooms];
        }
      }
    }
    ticker_.expires_after(std::chrono::milliseconds(1));
    ticker_.async_wait([this](beast::error_code ec) {
      if (!ec)
        tick();
    });
  }

  std::string say(client& c, clock_type::time_point now) {
    auto ts = std::to_string(now_ns(now));
    ts.resize(std::max(ts.size(), opts.text_bytes), 'x');
    std::string frame;
    frame.reserve(ts.size() + 64);
    frame += R"({"op":"say","room":")";
    frame += c.room();
    frame += R"(","text":")";
    frame += ts;
    frame += R"(","id":)";
    frame += std::to_string(c.next_id());
    frame += '}';
    return frame;
  }

  unsigned index_;
  net::steady_timer ticker_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<std::shared_ptr<client>> clients_;
  std::map<size_t, size_t> room_size_;
  health health_;
  counters counters_;
  // Opening.
  double open_rate_ = 0;
  size_t max_pending_ = 0;
  clock_type::time_point open_start_;
  size_t opened_ = 0;
  size_t pending_ = 0;
  // Sending.
  double send_rate_ = 0;
  bool pings_ = false;
  clock_type::time_point send_start_, send_until_, window_start_, window_end_;
  uint64_t sent_total_ = 0;
  size_t next_ = 0;
};

client::client(shard& sh, size_t index)
  : sh_(sh), index_(index), room_("r" + std::to_string(index % sh.opts.rooms)), ws_(sh.ioc) {
  // nop
}

void client::start() {
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(ws_).async_connect(
    sh_.endpoint, beast::bind_front_handler(&client::on_connect, shared_from_this()));
}

void client::on_connect(beast::error_code ec) {
  if (ec)
    return end("connect: " + ec.message());
  beast::get_lowest_layer(ws_).expires_never();
  beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws_.async_handshake(sh_.opts.host + ":" + sh_.opts.port, sh_.opts.path,
                      beast::bind_front_handler(&client::on_handshake, shared_from_this()));
}

void client::on_handshake(beast::error_code ec) {
  if (ec)
    return end("handshake: " + ec.message());
  state_ = state::hello;
  ws_.text(true);
  send(R"({"op":"hello","nick":"lg)" + std::to_string(index_) + R"("})");
  do_read();
}

void client::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&client::on_read, shared_from_this()));
}

void client::on_read(beast::error_code ec, size_t) {
  if (ec) {
    if (ec == websocket::error::closed)
      return end("closed by the server with " + std::to_string(ws_.reason().code));
    return end("read: " + ec.message());
  }
  auto data = buffer_.data();
  handle({static_cast<const char*>(data.data()), data.size()}, clock_type::now());
  buffer_.consume(buffer_.size());
  do_read();
}

void client::handle(std::string_view frame, clock_type::time_point now) {
  auto f = strata::bench::scan(frame);
  if (!f.ok) {
    sh_.on_problem("a frame that is not a JSON object");
  } else if (f.op == "message") {
    sh_.on_message(f.text, now);
  } else if (f.op == "presence") {
    // others joining
  } else if (f.op == "pong") {
    awaiting_pong_ = false;
  } else if (f.op == "welcome" && state_ == state::hello) {
    state_ = state::joining;
    send(R"({"op":"join","room":")" + room_ + R"("})");
  } else if (f.op == "joined" && state_ == state::joining) {
    state_ = state::ready;
    sh_.on_ready();
    sh_.on_joined();
  } else if (f.op == "error") {
    auto doc = nlohmann::json::parse(frame, nullptr, false);
    sh_.on_problem("error " + doc.value("code", std::string{"?"}));
  } else {
    sh_.on_problem("unexpected op " + std::string{f.op});
  }
}

void client::send(std::string frame) {
  if (state_ == state::failed || state_ == state::closed)
    return;
  outq_.push_back(std::move(frame));
  if (!writing_)
    do_write();
}

void client::do_write() {
  writing_ = true;
  ws_.async_write(net::buffer(outq_.front()),
                  beast::bind_front_handler(&client::on_write, shared_from_this()));
}

void client::on_write(beast::error_code ec, size_t) {
  writing_ = false;
  if (ec)
    return end("write: " + ec.message());
  outq_.pop_front();
  if (!outq_.empty())
    do_write();
}

void client::end(const std::string& why) {
  if (state_ == state::failed || state_ == state::closed)
    return;
  bool was_ready = state_ == state::ready;
  state_ = was_ready ? state::closed : state::failed;
  outq_.clear();
  if (was_ready)
    sh_.on_closed(why);
  else
    sh_.on_failed(why);
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

// -- the run --------------------------------------------------------------------------------

struct fleet {
  std::vector<std::unique_ptr<shard>> shards;

  health check() {
    health h;
    for (auto& s : shards)
      h.merge(s->call([&] { return s->check(); }));
    return h;
  }
};

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

// Pings on every ready connection and waits up to 30 s for the answers.
health final_check(fleet& f) {
  for (auto& s : f.shards)
    s->call([&] {
      s->ping_round();
      return 0;
    });
  auto deadline = clock_type::now() + std::chrono::seconds(30);
  health h;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    h = f.check();
  } while (h.answered < h.ready && clock_type::now() < deadline);
  return h;
}

// The resident memory of process `pid` in KiB (VmRSS), or -1.
long resident_kib(long pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

clock_type::duration seconds(double s) {
  return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  raise_nofile();
  net::io_context resolver_ctx;
  tcp::resolver resolver{resolver_ctx};
  beast::error_code ec;
  auto found = resolver.resolve(o.host, o.port, ec);
  if (ec || found.empty())
    bad("cannot resolve " + o.host + ":" + o.port + ": " + ec.message());
  auto endpoint = found.begin()->endpoint();
  auto out = o.json ? stderr : stdout;
  auto emit = [&](const std::string& metric, const std::string& unit, double value, bool lower,
                  long long n = 0) {
    if (o.json)
      strata::bench::emit(o.suite, o.system, metric, unit, value, lower, n);
  };
  auto n_text = std::to_string(o.connections);
  auto tag = n_text + " connections, " + std::to_string(o.rooms) + " rooms";
  long rss_before = o.server_pid > 0 ? resident_kib(o.server_pid) : -1;

  fleet f;
  for (unsigned i = 0; i < o.threads; ++i)
    f.shards.push_back(std::make_unique<shard>(o, endpoint, i));

  // Connect, at the ramp's pace, at most 256 handshakes pending at once.
  auto t0 = clock_type::now();
  for (auto& s : f.shards)
    s->call([&] {
      s->open(o.ramp / o.threads, std::max<size_t>(1, 256 / o.threads));
      return 0;
    });
  auto connect_deadline = t0 + std::chrono::seconds(30)
                          + seconds(2.0 * static_cast<double>(o.connections) / o.ramp);
  health h;
  auto last_report = t0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    h = f.check();
    auto now = clock_type::now();
    if (h.ready + h.failed + h.closed >= o.connections || now > connect_deadline)
      break;
    if (now - last_report > std::chrono::seconds(2)) {
      std::fprintf(stderr, "chat_loadgen: %zu of %zu connections ready\n", h.ready, o.connections);
      last_report = now;
    }
  }
  double connect_s = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::fprintf(out, "chat_loadgen: %s:%s%s, %zu of %zu connections ready in %.1f s (%zu failed)\n",
               o.host.c_str(), o.port.c_str(), o.path.c_str(), h.ready, o.connections, connect_s,
               h.failed);
  bool failed = h.ready < o.connections || h.problem_count() > 0;
  // Problems from here on, if a step saturates the server, are the server's answer to more
  // than it can take (see `saturated`), not failures of the run.
  uint64_t problems_before = h.problem_count();
  bool saturated = false;
  double sustained = 0; // delivered msg/s of the highest step within the objective
  double sustained_rate = 0;

  if (o.hold) {
    auto rate = static_cast<double>(o.connections) / o.ping_every / o.threads;
    auto until = clock_type::now() + seconds(o.duration);
    for (auto& s : f.shards)
      s->call([&] {
        s->load(rate, until, until, true);
        return 0;
      });
    std::this_thread::sleep_until(until);
  } else {
    for (size_t step = 0; step < o.rates.size() && !saturated && !failed; ++step) {
      auto rate = o.rates[step];
      auto window = clock_type::now() + seconds(o.warmup);
      auto until = window + seconds(o.duration);
      for (auto& s : f.shards)
        s->call([&] {
          s->load(rate / o.threads, window, until, false);
          return 0;
        });
      // Watch the step: a server that falls far behind (latency over 20 times the objective,
      // and at least 1 s) or starts refusing has its answer; more load only buries it.
      auto give_up = std::max<uint64_t>(1'000'000'000, static_cast<uint64_t>(o.slo_p99_ms * 2e7));
      bool cut = false;
      while (clock_type::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        h = f.check();
        if (h.worst_ns > give_up || h.problem_count() > problems_before
            || h.ready < o.connections) {
          cut = true;
          break;
        }
      }
      for (auto& s : f.shards)
        s->call([&] {
          s->stop_sending();
          return 0;
        });
      counters c;
      for (auto& s : f.shards)
        c.merge(s->call([&] { return s->take_counters(); }));
      auto secs = o.duration;
      auto delivered = static_cast<double>(c.delivered) / secs;
      auto offered = static_cast<double>(c.expected) / secs;
      auto share = offered > 0 ? 100.0 * delivered / offered : 0.0;
      auto p50 = ms(c.latency.quantile(0.50));
      auto p99 = ms(c.latency.quantile(0.99));
      auto p999 = ms(c.latency.quantile(0.999));
      auto rate_n = static_cast<long long>(rate);
      if (cut) {
        saturated = true;
        std::fprintf(out,
                     "chat_loadgen: rate %.0f say/s: cut short, the server fell behind (worst "
                     "latency %.0f ms, %zu of %zu connections open, %llu problems)\n",
                     rate, ms(h.worst_ns), h.ready, o.connections,
                     static_cast<unsigned long long>(h.problem_count() - problems_before));
        break;
      }
      std::fprintf(out,
                   "chat_loadgen: rate %.0f say/s: sent %.0f/s, delivered %.0f msg/s of %.0f "
                   "(%.1f%%), latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms\n",
                   rate, static_cast<double>(c.sent) / secs, delivered, offered, share, p50, p99,
                   p999, ms(c.latency.max()));
      emit("delivered messages per second at n say/s", "k msg/s", delivered / 1e3, false, rate_n);
      emit("latency p50 at n say/s", "ms", p50, true, rate_n);
      emit("latency p99 at n say/s", "ms", p99, true, rate_n);
      emit("latency p99.9 at n say/s", "ms", p999, true, rate_n);
      if (share >= o.slo_delivered && p99 <= o.slo_p99_ms) {
        sustained = delivered;
        sustained_rate = rate;
      } else {
        saturated = true;
      }
    }
    std::fprintf(out,
                 "chat_loadgen: sustained %.0f msg/s delivered (at %.0f say/s; objective: "
                 "p99 <= %.0f ms, >= %.0f%% delivered)%s\n",
                 sustained, sustained_rate, o.slo_p99_ms, o.slo_delivered,
                 saturated || failed ? "" : "; never saturated: offer more");
    emit("sustained delivered messages per second (" + tag + ")", "k msg/s", sustained / 1e3,
         false);
    emit("say frames per second at the sustained rate (" + tag + ")", "say/s", sustained_rate,
         false);
  }

  long rss_loaded = o.server_pid > 0 ? resident_kib(o.server_pid) : -1;
  h = final_check(f);
  std::fprintf(out, "chat_loadgen: %zu of %zu connections held (open, answering a ping)\n",
               h.answered, o.connections);
  emit(std::string{"connections held ("} + (o.hold ? "idle" : "after the load") + ")",
       "connections", static_cast<double>(h.answered), false,
       static_cast<long long>(o.connections));
  if (rss_before > 0 && rss_loaded > 0) {
    auto per = static_cast<double>(rss_loaded - rss_before) / static_cast<double>(o.connections);
    std::fprintf(out,
                 "chat_loadgen: server resident memory %ld KiB, %ld before: %.1f KiB a "
                 "connection\n",
                 rss_loaded, rss_before, per);
    if (o.hold)
      emit("server resident memory per connection (idle)", "KiB", per, true,
           static_cast<long long>(o.connections));
  }
  for (auto& [what, n] : h.problems)
    std::fprintf(stderr, "chat_loadgen: %llu x %s\n", static_cast<unsigned long long>(n),
                 what.c_str());
  if (saturated && h.problem_count() > problems_before)
    std::fprintf(stderr, "chat_loadgen: (the problems came as the server saturated)\n");
  else if (h.problem_count() > 0)
    failed = true;
  if (!saturated && h.answered < o.connections)
    failed = true;
  if (failed)
    std::fprintf(stderr, "chat_loadgen: FAILED: %zu of %zu connections held, %llu problems\n",
                 h.answered, o.connections, static_cast<unsigned long long>(h.problem_count()));
  f.shards.clear();
  return failed ? 1 : 0;
}
