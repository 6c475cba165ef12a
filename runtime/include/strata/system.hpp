#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "strata/config.hpp"
#include "strata/supervisor_spec.hpp"

namespace strata {

namespace internal {
class observer;
} // namespace internal

/// A strata system: owns the `caf::actor_system` created from a `strata::config` and the
/// top-level supervisors started through it.
///
/// Destroying it stops the top-level supervisors, newest first (each stops its children
/// right to left), and waits for every actor to finish before the CAF system goes: this is
/// what keeps thread-placed children from hanging CAF 0.17's shutdown (upstream issue #1196).
class system {
public:
  /// Starts the actor system. `cfg` must outlive this object (CAF keeps a reference).
  /// Opens the JSON-lines event log if `strata.event-log` is set; a log that cannot be
  /// opened is reported by `event_log_error()`, and the system runs without it. Serves the
  /// observer if `strata.observer.listen` is set (`observer_port()`; an observer that cannot
  /// start is reported by `observer_error()`, and the system runs without it).
  explicit system(config& cfg);

  system(const system&) = delete;
  system& operator=(const system&) = delete;

  ~system();

  /// The CAF actor system. @threadsafe
  caf::actor_system& actors() noexcept {
    return sys_;
  }

  /// The configuration. @threadsafe (read-only)
  const config& cfg() const noexcept {
    return cfg_;
  }

  /// Starts a top-level supervisor named `name` (the root of its tree's paths) and its
  /// children, and returns once all of them are up.
  /// @returns `invalid_spec`, or `start_failed` naming the child that failed and why.
  /// @threadsafe
  [[nodiscard]] caf::expected<caf::actor> start_supervisor(std::string name, supervisor_spec spec,
                                                           placement where = placement::task);

  /// Stops every top-level supervisor, newest first, and waits until all actors are done.
  /// Called by the destructor; idempotent. @threadsafe
  void shutdown();

  /// Why the placement provider (`process` placement) could not start, or an empty error.
  const caf::error& provider_error() const noexcept {
    return provider_error_;
  }

  /// Why the configured event log could not be opened, or an empty error.
  const caf::error& event_log_error() const noexcept {
    return event_log_error_;
  }

  /// The port the observer (`/tree`, `/metrics`; docs/design/observer.md) listens on, or 0
  /// when it is off or could not start. @threadsafe
  uint16_t observer_port() const noexcept {
    return observer_port_;
  }

  /// Why the configured observer could not start, or an empty error.
  const caf::error& observer_error() const noexcept {
    return observer_error_;
  }

private:
  void start_observer();

  config& cfg_;
  caf::error provider_error_; // before sys_: set before the actor system starts
  caf::actor_system sys_;
  caf::actor event_log_;
  caf::error event_log_error_;
  std::mutex roots_mtx_; // guards roots_ and stopped_
  std::vector<caf::actor> roots_;
  bool stopped_ = false; // shutdown ran its one-time part (provider->stopping)
  // After sys_: it holds actors of sys_ and asks it for the tree until it stops.
  std::unique_ptr<internal::observer> observer_;
  uint16_t observer_port_ = 0;
  caf::error observer_error_;
};

} // namespace strata
