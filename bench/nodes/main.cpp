// bench_nodes: `process` placement measured next to CAF's own TCP remote actors, in one run.
//
//   bench_nodes [--runs=N] [--round-trips=N] [--messages=N] [--tcp-messages=N]
//               [--restarts=N] [--json=FILE]
//   bench_nodes --suite=isolation [--runs=N] [--round-trips=N] [--restarts=N]
//               [--start-children=N] [--process-children=N] [--json=FILE]
//
// The first form (`--suite=cross-process`, the default) measures:
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
// Both actor transports run with the same scheduler settings (`scheduler.policy=sharing`, 2
// threads): strata's in a strata system, caf-tcp in plain CAF systems at both ends, raw CAF
// as Debian ships it. Every run checks its result (sums, counts). Prints
// one table line per measurement and, with --json, appends one JSON object per line.
// The second measures the isolation-cost table of `task`, `thread` and `process` placement
// instead (isolation.hpp).
// A benchmark, never a test: it does not fail on numbers.

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "strata/strata.hpp"

#include "boost_mq.hpp"
#include "common.hpp"
#include "isolation.hpp"

namespace {

using namespace strata::bench;

struct options {
  int runs = 5;
  int round_trips = 10'000;
  int messages = 1'000'000;
  int tcp_messages = 200'000; // CAF TCP has no backpressure: memory grows with the backlog
  int restarts = 200;
  int start_children = 200;
  int process_children = 20;
  std::string suite = "cross-process";
  std::string json;
};

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
    else if (auto v = value("--start-children="))
      opts.start_children = std::max(1, std::atoi(v));
    else if (auto v = value("--process-children="))
      opts.process_children = std::max(1, std::atoi(v));
    else if (auto v = value("--suite="))
      opts.suite = v;
    else if (auto v = value("--json="))
      opts.json = v;
    else
      opts.suite.clear(); // a usage error
  }
  if (opts.suite != "cross-process" && opts.suite != "isolation") {
    std::fprintf(stderr, "usage: bench_nodes [--suite=cross-process] [--runs=N] [--round-trips=N] "
                         "[--messages=N] [--tcp-messages=N] [--restarts=N] [--json=FILE]\n"
                         "       bench_nodes --suite=isolation [--runs=N] [--round-trips=N] "
                         "[--restarts=N] [--start-children=N] [--process-children=N] "
                         "[--json=FILE]\n");
    std::exit(argc == 2 && std::strcmp(argv[1], "--help") == 0 ? 0 : 64);
  }
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (!opts.json.empty())
    open_json(opts.json);
  if (opts.suite == "isolation") {
    strata::bench::isolation_options iso;
    iso.runs = opts.runs;
    iso.round_trips = opts.round_trips;
    iso.restarts = opts.restarts;
    iso.start_children = opts.start_children;
    iso.process_children = opts.process_children;
    return strata::bench::run_isolation(iso);
  }
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
  auto root = start_root(cfg);
  auto& sys = *root;
  // caf-tcp is raw CAF on both ends, as Debian ships it: the peer is a plain CAF process, and
  // this end a plain CAF system too, not strata's (whose scheduler speeds CAF's middleman up
  // as well; docs/design/scheduler.md).
  caf::actor_system_config tcp_cfg;
  tune(tcp_cfg);
  tcp_cfg.load<caf::io::middleman>();
  caf::actor_system tcp_sys{tcp_cfg};
  auto tcp = caf::io::remote_actor(tcp_sys, "127.0.0.1", port);
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
    rt_tcp.push_back(round_trip(tcp_sys, *tcp, std::max(1, opts.round_trips / 5)));
    rt_mq.push_back(mq.round_trip(opts.round_trips));
    tp_shm.push_back(throughput(sys.actors(), shm, opts.messages) / 1e6);
    tp_tcp.push_back(throughput(tcp_sys, *tcp, opts.tcp_messages) / 1e6);
    tp_mq.push_back(mq.throughput(opts.messages) / 1e6);
  }
  report("round-trip", "strata", "request round trip", "us", rt_shm);
  report("round-trip", "caf-tcp", "request round trip", "us", rt_tcp);
  report("round-trip", "boost-mq", "request round trip", "us", rt_mq);
  report("one-way", "strata", "messages per second", "M/s", tp_shm, false);
  report("one-way", "caf-tcp", "messages per second", "M/s", tp_tcp, false);
  report("one-way", "boost-mq", "messages per second", "M/s", tp_mq, false);
  std::printf("ratios: round trip caf-tcp/strata %.1fx, boost-mq/strata %.1fx; throughput "
              "strata/caf-tcp %.1fx, strata/boost-mq %.1fx\n",
              median_of(rt_tcp) / median_of(rt_shm), median_of(rt_mq) / median_of(rt_shm),
              median_of(tp_shm) / median_of(tp_tcp), median_of(tp_shm) / median_of(tp_mq));
  (void)strata::stop(*sup);

  for (auto where :
       {strata::placement::process, strata::placement::task, strata::placement::thread}) {
    std::vector<double> xs;
    std::vector<double> ready;
    for (int r = 0; r < opts.runs; ++r)
      xs.push_back(restart_latency(sys, where, opts.restarts, &ready));
    report("restart", "strata-" + to_string(where), "crash to answering", "us", xs);
    if (!ready.empty())
      report("restart", "strata-" + to_string(where), "crash to spare ready again", "ms", ready);
  }
  ::close(quit_pipe[1]);
  ::waitpid(peer, nullptr, 0);
  return 0;
}
