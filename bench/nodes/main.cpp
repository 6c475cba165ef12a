// bench_nodes: `process` placement measured next to CAF's own TCP remote actors, in one run.
//
//   bench_nodes [--runs=N] [--round-trips=N] [--messages=N] [--tcp-messages=N]
//               [--restarts=N] [--json=FILE]
//
// - round trip: an event-based actor in the root `request`s (add, 1, 2) from an actor in
//   another process, one request at a time: to a `process` child over strata's shared-memory
//   rings (`strata`), and to an actor published by a forked CAF process over loopback TCP
//   (`caf-tcp`, `io::publish` / `io::remote_actor`). Median per run. Next to them, the same
//   work between two plain processes through Boost.Interprocess `message_queue`s, one per
//   direction, each side a blocking loop (`boost-mq`, boost_mq.hpp).
// - one-way throughput: the root actor sends small messages (an int) as fast as it can, the
//   remote actor counts them and answers once it has them all. Messages per second.
// - restart: a `process` child is SIGKILLed; time from the kill to its restarted successor
//   answering a request (median per run). Next to it, a `task` child crashed by an exception
//   and a `thread` child, the same way, for scale.
// Both transports run in the same actor system, with the same scheduler settings
// (`scheduler.policy=sharing`, 2 threads). Every run checks its result (sums, counts). Prints
// one table line per measurement and, with --json, appends one JSON object per line.
// A benchmark, never a test: it does not fail on numbers.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "strata/events.hpp"
#include "strata/nodes/provider.hpp"
#include "strata/strata.hpp"

#include "boost_mq.hpp"

