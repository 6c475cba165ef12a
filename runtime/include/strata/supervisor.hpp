#pragma once

/// @file
/// Supervisors: OTP's `supervisor` behaviour on CAF. This comment is the spec.
///
/// A supervisor is an event-based actor that traps exits. It starts its children from
/// `child_spec`s, each from a registered factory, at the child's placement (task, thread, or
/// process), and keeps them alive:
///
/// - **Start.** Children start left to right, one at a time: the supervisor spawns the child,
///   links to it and waits for its init to finish (the init handshake) before starting the
///   next. If one fails, the ones already started are stopped right to left and the
///   supervisor's own start fails with `error::start_failed` naming the child and the reason.
///   A child whose init quits with a reason (OTP's `{stop, Reason}`), or that ends before
///   its init finishes, fails its start with that reason; killed (`exit_reason::kill`), with
///   `killed`, as in OTP, and it does not take the supervisor with it.
/// - **Exits.** When a child exits, its restart type decides: `permanent` is always
///   restarted, `transient` only after an abnormal exit (not `normal`, `shutdown` or
///   `{shutdown, Term}`), `temporary` never (and is then removed). A child killed
///   (`exit_reason::kill`) exits with `killed`, which the supervisor takes as any other
///   reason; a `kill` that a child in the supervisor's process sends it itself (OTP's
///   `exit(Sup, kill)`) cannot be trapped and ends the supervisor. (From a child in another
///   process, such a `kill` cannot be told from the child's own death and is taken as that.)
/// - **Strategies.** `one_for_one` restarts the child alone. `one_for_all` stops all other
///   children right to left, then starts all left to right. `rest_for_one` stops the
///   children started after it right to left, then restarts it and them left to right.
///   `simple_one_for_one` is a `one_for_one` over dynamic instances of one spec. Temporary
///   children stopped as siblings are removed, not restarted.
/// - **Intensity.** Each restart decision records its time; restarts older than `period` are
///   forgotten; when more than `intensity` remain, the supervisor gives up: it stops all
///   children right to left and exits with `shutdown` (so a `transient` parent does not
///   restart it, and a `permanent` one counts it against its own intensity). A one_for_all
///   restart of every child counts once.
/// - **Failed restarts.** If a restarted child fails to start, the restart is tried again
///   through a message to itself (OTP's `try_again_restart`), so the supervisor can serve a
///   shutdown in between; each try counts against the intensity.
/// - **Stopping a child.** `brutal_kill` kills it. A timeout sends an exit with `shutdown` and
///   kills the child when the timeout runs out. `infinity` sends the exit and waits. The
///   supervisor waits with a monitor and a timer; it never blocks a thread.
///   `simple_one_for_one` stops its children all at once.
/// - **Shutdown.** An exit from its parent (or `stop_atom`) stops every child right to left,
///   then the supervisor exits with the parent's reason (`normal` for `stop_atom`).
/// - **Auto shutdown.** With `auto_shutdown::any_significant`, a significant child that exits
///   by itself and is not restarted makes the supervisor shut down (exit `shutdown`); with
///   `all_significant`, the last running significant one does. Children stopped by the
///   supervisor never trigger it.
/// - **Backoff** (beyond OTP). A child with a `backoff_spec` is restarted after an
///   exponentially growing delay instead of at once; siblings are stopped at once.
/// - **Serialisation.** A supervisor does one thing at a time: while it is stopping or
///   starting children, child exits and API calls wait in order and are served afterwards.
///   Exits of children it has already replaced are ignored.
/// - **Events.** Every step is published as a `supervision_event` (see events.hpp).
///
/// Children are plain `caf::actor` handles. The API below is also available as messages
/// (atoms.hpp) for use from inside actors with `request`.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "strata/atoms.hpp"
#include "strata/child_spec.hpp"
#include "strata/supervisor_spec.hpp"

