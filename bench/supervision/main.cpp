// bench_supervision: strata's supervisors at work, next to OTP's (bench/erlang/
// strata_bench_sup.erl does the same there). Raw CAF has no supervisors, so no `caf` row.
//
//   bench_supervision --suite=restart-sustained|one-for-all|dynamic-start --n=N [--caf.KEY=V]
//
// - restart-sustained: one worker under one_for_one, crashed N times in a row; each time from
//   the crash message to the restarted worker's first message. Median, 99th percentile, and
//   the median of the last tenth over that of the first (1 is flat).
// - one-for-all: N workers under one_for_all, one crashed; until all N are back (5 rounds).
// - dynamic-start: N children started one by one under simple_one_for_one.
//
// A worker tells the bench it started (its id) from its init, as OTP's worker does from its
// `init/1`, and crashes on request by exiting with an error, as a gen_server's
// `{stop, crash, State}`. Every count is checked.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "strata/strata.hpp"

#include "harness.hpp"

using namespace strata::bench;

namespace {

using started_atom = caf::atom_constant<caf::atom("b_started")>;
using crash_atom = caf::atom_constant<caf::atom("b_crash")>;

// Where workers report their start: the driver actor of the suite that runs (set before any
// supervisor starts).
caf::actor observer;

// Start reports so far, for the main thread's watch on the driver.
std::atomic<long long> reports{0};

caf::behavior worker(caf::event_based_actor* self, int id) {
  reports.fetch_add(1, std::memory_order_relaxed);
  self->send(observer, started_atom::value, id, caf::actor{self});
  return {[self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash")); }};
}

// Each suite is driven by an event-based actor inside the actor system, as OTP's is by a
// process: it crashes workers, receives their start reports and takes the times. A driver on
// a blocking thread would add two thread wake-ups to every measurement, which the Erlang
// side does not pay. The driver writes its results into `out` and then quits; the main
// thread waits for that and reads them.
struct bench_system {
  bench_system() {
    cfg.add_worker("worker", worker);
  }

  ~bench_system() {
    observer = nullptr;
    self.reset();
    sys.reset();
  }

  // Parses the `--caf.*` options and starts the actor system.
  void init(const arguments& args) {
    if (auto err = cfg.parse(args.caf_options())) {
      std::fprintf(stderr, "bad CAF option: %s\n", caf::to_string(err).c_str());
      std::exit(2);
    }
    sys.emplace(cfg);
    self.emplace(sys->actors());
  }

  // Spawns the driver `fun(self, xs...)` as the workers' observer.
  template <class F, class... Ts>
  void drive(F fun, Ts&&... xs) {
    observer = sys->actors().spawn(fun, std::forward<Ts>(xs)...);
    (*self)->monitor(observer);
  }

  // Waits until the driver has quit; fails the run if it quit with an error, or if no worker
  // reported a start for 30 s. (The watch is here: a receive timeout in the driver would
  // arm a CAF timer, and wake CAF's clock thread, on every message.)
  void await_driver() {
    auto seen = reports.load();
    for (bool done = false; !done;) {
      (*self)->receive(
        [&](caf::down_msg& msg) {
          expect(!msg.reason, "the driver finished: " + caf::to_string(msg.reason));
          done = true;
        },
        caf::after(std::chrono::seconds{30}) >>
          [&] {
            expect(reports.load() != seen, "a worker reported its start within 30 s");
            seen = reports.load();
          });
    }
  }

  caf::actor start(const std::string& name, strata::supervisor_spec spec) {
    auto sup = sys->start_supervisor(name, std::move(spec));
    expect(static_cast<bool>(sup), "the supervisor started");
    return *sup;
  }

  strata::config cfg;
  std::optional<strata::system> sys;
  std::optional<caf::scoped_actor> self;
};

double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  return xs[i];
}

strata::supervisor_spec flags(strata::strategy how) {
  strata::supervisor_spec spec;
  spec.strategy = how;
  spec.intensity = 1000000000; // never give up: the bench crashes on purpose
  spec.period = std::chrono::seconds{1};
  return spec;
}

// -- restart-sustained ----------------------------------------------------------------------

struct sustained_results {
  std::vector<double> us;
  caf::actor last;
};

struct sustained_state {
  caf::actor child;
  clock::time_point start;
};

// Crashes the worker as soon as it reports its start, `n` times.
caf::behavior sustained_driver(caf::stateful_actor<sustained_state>* self, long long n,
                               std::shared_ptr<sustained_results> out) {
  out->us.reserve(static_cast<size_t>(n));
  return {
    [self, n, out](started_atom, int, caf::actor& hdl) {
      auto& st = self->state;
      if (st.child) {
        out->us.push_back(seconds_since(st.start) * 1e6);
        expect(hdl != st.child, "the worker was restarted");
        if (static_cast<long long>(out->us.size()) == n) {
          out->last = hdl;
          self->quit();
          return;
        }
      }
      st.child = std::move(hdl);
      st.start = clock::now();
      self->send(st.child, crash_atom::value);
    },
  };
}

void restart_sustained(const arguments& args, long long n) {
  bench_system b;
  b.init(args);
  auto out = std::make_shared<sustained_results>();
  b.drive(sustained_driver, n, out);
  auto spec = flags(strata::strategy::one_for_one);
  spec.children = {strata::child_spec{"w", strata::start("worker", 0)}};
  auto sup = b.start("bench", spec);
  b.await_driver();
  auto& us = out->us;
  auto children = strata::which_children(sup);
  expect(children && children->size() == 1 && children->front().handle == out->last
           && children->front().restarts == static_cast<uint64_t>(n),
         "the supervisor counts " + std::to_string(n) + " restarts");
  auto tenth = std::max<size_t>(1, us.size() / 10);
  std::vector<double> first(us.begin(), us.begin() + static_cast<long>(tenth));
  std::vector<double> last(us.end() - static_cast<long>(tenth), us.end());
  emit("restart-sustained", "strata", "crash to restarted, median", "us", percentile(us, 0.5),
       true);
  emit("restart-sustained", "strata", "crash to restarted, 99th percentile", "us",
       percentile(us, 0.99), true);
  emit("restart-sustained", "strata", "last tenth over first tenth (flat: 1)", "x",
       percentile(last, 0.5) / percentile(first, 0.5), true);
}

// -- one-for-all ----------------------------------------------------------------------------

constexpr int one_for_all_rounds = 5;

struct one_for_all_state {
  caf::actor victim; // the worker crashed each round: the middle one
  std::vector<bool> seen; // by id, in this round
  long long reported = 0; // in this round
  int round = -1; // -1: the first start
  clock::time_point start;
};

// Waits for all `n` workers, then 5 times: crashes the middle one and waits until each has
// reported its restart once. It keeps the handle of that one only, as OTP's driver keeps no
// pid but looks its victim up: a CAF handle keeps the actor's memory, so holding all of them
// would have the driver free the last generation's actors, which the supervisor frees
// otherwise, as OTP's garbage collector does.
caf::behavior one_for_all_driver(caf::stateful_actor<one_for_all_state>* self, long long n,
                                 std::shared_ptr<std::vector<double>> ms) {
  auto& st = self->state;
  st.seen.assign(static_cast<size_t>(n), false);
  return {
    [self, n, ms](started_atom, int id, caf::actor& hdl) {
      auto& st = self->state;
      expect(id >= 0 && id < n && !st.seen[static_cast<size_t>(id)],
             "each worker (re)started once");
      st.seen[static_cast<size_t>(id)] = true;
      if (id == n / 2)
        st.victim = std::move(hdl);
      if (++st.reported < n)
        return;
      if (st.round >= 0)
        ms->push_back(seconds_since(st.start) * 1e3);
      if (++st.round == one_for_all_rounds) {
        self->quit();
        return;
      }
      st.reported = 0;
      st.seen.assign(static_cast<size_t>(n), false);
      st.start = clock::now();
      self->send(st.victim, crash_atom::value);
    },
  };
}

void one_for_all(const arguments& args, long long n) {
  bench_system b;
  b.init(args);
  auto ms = std::make_shared<std::vector<double>>();
  b.drive(one_for_all_driver, n, ms);
  auto spec = flags(strata::strategy::one_for_all);
  for (long long i = 0; i < n; ++i)
    spec.children.push_back(
      strata::child_spec{"w" + std::to_string(i), strata::start("worker", static_cast<int>(i))});
  auto sup = b.start("bench", spec);
  b.await_driver();
  auto children = strata::which_children(sup);
  expect(children && static_cast<long long>(children->size()) == n
           && static_cast<int>(ms->size()) == one_for_all_rounds,
         "every worker is running after 5 rounds");
  emit("one-for-all", "strata", "restart of all children", "ms", percentile(*ms, 0.5), true, n);
}

// -- dynamic-start --------------------------------------------------------------------------

struct dynamic_state {
  long long started = 0;
  long long reported = 0;
  clock::time_point start;
};

// Starts the next child, or takes the time once all `n` were started (and quits once all
// reported too).
void start_next(caf::stateful_actor<dynamic_state>* self, const caf::actor& sup, long long n,
                const std::shared_ptr<double>& us) {
  auto& st = self->state;
  if (st.started == n) {
    *us = seconds_since(st.start) * 1e6 / static_cast<double>(n);
    if (st.reported == n)
      self->quit();
    return;
  }
  auto i = static_cast<int>(st.started);
  self->request(sup, caf::infinite, strata::start_child_atom::value, caf::make_message(i))
    .then(
      [self, sup, n, us](const caf::actor&) {
        ++self->state.started;
        start_next(self, sup, n, us);
      },
      [self](caf::error& err) { self->quit(err); });
}

// Once given the supervisor, starts `n` children one by one, each after the supervisor
// answered the last, as a gen_server calling supervisor:start_child/2 does; then waits for
// their start reports. The supervisor comes as a message, not as an argument: the driver
// is the workers' `observer`, which must be set before any worker starts (drive() sets it
// once the driver is spawned: a driver that started children from its init raced with
// that, and the reports of the workers started meanwhile went nowhere).
caf::behavior dynamic_driver(caf::stateful_actor<dynamic_state>* self, long long n,
                             std::shared_ptr<double> us) {
  return {
    [self, n, us](const caf::actor& sup) {
      self->state.start = clock::now();
      start_next(self, sup, n, us);
    },
    [self, n](started_atom, int, const caf::actor&) {
      auto& st = self->state;
      if (++st.reported == n && st.started == n)
        self->quit();
    },
  };
}

void dynamic_start(const arguments& args, long long n) {
  bench_system b;
  b.init(args);
  auto spec = flags(strata::strategy::simple_one_for_one);
  spec.children = {strata::child_spec{"w", strata::start("worker")}};
  auto sup = b.start("bench", spec);
  auto us = std::make_shared<double>(0);
  b.drive(dynamic_driver, n, us);
  (*b.self)->send(observer, sup);
  b.await_driver();
  auto counts = strata::count_children(sup);
  expect(counts && static_cast<long long>(counts->active) == n, "every dynamic child runs");
  emit("dynamic-start", "strata", "time per child", "us", *us, true, n);
}

} // namespace

int main(int argc, char** argv) {
  arguments args{argc, argv};
  auto suite = args.text("suite", "restart-sustained");
  auto n = args.number("n", 1000);
  if (n < 1) {
    std::fprintf(stderr, "--n must be at least 1\n");
    return 2;
  }
  if (suite == "restart-sustained")
    restart_sustained(args, n);
  else if (suite == "one-for-all")
    one_for_all(args, n);
  else if (suite == "dynamic-start")
    dynamic_start(args, n);
  else {
    std::fprintf(stderr, "unknown suite '%s'\n", suite.c_str());
    return 2;
  }
  return 0;
}
