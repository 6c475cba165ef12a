#pragma once

// bench_nodes --suite=isolation: what each placement (`task`, `thread`, `process`) costs and
// what it buys, measured under a strata supervisor in one run (docs/design/bench.md,
// "The isolation-cost table"):
//
// - start cost: `strata::start_child` of one child until it answered a first request,
//   children started one at a time (a `process` start into a settled cluster, a spare ready);
// - memory per child: the root's resident growth over those children, plus, for `process`,
//   each node's proportional set size (Pss: pages shared with the zygote and the other nodes
//   copy-on-write count in part);
// - round trip: `(add, 1, 2)` requested from a root actor, one at a time;
// - restart latency: a crash to the restarted child answering;
// - blast radius: three siblings under a one_for_one supervisor, one of them crashed by an
//   exception in its handler, and by a real segmentation fault; the siblings (and the
//   supervisor) that died with it are counted.
//
// Start cost, memory and the segmentation fault run in a fresh process per placement and
// run, forked while bench_nodes is still single-threaded: memory is counted from a clean
// start, and a fault that takes the whole process down is seen by the parent (its exit
// status) instead of ending the benchmark.

namespace strata::bench {

struct isolation_options {
  int runs = 5;
  int round_trips = 10'000;
  int restarts = 200;
  /// Children started for the start cost and memory of `task` and `thread`.
  int start_children = 200;
  /// The same for `process` (each one an OS process, a node slot and a shared-memory inbox).
  int process_children = 20;
};

/// Runs the suite and reports its rows (suite `isolation`, systems `strata-task`,
/// `strata-thread`, `strata-process`). Call it while the process is single-threaded: it
/// forks. @returns the process's exit status.
int run_isolation(const isolation_options& opts);

} // namespace strata::bench
