#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace strata {

/// The error category of every strata error (`caf::error::category()`).
constexpr caf::atom_value error_category = caf::atom("strata");

/// Errors of the strata runtime. The runtime API does not throw: it returns these inside
/// `caf::error` / `caf::expected<T>`, usually with a context message that names the child,
/// supervisor or option concerned. Render one with `strata::to_text`.
enum class error : uint8_t {
  /// No error (CAF reserves code 0 for it).
  none = 0,
  /// A child or supervisor spec breaks a rule (context: what and why).
  invalid_spec,
  /// No factory of that name is registered (context: the name).
  unknown_factory,
  /// The arguments of a start call do not match the factory's parameters.
  bad_arguments,
  /// A child failed to start (context: the child id and the reason, as text).
  start_failed,
  /// An exception escaped actor code; it became the actor's exit reason (context: its text).
  exception,
  /// start_child: a child with that id is running (context: the id).
  already_started,
  /// start_child: a stopped child with that id is still present (context: the id).
  already_present,
  /// No child with that id or handle (context: the id).
  not_found,
  /// restart_child / delete_child: the child is running (context: the id).
  running,
  /// restart_child / delete_child: the child is waiting to be restarted (context: the id).
  restarting,
  /// The operation does not apply to a `simple_one_for_one` supervisor, or only applies to one.
  simple_one_for_one,
  /// A child is placed where no provider can start it (`process` without strata::nodes).
  placement_unavailable,
  /// A configuration value is malformed (context: the option and the value).
  invalid_config,
  /// `{shutdown, Term}`: a deliberate stop with a reason; never restarted by `transient`.
  shutdown,
  /// The actor system was not created from a `strata::config`.
  not_a_strata_system,
  /// A blocking API call did not get its answer in time (context: the call).
  timeout,
  /// register_name: the name is registered to a live actor already (OTP: badarg) (context:
  /// the name).
  name_taken,
  /// whereis / unregister_name: no live actor is registered under the name (OTP: undefined)
  /// (context: the name).
  name_not_found,
  /// inject_fault: the fault cannot be injected as asked (context: the child and why).
  fault_refused,
};

/// Returns the name of `x`, e.g. `"start_failed"`.
std::string to_string(error x);

/// Wraps `x` and an optional context into a `caf::error` of category `strata`.
template <class... Ts>
caf::error make_error(error x, Ts&&... context) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::forward<Ts>(context)...)};
}

/// Returns whether `err` is the strata error `code`.
bool is(const caf::error& err, error code) noexcept;

/// Renders any error as readable text: strata errors as `name: context`, CAF's `sec` and
/// `exit_reason` by their names, in OTP's words where OTP has one (`normal` for no error,
/// `shutdown` for `user_shutdown`, `killed` for `kill`). Works without an actor system.
std::string to_text(const caf::error& err);

/// Teaches `to_text` the code names of another error category, so errors of a component
/// built on strata read as `name: context` too (strata::nodes registers its `strata_n`).
/// `name_of` is called from any thread. Registering a category again replaces its entry.
/// @threadsafe
void register_error_category(caf::atom_value category, std::string (*name_of)(uint8_t code));

} // namespace strata
