#pragma once

// The observer's data: a snapshot of the live tree, taken by asking every supervisor for its
// `supervisor_report`, the counters kept from the supervision event stream, and their
// renderings as JSON (`/tree`) and Prometheus text (`/metrics`). docs/design/observer.md.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include "strata/observe.hpp"
#include "strata/placement_provider.hpp"
#include "strata/supervision_event.hpp"

namespace strata::internal {

/// One supervisor of a snapshot.
struct observed_supervisor {
  /// Filled from its report; `path` is the parent's child path while the report is missing.
  supervisor_report report;
  /// False when it did not answer (`error` says why): its children are unknown.
  bool answered = false;
  std::string error;
  /// Where it runs when that is another OS process: CAF's node id and the process id.
  std::string node;
  uint32_t pid = 0;
  /// Per child of `report.children`: the index of its own observed_supervisor, or -1.
  std::vector<int> nested;
};

/// The whole live tree at one moment (each supervisor's report is consistent in itself;
/// two supervisors are asked one after the other).
struct tree_snapshot {
  std::vector<observed_supervisor> supervisors;
  std::vector<int> roots; // indices into `supervisors`
  caf::node_id local; // this process's node, to tell remote handles apart
};

/// Asks each supervisor, from `roots` down, for its report, waiting at most `timeout` for
/// each. Blocks the calling thread, which must not be one of CAF's. @threadsafe
tree_snapshot take_snapshot(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                            caf::timespan timeout);

/// Counts kept from the supervision events seen since the observer started, by supervisor
/// path (and, for exits, by the reason's kind: its text up to the first ':').
struct event_counters {
  std::map<std::pair<std::string, std::string>, uint64_t> exits;
  std::map<std::string, uint64_t> restarts;
  std::map<std::string, uint64_t> start_failures;
  std::map<std::string, uint64_t> intensity_reached;

  void add(const supervision_event& ev);
};

/// What `/tree` shows: the subtree at supervisor `path` (every root when empty), and of
/// each supervisor's children those from `offset`, at most `limit` of them.
struct tree_query {
  std::string path;
  uint64_t offset = 0;
  uint64_t limit = 1000;
};

/// The `/tree` document, indented by `indent` (-1: on one line); nullopt when `query.path`
/// names no supervisor of the snapshot.
std::optional<std::string> render_tree(const tree_snapshot& tree, const tree_query& query,
                                       int indent = 1);

/// The `/metrics` document, in Prometheus' text exposition format 0.0.4.
/// `nodes`: the messages exchanged with each node (`placement_provider::traffic`).
std::string render_metrics(const tree_snapshot& tree, const event_counters& counters,
                           const std::vector<placement_provider::node_traffic>& nodes = {});

/// Prometheus' escaping of a label value: backslash, double quote and line feed.
std::string escape_label(const std::string& x);

} // namespace strata::internal
