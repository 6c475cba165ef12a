#pragma once

// The supervisor's decisions as pure functions of state and event, after OTP's
// supervisor.erl. No actors, no clocks: the supervisor actor feeds them and carries out
// what they return, and tests drive them directly.

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "strata/child_spec.hpp"
#include "strata/supervisor_spec.hpp"

namespace strata::internal {

/// How an exit reason counts for restart decisions.
enum class exit_class {
  /// `normal` (or no error).
  normal,
  /// `shutdown` (`caf::exit_reason::user_shutdown`) or `{shutdown, Term}` (`error::shutdown`).
  shutdown,
  /// Anything else: a crash, a kill, an exception.
  abnormal,
};

/// Classifies an exit reason.
exit_class classify(const caf::error& reason) noexcept;

/// OTP's do_restart: whether a child of type `type` that exited as `cls` is restarted.
bool should_restart(restart_type type, exit_class cls) noexcept;

/// OTP's restart intensity: more than `intensity` restarts within `period` means give up.
class restart_intensity {
public:
  using time_point = std::chrono::steady_clock::time_point;

  restart_intensity(uint32_t intensity, caf::timespan period) noexcept
    : intensity_(intensity), period_(period) {
    // nop
  }

  /// OTP's add_restart: keeps the restarts R with R >= now - period, adds now.
  /// @returns false when more than `intensity` restarts remain: the supervisor gives up.
  bool add_restart(time_point now);

  /// How many restarts lie within the window after the last `add_restart`.
  size_t size() const noexcept {
    return restarts_.size();
  }

private:
  uint32_t intensity_;
  caf::timespan period_;
  std::deque<time_point> restarts_; // oldest first
};

/// What a restart does to a static child list of `count` children, by position.
struct restart_plan {
  /// Children to stop, in stopping order (right to left); skip those not running.
  std::vector<size_t> stop;
  /// Children to start, in start order (left to right); the failed child included.
  std::vector<size_t> start;
};

/// OTP's restart/3 for the child at `failed`: one_for_one and simple_one_for_one restart it
/// alone; one_for_all stops every other child and starts all; rest_for_one stops those after
/// it and starts it and those after it.
restart_plan plan_restart(strategy how, size_t count, size_t failed);

/// OTP's do_auto_shutdown, after a child exited by itself and is not restarted.
/// @param significant_running how many significant children are still running (not
///        counting the one that exited).
bool auto_shutdown_triggered(auto_shutdown mode, bool child_significant,
                             size_t significant_running) noexcept;

/// The delay before the `consecutive`-th restart in a row (1-based) of a child with
/// `spec`; `random01` is uniform in [0, 1) and scales the jitter.
caf::timespan backoff_delay(const backoff_spec& spec, uint32_t consecutive,
                            double random01) noexcept;

} // namespace strata::internal
