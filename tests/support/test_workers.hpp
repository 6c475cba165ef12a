#pragma once

// Workers and a fixture shared by the runtime tests: a strata system with test factories, and
// a scoped actor subscribed to supervision events, so tests wait for events, never sleep.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "strata/strata.hpp"

namespace strata::test {

using ping_atom = caf::atom_constant<caf::atom("t_ping")>;
using crash_atom = caf::atom_constant<caf::atom("t_crash")>;
using quit_atom = caf::atom_constant<caf::atom("t_quit")>;
using thread_atom = caf::atom_constant<caf::atom("t_thread")>;

/// How a test worker ends when told to quit.
enum class how_to_quit : int { normal, shutdown, shutdown_term, crash };

/// Registers the test factories on `cfg`:
/// - "echo": answers `(ping_atom, int x)` with x; `(crash_atom)` throws "boom";
///   `(quit_atom, int how)` quits as `how_to_quit`; `(thread_atom)` answers its thread id hash.
/// - "echo_tagged"(std::string tag): like echo, answers ping with x and `tag`.
/// - "failing_init": throws "init exploded" in its init.
/// - "stubborn": traps exits and ignores `shutdown`; only a kill stops it.
/// - "flaky_start"(std::shared_ptr-free, a counter name): see `start_failures`.
/// - "sup"(supervisor_spec): a nested supervisor built from the given spec.
void add_test_factories(config& cfg);

/// Starts of "flaky_start" that fail before one succeeds (reset per test).
extern std::atomic<int> start_failures;

/// A child spec for `id` started from `factory` with `args...`.
template <class... Ts>
child_spec child(std::string id, std::string factory, Ts&&... args) {
  return child_spec{std::move(id), start(std::move(factory), std::forward<Ts>(args)...)};
}

/// A strata system with the test factories and an event subscriber.
struct fixture {
  config cfg;
  std::unique_ptr<strata::system> sys;
  std::unique_ptr<caf::scoped_actor> self;

  /// `customize` may change `cfg` (e.g. parse options) before the system starts.
  explicit fixture(std::function<void(config&)> customize = nullptr);
  ~fixture();

  /// The next supervision event; fails the test after `timeout`.
  supervision_event next_event(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Skips events until one of `kind` for `child` (any child when empty) arrives.
  supervision_event wait_for(event_kind kind, const std::string& child = {},
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Collects `n` events as "event child" strings (e.g. "restarted a").
  std::vector<std::string> next_events(size_t n);

  /// Asks `worker` to echo `x`; returns the answer or an error.
  caf::expected<int> ping(const caf::actor& worker, int x);

  /// Sends `msg...` to `worker` without waiting.
  template <class... Ts>
  void tell(const caf::actor& worker, Ts&&... xs) {
    (*self)->send(worker, std::forward<Ts>(xs)...);
  }

  /// The handle of child `id` of `sup` (invalid when not running).
  caf::actor child_of(const caf::actor& sup, const std::string& id);

  /// Waits until `hdl` is down; fails the test after `timeout`. Returns the exit reason.
  caf::error wait_down(const caf::actor& hdl,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
};

/// "event child" for `ev`, e.g. "exited a".
std::string brief(const supervision_event& ev);

} // namespace strata::test
