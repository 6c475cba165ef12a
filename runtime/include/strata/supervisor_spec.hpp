#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "strata/child_spec.hpp"

namespace strata {

/// OTP's restart strategies.
enum class strategy : uint8_t {
  /// Only the terminated child is restarted.
  one_for_one,
  /// All children are stopped (right to left) and all are restarted (left to right).
  one_for_all,
  /// The children started after the terminated one are stopped (right to left), then the
  /// terminated child and those after it are restarted (left to right).
  rest_for_one,
  /// A one_for_one over dynamically added instances of one child spec.
  simple_one_for_one,
};

/// When a supervisor shuts itself down because significant children terminated.
enum class auto_shutdown : uint8_t {
  /// Never; significant children are then invalid.
  never,
  /// When any significant child terminates by itself and is not restarted.
  any_significant,
  /// When the last running significant child terminates by itself and is not restarted.
  all_significant,
};

/// A supervisor's flags and children: OTP's `{SupFlags, [ChildSpec]}`.
/// For `simple_one_for_one`, `children` holds exactly one spec: the template every dynamic
/// child is started from, its args extended by those given to `start_child`.
struct supervisor_spec {
  strata::strategy strategy = strategy::one_for_one;
  /// More than `intensity` restarts within `period` make the supervisor give up.
  uint32_t intensity = 1;
  caf::timespan period = std::chrono::seconds(5);
  strata::auto_shutdown auto_shutdown = auto_shutdown::never;
  std::vector<child_spec> children;
};

std::string to_string(strategy x);
std::string to_string(auto_shutdown x);

/// Checks `spec` against OTP's rules: a positive period; unique, non-empty child ids and
/// factory names; `significant` only for `transient` or `temporary` children and never with
/// `auto_shutdown::never`; exactly one child spec for `simple_one_for_one`; a timeout
/// shutdown with a positive duration; a sane backoff.
/// @returns `error::invalid_spec` naming the offending child and rule, or an empty error.
[[nodiscard]] caf::error validate(const supervisor_spec& spec);

/// Checks one child spec against the rules of `validate` that apply to it alone, for a
/// supervisor with `flags`.
[[nodiscard]] caf::error validate_child(const supervisor_spec& flags, const child_spec& child);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_spec& x) {
  return f(caf::meta::type_name("strata::supervisor_spec"), x.strategy, x.intensity, x.period,
           x.auto_shutdown, x.children);
}

} // namespace strata
