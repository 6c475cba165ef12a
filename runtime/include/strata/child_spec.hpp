#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "strata/placement.hpp"

namespace strata {

/// When a terminated child is restarted (OTP's `restart`).
enum class restart_type : uint8_t {
  /// Always restarted.
  permanent,
  /// Restarted only after an abnormal exit: not after `normal`, `shutdown` or
  /// `{shutdown, Term}` (`caf::exit_reason::normal`, `caf::exit_reason::user_shutdown`,
  /// `strata::error::shutdown`).
  transient,
  /// Never restarted, and removed from the supervisor when it terminates for any reason,
  /// including being stopped as a sibling under `one_for_all` or `rest_for_one`.
  temporary,
};

/// Whether a child is a worker or a supervisor (OTP's `type`). Derived from the factory the
/// child is started from, so a spec cannot get it wrong.
enum class child_type : uint8_t { worker, supervisor };

/// How a supervisor stops a child (OTP's `shutdown`).
struct shutdown_spec {
  enum class kind : uint8_t {
    /// OTP's default: a 5 s timeout for workers, `infinity` for supervisors.
    type_default,
    /// Killed unconditionally (`caf::exit_reason::kill`).
    brutal_kill,
    /// Sent an exit with `shutdown`; killed if still alive when `timeout` runs out.
    timeout,
    /// Sent an exit with `shutdown` and waited for as long as it takes.
    infinity,
  };
  kind how = kind::type_default;
  caf::timespan timeout{0};

  /// `brutal_kill`.
  static shutdown_spec brutal_kill() {
    return {kind::brutal_kill, caf::timespan{0}};
  }
  /// Exit with `shutdown`, then kill after `t`.
  template <class Rep, class Period>
  static shutdown_spec after(std::chrono::duration<Rep, Period> t) {
    return {kind::timeout, std::chrono::duration_cast<caf::timespan>(t)};
  }
  /// `infinity`.
  static shutdown_spec infinity() {
    return {kind::infinity, caf::timespan{0}};
  }
};

/// Exponential restart backoff (beyond OTP; as Akka's and Proto.Actor's): the n-th restart
/// in a row waits `min(max, min * 2^(n-1))`, stretched by a random factor in
/// `[1, 1 + jitter]`. The count resets once the child stayed up for `reset_after`.
/// A restart still counts against the supervisor's intensity when the exit happens.
struct backoff_spec {
  caf::timespan min{0};
  caf::timespan max{0};
  double jitter = 0.0;
  caf::timespan reset_after{0};

  /// Returns whether backoff is on (`min > 0`).
  bool enabled() const noexcept {
    return min.count() > 0;
  }
};

/// What starts a child: a factory registered by name plus serialisable arguments, OTP's
/// `{M, F, A}`. Never a closure: a child placed in another process is started there by name.
struct factory_call {
  std::string name;
  caf::message args;
};

/// Builds a `factory_call`: `strata::start("worker", 42, "x")`.
template <class... Ts>
factory_call start(std::string name, Ts&&... args) {
  return {std::move(name), caf::make_message(std::forward<Ts>(args)...)};
}

/// A child specification, OTP's `{id, start, restart, shutdown, type, significant}` plus
/// strata's `placement` and `backoff`. The placement may be overridden per child id from the
/// configuration (`--strata.placement.<id>=thread`) without recompiling.
struct child_spec {
  std::string id;
  factory_call start;
  restart_type restart = restart_type::permanent;
  shutdown_spec shutdown;
  strata::placement placement = placement::task;
  bool significant = false;
  backoff_spec backoff;

  child_spec() = default;
  child_spec(std::string child_id, factory_call call)
    : id(std::move(child_id)), start(std::move(call)) {
    // nop
  }
};

std::string to_string(restart_type x);
std::string to_string(child_type x);
std::string to_string(shutdown_spec::kind x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shutdown_spec& x) {
  return f(caf::meta::type_name("strata::shutdown_spec"), x.how, x.timeout);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backoff_spec& x) {
  return f(caf::meta::type_name("strata::backoff_spec"), x.min, x.max, x.jitter, x.reset_after);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, factory_call& x) {
  return f(caf::meta::type_name("strata::factory_call"), x.name, x.args);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_spec& x) {
  return f(caf::meta::type_name("strata::child_spec"), x.id, x.start, x.restart, x.shutdown,
           x.placement, x.significant, x.backoff);
}

} // namespace strata