namespace strata {

/// A child's state as `which_children` reports it.
enum class child_status : uint8_t {
  /// Running: `handle` is valid.
  running,
  /// Waiting to be restarted (a backoff delay or a failed restart to try again).
  restarting,
  /// Not running: terminated by `terminate_child`, or a transient that exited normally.
  stopped,
};

std::string to_string(child_status x);

/// One child, as OTP's `which_children` reports it, plus strata's placement and counts.
struct child_info {
  /// The child's id; for a dynamic child of a `simple_one_for_one` supervisor, the template's
  /// id and a number unique in that supervisor, `"worker#3"` (OTP reports `undefined`), the
  /// name its events and paths use too.
  std::string id;
  caf::actor handle;
  child_status status = child_status::stopped;
  child_type type = child_type::worker;
  strata::placement placement = placement::task;
  uint64_t restarts = 0;
};

/// OTP's `count_children`: specs, running children, and specs by type.
struct child_counts {
  uint64_t specs = 0;
  uint64_t active = 0;
  uint64_t supervisors = 0;
  uint64_t workers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("strata::child_info"), x.id, x.handle, x.status, x.type,
           x.placement, x.restarts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("strata::child_counts"), x.specs, x.active, x.supervisors,
           x.workers);
}

/// How long a blocking call waits: forever by default (as OTP's calls), or any
/// `std::chrono` duration. A supervisor that ends before it answers ends the wait with
/// `caf::sec::request_receiver_down`, as a call to one that had ended already does (OTP's
/// calls monitor their callee).
class call_timeout {
public:
  call_timeout() noexcept = default;

  call_timeout(caf::infinite_t) noexcept {
    // nop
  }

  template <class Rep, class Period>
  call_timeout(std::chrono::duration<Rep, Period> d) noexcept
    : ms_(std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(d).count())) {
    // nop
  }

  /// As CAF's `request` takes it.
  caf::duration to_duration() const {
    return ms_ < 0 ? caf::duration{caf::infinite} : caf::duration{std::chrono::milliseconds{ms_}};
  }

private:
  int64_t ms_ = -1; // -1: infinite
};

// -- blocking client API -----------------------------------------------------------------
// Each call sends the matching message to `sup` and waits for the answer (at most `timeout`,
// `error::timeout` after that). Use them from outside actors; inside an actor, `request` the
// message instead. All are @threadsafe.

/// Adds and starts a child (`start_child_atom, child_spec` → `caf::actor`).
/// @returns `already_started` / `already_present` for a duplicate id, `start_failed`, or
/// `simple_one_for_one` when `sup` is one.
[[nodiscard]] caf::expected<caf::actor> start_child(const caf::actor& sup, child_spec spec,
                                                    call_timeout timeout = {});

/// Starts a dynamic child of a `simple_one_for_one` supervisor, its template's args followed
/// by `extra_args` (`start_child_atom, caf::message` → `caf::actor`).
[[nodiscard]] caf::expected<caf::actor> start_child(const caf::actor& sup, caf::message extra_args,
                                                    call_timeout timeout = {});

/// Stops a child and keeps its spec, or removes it if temporary (`terminate_child_atom, id`).
[[nodiscard]] caf::error terminate_child(const caf::actor& sup, const std::string& id,
                                         call_timeout timeout = {});

/// Stops a dynamic child of a `simple_one_for_one` supervisor (`terminate_child_atom, actor`).
[[nodiscard]] caf::error terminate_child(const caf::actor& sup, const caf::actor& child,
                                         call_timeout timeout = {});

/// Starts a stopped child again (`restart_child_atom, id` → `caf::actor`).
/// @returns `running`, `restarting`, `not_found` or `start_failed`.
[[nodiscard]] caf::expected<caf::actor> restart_child(const caf::actor& sup, const std::string& id,
                                                      call_timeout timeout = {});

/// Removes a stopped child's spec (`delete_child_atom, id`).
/// @returns `running`, `restarting` or `not_found`.
[[nodiscard]] caf::error delete_child(const caf::actor& sup, const std::string& id,
                                      call_timeout timeout = {});

/// Lists the children in start order (`which_children_atom` → `std::vector<child_info>`).
[[nodiscard]] caf::expected<std::vector<child_info>> which_children(const caf::actor& sup,
                                                                    call_timeout timeout = {});

/// Counts the children (`count_children_atom` → `child_counts`).
[[nodiscard]] caf::expected<child_counts> count_children(const caf::actor& sup,
                                                         call_timeout timeout = {});

/// Stops `sup` and its children like `gen_server:stop/1` (`stop_atom`), waiting until all
/// are down.
[[nodiscard]] caf::error stop(const caf::actor& sup, call_timeout timeout = {});

} // namespace strata
