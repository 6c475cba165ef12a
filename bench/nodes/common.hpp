#pragma once

// What bench_nodes' suites share: the target actor every measurement talks to, the scheduler
// settings, reporting, and the measurements that more than one suite makes (round trip,
// one-way throughput, restart latency).

#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "strata/strata.hpp"

namespace strata::bench {

using add_atom = caf::atom_constant<caf::atom("b_add")>;
using count_atom = caf::atom_constant<caf::atom("b_count")>;
using crash_atom = caf::atom_constant<caf::atom("b_crash")>;
using segv_atom = caf::atom_constant<caf::atom("b_segv")>;
using pid_atom = caf::atom_constant<caf::atom("b_pid")>;

/// The remote side of every measurement: sums `(add, a, b)`, counts ints and answers
/// `(count, n)` once it has `n`, reports its pid, throws on `crash` and makes a real
/// segmentation fault (a write through a null pointer) on `segv`.
/// Registered as the worker factory "target" (one unused int argument).
struct target_state {
  int64_t received = 0;
  int64_t expected = -1;
  caf::response_promise done;
};

caf::behavior target(caf::stateful_actor<target_state>* self, int);

/// bench_nodes' scheduler settings, the same in every process: `sharing`, 2 threads.
void tune(caf::actor_system_config& cfg);

/// Starts the bench's strata system from `cfg` (tuned, with the "target" worker and
/// `process` placement installed); exits with status 1 if process placement is unavailable.
std::unique_ptr<strata::system> start_root(strata::config& cfg);

/// Opens `path` for appending the JSON lines of `report`.
void open_json(const std::string& path);

/// Prints one table line and, with a JSON file open, appends `{"suite", "system", "metric",
/// "unit", "median", "min", "max", "runs", "better"}`: the summary of `xs`, one value per run.
void report(const std::string& suite, const std::string& system, const std::string& metric,
            const std::string& unit, std::vector<double> xs, bool lower_is_better = true);

double median_of(std::vector<double> xs);

/// Median microseconds per request, `n` requests `(add, 1, 2)` in sequence from an
/// event-based actor to `remote`. Exits with status 2 if one fails or a sum is wrong.
double round_trip(caf::actor_system& sys, const caf::actor& remote, int n);

/// Messages per second: `n` ints sent one way to `remote`, then the count confirmed by it.
double throughput(caf::actor_system& sys, const caf::actor& remote, int n);

/// A scoped actor subscribed to supervision events.
struct event_waiter {
  explicit event_waiter(caf::actor_system& sys);

  /// Waits for an event of `kind` (of child `child`, if not empty); exits with status 2
  /// after 10 s without one.
  void wait(strata::event_kind kind, const std::string& child = {});

  caf::scoped_actor self;
};

/// The first child of `sup`; exits with status 2 if it has none.
caf::actor child_handle(const caf::actor& sup);

/// The pid of the process `hdl` runs in (a `pid_atom` request).
int pid_of(caf::scoped_actor& self, const caf::actor& hdl);

/// Median microseconds from a crash of the only child of a fresh supervisor (placed `where`)
/// to its successor answering a request from an event-based actor of the root, which sends
/// it on the `restarted` event, over `n` crashes: SIGKILL of a `process` child's node, an
/// exception in a `task` or `thread` child. For `process`, each crash comes once a spare
/// node is ready again, and `spare_ready_ms` (if given) gets the median milliseconds from a
/// crash until it was.
double restart_latency(strata::system& sys, strata::placement where, int n,
                       std::vector<double>* spare_ready_ms = nullptr);

/// Starts supervisor `name` over one "target" child placed `where`; exits with status 2 if
/// it does not start.
caf::actor start_only_child(strata::system& sys, const std::string& name, strata::placement where,
                            uint32_t intensity = 1);

} // namespace strata::bench
