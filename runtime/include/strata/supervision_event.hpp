#pragma once

#include <cstdint>
#include <string>

#include <caf/actor_addr.hpp>
#include <caf/meta/type_name.hpp>

#include "strata/placement.hpp"

namespace strata {

/// What happened in a supervision tree.
enum class event_kind : uint8_t {
  /// A child was started for the first time (at supervisor start or by start_child).
  started,
  /// A child terminated; `reason` says why (`normal`, `shutdown`, `killed`, an exception...).
  exited,
  /// A child was started again after it terminated.
  restarted,
  /// A child's start failed; `reason` says why.
  start_failed,
  /// More restarts than the intensity allows within the period: the supervisor gives up.
  intensity_reached,
  /// The supervisor itself shut down; `child` is empty and `reason` is its exit reason.
  shutdown,
};

/// Returns the event's name as written in JSON lines: `"started"`, `"exited"`, ...
std::string to_string(event_kind x);

/// One supervision event, as published to subscribers (see events.hpp).
struct supervision_event {
  event_kind kind = event_kind::started;
  /// The supervisor's path from its tree's root, e.g. `"root/rooms"`.
  std::string supervisor;
  /// The child's id; for `simple_one_for_one`, the template's id and `#<n>` (a serial number).
  std::string child;
  strata::placement placement = placement::task;
  /// Why, as readable text (`strata::to_text` of the exit reason); empty where it has none.
  std::string reason;
  /// How many times this child has been restarted so far.
  uint64_t restarts = 0;
  /// `std::chrono::steady_clock` nanoseconds (for intervals) and system-clock milliseconds
  /// since the epoch (for people), both taken when the event happened.
  int64_t mono_ns = 0;
  int64_t wall_ms = 0;
  /// The injected fault that caused this event (`fault_request::tag`, fault.hpp); empty
  /// for the events of a tree left alone. Set on the child's `exited` and on what follows
  /// it (`restarted`, `start_failed`, `intensity_reached`).
  std::string fault;
  /// The child's actor, as OTP's progress and crash reports name its pid: the one that
  /// started on `started` and `restarted`, the one that ended on `exited`; null on the other
  /// kinds. A weak address: `caf::actor_cast<caf::actor>` gives a handle while it lives. For
  /// a `process` child, an address in its node, reached like a local one.
  caf::actor_addr actor;
};

/// Renders `x` as one line of JSON (no trailing newline):
/// `{"mono_ns":..,"wall_ms":..,"supervisor":..,"child":..,"placement":..,"event":..,
///   "reason":..,"restarts":..}`, and `"fault":..` last when the event has one.
std::string to_json_line(const supervision_event& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervision_event& x) {
  return f(caf::meta::type_name("strata::supervision_event"), x.kind, x.supervisor, x.child,
           x.placement, x.reason, x.restarts, x.mono_ns, x.wall_ms, x.fault, x.actor);
}

} // namespace strata
