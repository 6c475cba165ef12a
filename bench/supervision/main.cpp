// bench_supervision: strata's supervisors at work, next to OTP's (bench/erlang/
// strata_bench_sup.erl does the same there). Raw CAF has no supervisors, so no `caf` row.
//
//   bench_supervision --suite=restart-sustained|one-for-all|dynamic-start --n=N
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
#include <cstdio>
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

// Where workers report their start: the bench's own actor (set before any supervisor runs).
caf::actor observer;

caf::behavior worker(caf::event_based_actor* self, int id) {
  self->send(observer, started_atom::value, id, caf::actor{self});
  return {[self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash")); }};
}

struct bench_system {
  bench_system() {
    cfg.add_worker("worker", worker);
    sys.emplace(cfg);
    self.emplace(sys->actors());
    observer = caf::actor{*self};
  }

  ~bench_system() {
    observer = nullptr;
    self.reset();
    sys.reset();
  }

  // The next start report: the worker's id and handle; fails the run after 30 s.
  std::pair<int, caf::actor> next_start() {
    std::pair<int, caf::actor> got{-1, nullptr};
    (*self)->receive(
      [&](started_atom, int id, caf::actor& hdl) {
        got = {id, std::move(hdl)};
      },
      caf::after(std::chrono::seconds{30}) >> [] {});
    expect(got.first >= 0, "a worker reported its start within 30 s");
    return got;
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

void restart_sustained(long long n) {
  bench_system b;
  auto spec = flags(strata::strategy::one_for_one);
  spec.children = {strata::child_spec{"w", strata::start("worker", 0)}};
  auto sup = b.start("bench", spec);
  auto child = b.next_start().second;
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  for (long long i = 0; i < n; ++i) {
    auto start = clock::now();
    caf::anon_send(child, crash_atom::value);
    auto next = b.next_start().second;
    us.push_back(seconds_since(start) * 1e6);
    expect(next != child, "the worker was restarted");
    child = std::move(next);
  }
  auto children = strata::which_children(sup);
  expect(children && children->size() == 1 && children->front().handle == child
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

void one_for_all(long long n) {
  bench_system b;
  auto spec = flags(strata::strategy::one_for_all);
  for (long long i = 0; i < n; ++i)
    spec.children.push_back(
      strata::child_spec{"w" + std::to_string(i), strata::start("worker", static_cast<int>(i))});
  auto sup = b.start("bench", spec);
  for (long long i = 0; i < n; ++i)
    b.next_start();
  std::vector<double> ms;
  for (int round = 0; round < 5; ++round) {
    auto children = strata::which_children(sup);
    expect(children && static_cast<long long>(children->size()) == n, "every worker is running");
    auto victim = (*children)[static_cast<size_t>(n / 2)].handle;
    auto start = clock::now();
    caf::anon_send(victim, crash_atom::value);
    std::vector<bool> seen(static_cast<size_t>(n), false);
    for (long long i = 0; i < n; ++i) {
      auto id = b.next_start().first;
      expect(id < n && !seen[static_cast<size_t>(id)], "each worker restarted once");
      seen[static_cast<size_t>(id)] = true;
    }
    ms.push_back(seconds_since(start) * 1e3);
  }
  emit("one-for-all", "strata", "restart of all children", "ms", percentile(ms, 0.5), true, n);
}

void dynamic_start(long long n) {
  bench_system b;
  auto spec = flags(strata::strategy::simple_one_for_one);
  spec.children = {strata::child_spec{"w", strata::start("worker")}};
  auto sup = b.start("bench", spec);
  auto start = clock::now();
  for (long long i = 0; i < n; ++i) {
    auto child = strata::start_child(sup, caf::make_message(static_cast<int>(i)));
    expect(static_cast<bool>(child), "a dynamic child started");
  }
  auto elapsed = seconds_since(start);
  for (long long i = 0; i < n; ++i)
    b.next_start();
  auto counts = strata::count_children(sup);
  expect(counts && static_cast<long long>(counts->active) == n, "every dynamic child runs");
  emit("dynamic-start", "strata", "time per child", "us", elapsed * 1e6 / static_cast<double>(n),
       true, n);
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
    restart_sustained(n);
  else if (suite == "one-for-all")
    one_for_all(n);
  else if (suite == "dynamic-start")
    dynamic_start(n);
  else {
    std::fprintf(stderr, "unknown suite '%s'\n", suite.c_str());
    return 2;
  }
  return 0;
}
