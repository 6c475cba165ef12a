#pragma once

/// @file
/// What a supervisor tells an observer about itself: the raw material of the observer's
/// `/tree` and `/metrics` (docs/design/observer.md). Any actor may ask a supervisor with
/// `request(sup, timeout, observe_atom::value)`; the answer is a `supervisor_report`.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "strata/child_spec.hpp"
#include "strata/placement.hpp"
#include "strata/supervisor.hpp"

namespace strata {

/// Asks a supervisor for its `supervisor_report`. Answered at once, even while the supervisor
/// is in the middle of a restart or a shutdown (unlike `which_children`, which waits for the
/// operation to end): an observer must see a tree that is busy, and must not wait behind a
/// child that takes its time to stop.
using observe_atom = caf::atom_constant<caf::atom("s_observe")>;

/// One child as its supervisor sees it: what `which_children` reports (`id` as in events:
/// for `simple_one_for_one`, the template's id and `#<n>`), and why it last terminated.
struct child_report : child_info {
  /// `to_text` of the reason it last terminated; empty when it never has.
  std::string last_exit;
  /// Messages waiting in a running worker's mailbox, as the worker counts them while an
  /// observer runs in its process; -1 when unknown (a supervisor, which reports its own; a
  /// `process` child, whose node the observer asks itself; no observer when it started).
  int64_t mailbox = -1;
};

/// A supervisor's view of itself and its children, in start order.
struct supervisor_report {
  /// The supervisor's path from its tree's root, e.g. `"root/rooms"`.
  std::string path;
  /// `to_string` of its strategy.
  std::string strategy;
  /// True once it is stopping its children to exit.
  bool shutting_down = false;
  /// Messages waiting in its mailbox, read by the supervisor itself as it answers.
  uint64_t mailbox = 0;
  std::vector<child_report> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_report& x) {
  return f(caf::meta::type_name("strata::child_report"), x.id, x.handle, x.status, x.type,
           x.placement, x.restarts, x.last_exit, x.mailbox);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_report& x) {
  return f(caf::meta::type_name("strata::supervisor_report"), x.path, x.strategy, x.shutting_down,
           x.mailbox, x.children);
}

} // namespace strata