namespace {

using add_atom = caf::atom_constant<caf::atom("b_add")>;
using count_atom = caf::atom_constant<caf::atom("b_count")>;
using crash_atom = caf::atom_constant<caf::atom("b_crash")>;
using pid_atom = caf::atom_constant<caf::atom("b_pid")>;
using clock_type = std::chrono::steady_clock;

struct options {
  int runs = 5;
  int round_trips = 10'000;
  int messages = 1'000'000;
  int tcp_messages = 200'000; // CAF TCP has no backpressure: memory grows with the backlog
  int restarts = 200;
  std::string json;
};

// The remote side of every measurement: sums, counts, reports its pid, crashes on request.
struct target_state {
  int64_t received = 0;
  int64_t expected = -1;
  caf::response_promise done;
};

caf::behavior target(caf::stateful_actor<target_state>* self, int) {
  return {
    [](add_atom, int a, int b) { return a + b; },
    [self](int) {
      if (++self->state.received == self->state.expected)
        self->state.done.deliver(self->state.received);
    },
    [self](count_atom, int64_t expected) -> caf::result<int64_t> {
      self->state.expected = expected;
      if (self->state.received >= expected)
        return self->state.received;
      self->state.done = self->make_response_promise();
      return self->state.done;
    },
    [](pid_atom) { return static_cast<int>(::getpid()); },
    [](crash_atom) -> int { throw std::runtime_error{"crash requested"}; },
  };
}

void tune(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", 2);
}

// -- reporting ------------------------------------------------------------------------------

std::ofstream json_out;

void report(const std::string& suite, const std::string& system, const std::string& metric,
            const std::string& unit, std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto median = xs[xs.size() / 2];
  std::printf("%-12s %-14s %-22s %12.2f %-6s (min %.2f, max %.2f, %zu runs)\n", suite.c_str(),
              system.c_str(), metric.c_str(), median, unit.c_str(), xs.front(), xs.back(),
              xs.size());
  std::fflush(stdout);
  if (json_out.is_open())
    json_out << "{\"suite\":\"" << suite << "\",\"system\":\"" << system << "\",\"metric\":\""
             << metric << "\",\"unit\":\"" << unit << "\",\"median\":" << median
             << ",\"min\":" << xs.front() << ",\"max\":" << xs.back() << ",\"runs\":" << xs.size()
             << "}\n";
}

double median_of(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

// -- measurements ---------------------------------------------------------------------------

// Median microseconds per request, `n` requests in sequence from an event-based actor.
double round_trip(caf::actor_system& sys, const caf::actor& remote, int n) {
  auto samples = std::make_shared<std::vector<double>>();
  samples->reserve(static_cast<size_t>(n));
  caf::scoped_actor self{sys};
  caf::actor observer{self};
  // (An unused argument: CAF 0.17 spawning a function actor with none binds a reference
  // through a null shared_ptr.)
  sys.spawn(
    [=](caf::event_based_actor* client, int) {
      // The step holds itself only weakly; each pending response holds it strongly, so it
      // goes away with the last response (a strong self-reference would leak).
      auto step = std::make_shared<std::function<void(int)>>();
      std::weak_ptr<std::function<void(int)>> weak = step;
      *step = [=](int left) {
        if (left == 0) {
          client->send(observer, true);
          return;
        }
        auto start = clock_type::now();
        client->request(remote, std::chrono::seconds{10}, add_atom::value, 1, 2)
          .then(
            [=, next = weak.lock()](int sum) {
              if (sum != 3) {
                client->send(observer, false);
                return;
              }
              samples->push_back(
                std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
              (*next)(left - 1);
            },
            [=](caf::error&) { client->send(observer, false); });
      };
      (*step)(n);
    },
    0);
  bool ok = false;
  self->receive([&](bool x) { ok = x; });
  if (!ok || samples->size() != static_cast<size_t>(n)) {
    std::fprintf(stderr, "round trip: a request failed or returned a wrong sum\n");
    std::exit(2);
  }
  return median_of(*samples);
}

// Messages per second: `n` ints sent one way, then the count confirmed by the receiver.
double throughput(caf::actor_system& sys, const caf::actor& remote, int n) {
  caf::scoped_actor self{sys};
  caf::actor observer{self};
  // The counter starts from its current value: ask it first.
  int64_t before = 0;
  self->request(remote, std::chrono::seconds{30}, count_atom::value, int64_t{0})
    .receive([&](int64_t x) { before = x; }, [](caf::error&) { std::exit(2); });
  auto start = clock_type::now();
  sys.spawn(
    [=](caf::event_based_actor* sender, int) {
      for (int i = 0; i < n; ++i)
        sender->send(remote, i);
      sender->request(remote, std::chrono::seconds{120}, count_atom::value, before + n)
        .then([=](int64_t got) { sender->send(observer, got); },
              [=](caf::error& err) {
                std::fprintf(stderr, "throughput: %s\n", caf::to_string(err).c_str());
                sender->send(observer, int64_t{-1});
              });
    },
    0);
  int64_t got = -1;
  self->receive([&](int64_t x) { got = x; });
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  if (got != before + n) {
    std::fprintf(stderr, "throughput: the receiver counted %lld of %lld\n",
                 static_cast<long long>(got), static_cast<long long>(before + n));
    std::exit(2);
  }
  return n / secs;
}

// The forked CAF TCP peer: publishes a target on an ephemeral port, writes the port to `fd`
// and runs until its parent closes `quit_fd`.
int run_tcp_peer(int fd, int quit_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  caf::actor_system_config cfg;
  tune(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto t = sys.spawn(target, 0);
  auto port = caf::io::publish(t, 0, "127.0.0.1");
  if (!port)
    return 1;
  uint16_t p = *port;
  if (::write(fd, &p, sizeof(p)) != sizeof(p))
    return 1;
  char c;
  (void)::read(quit_fd, &c, 1);
  caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
  return 0;
}

struct event_waiter {
  explicit event_waiter(caf::actor_system& sys) : self(sys) {
    strata::subscribe(self.ptr());
  }

  void wait(strata::event_kind kind) {
    for (;;) {
      bool done = false;
      self->receive([&](const strata::supervision_event& ev) { done = ev.kind == kind; },
                    caf::after(std::chrono::seconds{10}) >>
                      [] {
                        std::fprintf(stderr, "no supervision event within 10 s\n");
                        std::exit(2);
                      });
      if (done)
        return;
    }
  }

  caf::scoped_actor self;
};

caf::actor child_handle(const caf::actor& sup) {
  auto children = strata::which_children(sup);
  if (!children || children->empty())
    std::exit(2);
  return children->front().handle;
}

int pid_of(caf::scoped_actor& self, const caf::actor& hdl) {
  int pid = 0;
  self->request(hdl, std::chrono::seconds{10}, pid_atom::value)
    .receive([&](int x) { pid = x; }, [](caf::error&) { std::exit(2); });
  return pid;
}

// Median microseconds from a crash of the only child of a fresh supervisor (placed `where`)
// to its successor answering.
double restart_latency(strata::system& sys, strata::placement where, int n) {
  strata::supervisor_spec spec;
  spec.intensity = static_cast<uint32_t>(n) * 10;
  strata::child_spec c{"target", strata::start("target", 1)};
  c.placement = where;
  spec.children = {c};
  auto sup = sys.start_supervisor("bench-" + to_string(where), spec);
  if (!sup)
    std::exit(2);
  event_waiter events{sys.actors()};
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) {
    // Crashes come one at a time into a settled cluster (the zygote has replaced the spare
    // the last restart used): this measures one crash's repair, not a crash storm.
    if (where == strata::placement::process)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    auto hdl = child_handle(*sup);
    auto pid = where == strata::placement::process ? pid_of(events.self, hdl) : 0;
    auto start = clock_type::now();
    if (where == strata::placement::process)
      ::kill(pid, SIGKILL);
    else
      caf::anon_send(hdl, crash_atom::value);
    events.wait(strata::event_kind::restarted);
    auto again = child_handle(*sup);
    (void)pid_of(events.self, again);
    samples.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  (void)strata::stop(*sup);
  return median_of(samples);
}

options parse(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      auto n = std::strlen(name);
      return arg.compare(0, n, name) == 0 ? argv[i] + n : nullptr;
    };
    if (auto v = value("--runs="))
      opts.runs = std::max(1, std::atoi(v));
    else if (auto v = value("--round-trips="))
      opts.round_trips = std::max(1, std::atoi(v));
    else if (auto v = value("--messages="))
      opts.messages = std::max(1, std::atoi(v));
    else if (auto v = value("--tcp-messages="))
      opts.tcp_messages = std::max(1, std::atoi(v));
    else if (auto v = value("--restarts="))
      opts.restarts = std::max(1, std::atoi(v));
    else if (auto v = value("--json="))
      opts.json = v;
    else {
      std::fprintf(stderr, "usage: bench_nodes [--runs=N] [--round-trips=N] [--messages=N] "
                           "[--tcp-messages=N] [--restarts=N] [--json=FILE]\n");
      std::exit(arg == "--help" ? 0 : 64);
    }
  }
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (!opts.json.empty())
    json_out.open(opts.json, std::ios::app);
  // Forks first, while single-threaded: the Boost message_queue peer, the CAF TCP peer, then
  // (in the system's constructor) the zygote.
  strata::bench::mq_peer mq;
  if (!mq.start())
    return 1;
  int port_pipe[2];
  int quit_pipe[2];
  if (::pipe(port_pipe) != 0 || ::pipe(quit_pipe) != 0)
    return 1;
  auto peer = ::fork();
  if (peer == 0) {
    ::close(port_pipe[0]);
    ::close(quit_pipe[1]);
    ::_exit(run_tcp_peer(port_pipe[1], quit_pipe[0]));
  }
  ::close(port_pipe[1]);
  ::close(quit_pipe[0]);
  uint16_t port = 0;
  if (::read(port_pipe[0], &port, sizeof(port)) != sizeof(port)) {
    std::fprintf(stderr, "the CAF TCP peer did not start\n");
    return 1;
  }

  strata::config cfg;
  tune(cfg);
  cfg.add_worker("target", target);
  strata::nodes::install(cfg);
  strata::system sys{cfg};
  if (sys.provider_error()) {
    std::fprintf(stderr, "process placement unavailable: %s\n",
                 strata::to_text(sys.provider_error()).c_str());
    return 1;
  }
  auto tcp = caf::io::remote_actor(sys.actors(), "127.0.0.1", port);
  if (!tcp) {
    std::fprintf(stderr, "remote_actor: %s\n", strata::to_text(tcp.error()).c_str());
    return 1;
  }
  strata::supervisor_spec spec;
  strata::child_spec c{"target", strata::start("target", 1)};
  c.placement = strata::placement::process;
  spec.children = {c};
  auto sup = sys.start_supervisor("bench", spec);
  if (!sup)
    return 1;
  auto shm = child_handle(*sup);

  std::printf("%-12s %-14s %-22s %12s\n", "suite", "system", "metric", "median");
  std::vector<double> rt_shm, rt_tcp, rt_mq, tp_shm, tp_tcp, tp_mq;
  for (int r = 0; r < opts.runs; ++r) {
    rt_shm.push_back(round_trip(sys.actors(), shm, opts.round_trips));
    rt_tcp.push_back(round_trip(sys.actors(), *tcp, std::max(1, opts.round_trips / 5)));
    rt_mq.push_back(mq.round_trip(opts.round_trips));
    tp_shm.push_back(throughput(sys.actors(), shm, opts.messages) / 1e6);
    tp_tcp.push_back(throughput(sys.actors(), *tcp, opts.tcp_messages) / 1e6);
    tp_mq.push_back(mq.throughput(opts.messages) / 1e6);
  }
  report("round-trip", "strata", "request round trip", "us", rt_shm);
  report("round-trip", "caf-tcp", "request round trip", "us", rt_tcp);
  report("round-trip", "boost-mq", "request round trip", "us", rt_mq);
  report("one-way", "strata", "messages per second", "M/s", tp_shm);
  report("one-way", "caf-tcp", "messages per second", "M/s", tp_tcp);
  report("one-way", "boost-mq", "messages per second", "M/s", tp_mq);
  std::printf("ratios: round trip caf-tcp/strata %.1fx, boost-mq/strata %.1fx; throughput "
              "strata/caf-tcp %.1fx, strata/boost-mq %.1fx\n",
              median_of(rt_tcp) / median_of(rt_shm), median_of(rt_mq) / median_of(rt_shm),
              median_of(tp_shm) / median_of(tp_tcp), median_of(tp_shm) / median_of(tp_mq));
  (void)strata::stop(*sup);

  for (auto where :
       {strata::placement::process, strata::placement::task, strata::placement::thread}) {
    std::vector<double> xs;
    for (int r = 0; r < opts.runs; ++r)
      xs.push_back(restart_latency(sys, where, opts.restarts));
    report("restart", "strata-" + to_string(where), "crash to answering", "us", xs);
  }
  ::close(quit_pipe[1]);
  ::waitpid(peer, nullptr, 0);
  return 0;
}
