#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "strata/config.hpp"
#include "strata/nodes/wait_policy.hpp"

namespace strata::nodes {

/// Tuning of `process` placement.
struct node_options {
  /// Node slots of the cluster, the root's included: at most `max_nodes - 1` `process`
  /// children run at once (spares use slots only while no child needs them). Every inbox
  /// holds one ring per slot.
  uint32_t max_nodes = 16;
  /// Bytes per ring (a power of two; see `inbox_options`). Rings take memory only as they
  /// fill.
  uint64_t ring_capacity = uint64_t{1} << 18;
  /// Spare nodes kept ready: processes forked from the zygote that have built their actor
  /// system and transport, took a slot and connected to the root, and wait for a child. A
  /// `process` start (or restart) takes one and only asks it to start the child; a new
  /// spare is made `spare_delay` later. Spares take slots out of `max_nodes` while free
  /// slots last.
  size_t spares = 1;
  /// How long after a spare was taken the next one is started, so that its start-up does not
  /// compete for CPU with the node just put to work.
  std::chrono::milliseconds spare_delay{5};
  /// How long a dead node's memory outlives it, so that the kernel's freeing of it (which
  /// occupies a CPU for milliseconds) comes after its child's restart instead of during it.
  /// See `zygote_options::teardown_delay`; zero frees it as the node dies.
  std::chrono::milliseconds teardown_delay{5};
  /// How long a `process` start may wait for a ready spare, and then for the child's actor
  /// running in that node; then the node is killed and the start fails.
  std::chrono::milliseconds start_timeout{5000};
  /// How often the root asks each node whether it still answers (through the node's actor
  /// system, so a node whose process lives but whose actors cannot run counts as hung). Zero
  /// turns heartbeats off.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// A node that leaves a heartbeat unanswered this long is hung: it is killed (SIGKILL) and
  /// its child's exit reason says so.
  std::chrono::milliseconds heartbeat_timeout{3000};
  /// When the root dies: time its nodes get between SIGTERM and SIGKILL.
  std::chrono::milliseconds grace{2000};
  /// How receive threads and blocked senders wait.
  wait_policy wait;
};

/// Turns on `process` placement for systems built from `cfg`: installs strata::nodes'
/// placement provider and loads `caf::io::middleman` (`load_middleman`: each process needs its own
/// node id; do not load the middleman again yourself). Call it before constructing the
/// `strata::system`, at the start of `main`, before the program starts any thread: the system's
/// constructor forks the zygote that starts every node, and that fork must copy a single-threaded
/// process.
///
/// Each `process` child then runs in a node: an OS process forked from the zygote (the same
/// binary, with `cfg` and its factories as they were when the system started), running its
/// own CAF actor system and that child alone, a worker or a whole subtree, whose handle in
/// the root is a proxy (docs/design/nodes.md). The node ends when its child does. The child's
/// exit reason reaches its supervisor as for any child; if the node dies instead, the reason
/// is `node_down` with how it ended ("killed by signal 9 (SIGKILL)").
///
/// Errors in starting the zygote are reported by `strata::system::provider_error`, and every
/// `process` start then fails with `placement_unavailable`.
void install(strata::config& cfg, node_options options = {});

/// A snapshot of the cluster a root runs (for diagnostics, tools and tests).
struct cluster_status {
  /// The cluster's token in hex: every segment of the cluster is named `strata-<token>-<n>`.
  std::string token;
  /// The zygote's pid.
  pid_t zygote = 0;
  /// The pids of the live nodes running `process` children, by slot (0 for a free slot, the
  /// root's slot 0, and a node known to be dying).
  std::vector<pid_t> nodes;
  /// The pids of the spare nodes ready for a child (up and connected to the root).
  std::vector<pid_t> spares;
};

/// The status of the cluster of the system built from `cfg`. @returns `invalid_argument` if
/// `install` was not called on `cfg` or the system has not started. @threadsafe
[[nodiscard]] caf::expected<cluster_status> status(const strata::config& cfg);

} // namespace strata::nodes
