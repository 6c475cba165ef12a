#include "isolation.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <poll.h>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>

#include "strata/nodes/provider.hpp"
#include "strata/strata.hpp"

#include "common.hpp"
#include "harness.hpp"

namespace strata::bench {

namespace {

using clock_type = std::chrono::steady_clock;
using strata::placement;

constexpr placement placements[] = {placement::task, placement::thread, placement::process};

// -- what a trial process tells its parent --------------------------------------------------

enum class record_kind : int32_t {
  start_us = 1, // median time to start one child until it answered
  root_kib = 2, // the trial root's resident growth per child
  node_pss_kib = 3, // mean Pss of a `process` child's node
  armed = 4, // siblings answering just before the fault
  siblings_lost = 5, // siblings that did not answer after the restart
  supervisor_lost = 6, // 1 if the supervisor no longer answered
  done = 7,
};

struct record {
  record_kind kind;
  double value;
};

void put(int fd, record_kind kind, double value) {
  record r{kind, value};
  if (::write(fd, &r, sizeof(r)) != static_cast<ssize_t>(sizeof(r)))
    ::_exit(2);
}

// -- measurements in any strata system ------------------------------------------------------

// A process's proportional set size in KiB (smaps_rollup), or -1 if it cannot be read.
double pss_kib(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/smaps_rollup"};
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "Pss:" && in >> kib)
      return kib;
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

// Whether `hdl` answers `(add, 1, 2)` with 3 within 2 s.
bool answers(caf::scoped_actor& self, const caf::actor& hdl) {
  bool ok = false;
  self->request(hdl, std::chrono::seconds{2}, add_atom::value, 1, 2)
    .receive([&](int sum) { ok = sum == 3; }, [](caf::error&) {});
  return ok;
}

// Waits (untimed by the caller) until the cluster of `cfg` has a spare ready, so that a
// `process` start is measured as the common case, not as the wait for a fork.
void wait_for_spare(const strata::config& cfg) {
  auto give_up = clock_type::now() + std::chrono::seconds{10};
  for (;;) {
    auto st = strata::nodes::status(cfg);
    if (st && !st->spares.empty())
      return;
    if (clock_type::now() > give_up) {
      std::fprintf(stderr, "isolation: no spare node ready within 10 s\n");
      std::exit(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

struct start_result {
  double start_us = 0;
  double root_kib = 0; // per child
  double node_pss_kib = 0; // per child, `process` only
};

// Starts `k` children at `where` under one supervisor, one at a time, each until it answered.
start_result start_cost(strata::system& sys, const strata::config& cfg, placement where, int k) {
  strata::supervisor_spec spec;
  auto sup = sys.start_supervisor("start-" + to_string(where), spec);
  if (!sup)
    std::exit(2);
  caf::scoped_actor self{sys.actors()};
  std::vector<double> us;
  std::vector<int> pids;
  us.reserve(static_cast<size_t>(k));
  pids.reserve(static_cast<size_t>(k));
  auto before = resident_bytes();
  for (int i = 0; i < k; ++i) {
    if (where == placement::process)
      wait_for_spare(cfg);
    strata::child_spec c{"c" + std::to_string(i), strata::start("target", 1)};
    c.placement = where;
    auto start = clock_type::now();
    auto hdl = strata::start_child(*sup, c, std::chrono::seconds{10});
    if (!hdl) {
      std::fprintf(stderr, "isolation: start_child: %s\n", strata::to_text(hdl.error()).c_str());
      std::exit(2);
    }
    pids.push_back(pid_of(self, *hdl));
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  start_result r;
  r.start_us = median_of(us);
  r.root_kib = static_cast<double>(resident_bytes() - before) / 1024.0 / k;
  if (where == placement::process) {
    double sum = 0;
    for (auto pid : pids) {
      auto x = pss_kib(pid);
      if (x < 0) {
        std::fprintf(stderr, "isolation: cannot read the Pss of node %d\n", pid);
        std::exit(2);
      }
      sum += x;
    }
    r.node_pss_kib = sum / k;
  } else if (pids.front() != ::getpid()) {
    std::fprintf(stderr, "WRONG RESULT: a %s child answered from another process\n",
                 to_string(where).c_str());
    std::exit(3);
  }
  (void)strata::stop(*sup);
  return r;
}

enum class fault { exception, segfault };

struct blast_result {
  int siblings_lost = 0;
  int supervisor_lost = 0;
};

// Three siblings at `where` under one_for_one; the first is crashed by `f`. Counts the
// siblings whose handles no longer answer once the crashed one was restarted, and whether
// the supervisor still answers. `armed` hears how many siblings answered before the fault.
blast_result blast(strata::system& sys, placement where, fault f,
                   const std::function<void(int)>& armed) {
  strata::supervisor_spec spec;
  spec.intensity = 10;
  for (auto id : {"s0", "s1", "s2"}) {
    strata::child_spec c{id, strata::start("target", 1)};
    c.placement = where;
    spec.children.push_back(c);
  }
  auto sup = sys.start_supervisor("blast-" + to_string(where), spec);
  if (!sup)
    std::exit(2);
  auto kids = strata::which_children(*sup);
  if (!kids || kids->size() != 3)
    std::exit(2);
  event_waiter events{sys.actors()};
  caf::scoped_actor self{sys.actors()};
  int alive = 0;
  for (size_t i = 1; i < 3; ++i)
    alive += answers(self, (*kids)[i].handle) ? 1 : 0;
  if (alive != 2) {
    std::fprintf(stderr, "WRONG RESULT: only %d of 2 siblings answered before the fault\n", alive);
    std::exit(3);
  }
  if (armed)
    armed(alive);
  if (f == fault::exception)
    caf::anon_send((*kids)[0].handle, crash_atom::value);
  else
    caf::anon_send((*kids)[0].handle, segv_atom::value);
  events.wait(strata::event_kind::restarted, "s0");
  blast_result r;
  for (size_t i = 1; i < 3; ++i)
    r.siblings_lost += answers(self, (*kids)[i].handle) ? 0 : 1;
  r.supervisor_lost = strata::count_children(*sup, std::chrono::seconds{2}) ? 0 : 1;
  (void)strata::stop(*sup, std::chrono::seconds{10});
  return r;
}

// -- the trial process ----------------------------------------------------------------------

// In a fresh process: start cost and memory of `k` children at `where`, then the segfault
// of one of three siblings. Reports to `fd`; may die of the fault itself.
[[noreturn]] void run_trial(placement where, int k, int fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  rlimit no_core{0, 0}; // a crash is the point; its core file is not
  ::setrlimit(RLIMIT_CORE, &no_core);
  strata::config cfg;
  tune(cfg);
  cfg.add_worker("target", target);
  if (where == placement::process) {
    strata::nodes::node_options opts;
    opts.max_nodes = std::max<uint32_t>(opts.max_nodes, static_cast<uint32_t>(k) + 2);
    strata::nodes::install(cfg, opts);
  }
  {
    strata::system sys{cfg};
    if (sys.provider_error()) {
      std::fprintf(stderr, "isolation: process placement unavailable: %s\n",
                   strata::to_text(sys.provider_error()).c_str());
      ::_exit(1);
    }
    auto s = start_cost(sys, cfg, where, k);
    put(fd, record_kind::start_us, s.start_us);
    put(fd, record_kind::root_kib, s.root_kib);
    if (where == placement::process)
      put(fd, record_kind::node_pss_kib, s.node_pss_kib);
    auto b = blast(sys, where, fault::segfault,
                   [fd](int alive) { put(fd, record_kind::armed, alive); });
    put(fd, record_kind::siblings_lost, b.siblings_lost);
    put(fd, record_kind::supervisor_lost, b.supervisor_lost);
    put(fd, record_kind::done, 0);
  }
  ::_exit(0);
}

struct trial_result {
  std::map<record_kind, double> values;
  bool died_of_segfault = false;
};

// Forks a trial and reads what it reports until it ends (at most 120 s).
trial_result trial(placement where, int k) {
  int fds[2];
  if (::pipe(fds) != 0)
    std::exit(1);
  auto pid = ::fork();
  if (pid < 0)
    std::exit(1);
  if (pid == 0) {
    ::close(fds[0]);
    run_trial(where, k, fds[1]);
  }
  ::close(fds[1]);
  trial_result r;
  auto give_up = clock_type::now() + std::chrono::seconds{120};
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - clock_type::now());
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      std::fprintf(stderr, "isolation: the %s trial took over 120 s\n", to_string(where).c_str());
      ::kill(pid, SIGKILL);
      std::exit(2);
    }
    record rec;
    auto got = ::read(fds[0], &rec, sizeof(rec));
    if (got < 0 && errno == EINTR)
      continue;
    if (got != static_cast<ssize_t>(sizeof(rec)))
      break; // the trial ended (or died)
    r.values[rec.kind] = rec.value;
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.died_of_segfault = WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
  auto ended_well = WIFEXITED(status) && WEXITSTATUS(status) == 0
                    && r.values.count(record_kind::done);
  if (!ended_well && !(r.died_of_segfault && r.values.count(record_kind::armed))) {
    std::fprintf(stderr, "isolation: the %s trial failed (status %d)\n", to_string(where).c_str(),
                 status);
    std::exit(2);
  }
  if (r.died_of_segfault) {
    // The whole process went: every sibling that answered before the fault, and the
    // supervisor, with it.
    r.values[record_kind::siblings_lost] = r.values[record_kind::armed];
    r.values[record_kind::supervisor_lost] = 1;
  }
  return r;
}

// A root supervisor's only child at `where`: median request round trip from a root actor.
double child_round_trip(strata::system& sys, placement where, int n) {
  auto sup = start_only_child(sys, "rt-" + to_string(where), where);
  auto x = round_trip(sys.actors(), child_handle(sup), n);
  (void)strata::stop(sup);
  return x;
}

// One row of the table: a metric of one placement, a value per run.
struct row {
  std::string unit;
  std::vector<double> values;
};

using table = std::map<placement, std::map<std::string, row>>;

void add(table& t, placement where, const std::string& metric, const std::string& unit,
         double value) {
  auto& r = t[where][metric];
  r.unit = unit;
  r.values.push_back(value);
}

} // namespace

int run_isolation(const isolation_options& opts) {
  table t;
  // Trials first, while this process is still single-threaded (each is a fork).
  for (int r = 0; r < opts.runs; ++r) {
    for (auto where : placements) {
      auto k = where == placement::process ? opts.process_children : opts.start_children;
      auto x = trial(where, k);
      auto& v = x.values;
      add(t, where, "start a child, until it answers", "us", v[record_kind::start_us]);
      add(t, where, "memory per child (root RSS + node Pss)", "KiB",
          v[record_kind::root_kib] + v[record_kind::node_pss_kib]);
      if (where == placement::process)
        add(t, where, "memory per child: node Pss", "KiB", v[record_kind::node_pss_kib]);
      add(t, where, "siblings lost (of 2), one segfaults", "actors", v[record_kind::siblings_lost]);
      add(t, where, "supervisor lost, one child segfaults", "actors",
          v[record_kind::supervisor_lost]);
      add(t, where, "root process lost, one child segfaults", "processes",
          x.died_of_segfault ? 1 : 0);
    }
  }
  strata::config cfg;
  auto root = start_root(cfg);
  auto& sys = *root;
  for (int r = 0; r < opts.runs; ++r) {
    for (auto where : placements) {
      add(t, where, "request round trip", "us", child_round_trip(sys, where, opts.round_trips));
      add(t, where, "crash to answering", "us", restart_latency(sys, where, opts.restarts));
      auto b = blast(sys, where, fault::exception, {});
      add(t, where, "siblings lost (of 2), one throws", "actors", b.siblings_lost);
      add(t, where, "supervisor lost, one child throws", "actors", b.supervisor_lost);
    }
  }
  std::printf("%-12s %-14s %-22s %12s\n", "suite", "system", "metric", "median");
  for (auto where : placements)
    for (auto& [metric, r] : t[where])
      report("isolation", "strata-" + to_string(where), metric, r.unit, r.values);
  return 0;
}

} // namespace strata::bench
