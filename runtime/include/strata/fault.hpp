#pragma once

/// @file
/// Fault injection, for studying restarts (docs/design/chaos.md): a supervisor asked with
/// `inject_fault_atom` makes one of its running children fail in a chosen way, and tags the
/// events that follow (`supervision_event::fault`) with the fault that caused them.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/string_view.hpp>
#include <caf/type_nr.hpp>

#include "strata/detail/mailbox_counter.hpp"

namespace strata {

/// How a child is made to fail.
enum class fault_kind : uint8_t {
  /// The child throws an exception inside its own context (as a failing handler does).
  exception,
  /// `kill -9`: a `process` child's node gets SIGKILL; a `task` or `thread` child gets
  /// CAF's untrappable `exit_reason::kill` (SIGKILL would take the whole process down).
  kill,
  /// SIGSEGV: the node of a `process` child; for a `task` or `thread` child, raised inside
  /// it, which takes down its whole OS process (allowed only with `allow_process_exit`).
  segv,
  /// SIGABRT, as `segv`.
  abort,
  /// The child stops answering for `hang_ms`: a `task` or `thread` child blocks inside a
  /// handler, a `process` child's node gets SIGSTOP (its heartbeat then has it killed).
  hang,
};

/// Returns the kind's name: `"exception"`, `"kill"`, `"segv"`, `"abort"` or `"hang"`.
std::string to_string(fault_kind x);

/// Parses a kind's name (as `to_string` writes it); nullopt for anything else.
std::optional<fault_kind> parse_fault_kind(caf::string_view x);

/// Asks a supervisor to inject a fault (answered with a `std::string` saying what was done,
/// or an error: `not_found` for no child of that id, `fault_refused` for a system that does
/// not accept faults (`strata.observer.faults` off), a child that is not running or a fault
/// that does not apply to it). Sent by the observer's `POST /fault`.
using inject_fault_atom = caf::atom_constant<caf::atom("s_fault")>;

/// What `inject_fault_atom` carries.
struct fault_request {
  /// The child's id as in events (`id#<n>` for `simple_one_for_one`).
  std::string child;
  fault_kind kind = fault_kind::exception;
  /// How long a `hang` lasts, in milliseconds (for a `process` child, until the heartbeat
  /// kills the stopped node, or SIGCONT after this long if it does not).
  int64_t hang_ms = 0;
  /// Written into the events the fault causes (`supervision_event::fault`), e.g.
  /// `"chaos#3 exception"`.
  std::string tag;
  /// Whether a fault may take down the OS process hosting the supervisor (segv or abort of a
  /// `task` or `thread` child).
  bool allow_process_exit = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fault_request& x) {
  return f(caf::meta::type_name("strata::fault_request"), x.child, x.kind, x.hang_ms, x.tag,
           x.allow_process_exit);
}

namespace detail {

/// What a supervisor sends a worker to make it fail from inside: `(fault_atom, kind as
/// uint8_t, hang_ms)`. Taken by `fault_injectable` before any user handler sees it.
using fault_atom = caf::atom_constant<caf::atom("s_dofault")>;

/// Carries out a fault inside the current actor: throws (`exception`), blocks (`hang`),
/// raises SIGSEGV or SIGABRT; any other kind does nothing.
void carry_out_fault(uint8_t kind, int64_t hang_ms);

/// The type token of `(fault_atom, uint8_t, int64_t)`.
constexpr uint32_t fault_token = caf::make_type_token<fault_atom, uint8_t, int64_t>();

/// A worker class as strata spawns it when the system accepts faults
/// (`strata.observer.faults`) or an observer runs: `Base` plus the fault message, intercepted
/// before the behavior so that a user's handlers (or a catch-all) never see it, and, while an
/// observer runs, a count of its mailbox (`mailbox_counter`). Costs each message ~6-11 ns
/// (docs/design/chaos.md), hence plain `Base` otherwise. Owned by the actor's own context,
/// like any actor.
template <class Base>
class fault_injectable : public Base, public mailbox_counter {
public:
  using Base::Base;

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* eu) override {
    // Before the enqueue: once the message is in, the actor may consume it at once.
    if (counting_)
      queued_.fetch_add(1, std::memory_order_relaxed);
    Base::enqueue(std::move(x), eu);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    // The type token first, as CAF's own monitorable_actor tests for a down_msg: one virtual
    // call returning a number, where match_elements makes one per element.
    if (x.content().type_token() == fault_token
        && x.content().get_as<caf::atom_value>(0) == fault_atom::value) {
      if (counting_)
        queued_.fetch_sub(1, std::memory_order_relaxed); // off before it runs: it may throw
      // Thrown from here, an exception takes the same way out as one thrown by a handler
      // (scheduled_actor::reactivate catches both): it becomes the exit reason.
      carry_out_fault(x.content().get_as<uint8_t>(1), x.content().get_as<int64_t>(2));
      return caf::invoke_message_result::consumed;
    }
    if (!counting_)
      return Base::consume(x);
    // Off the count while it runs (a handler that blocks or throws is not waiting); a
    // skipped message goes back into the mailbox, and into the count.
    queued_.fetch_sub(1, std::memory_order_relaxed);
    auto result = Base::consume(x);
    if (result == caf::invoke_message_result::skipped)
      queued_.fetch_add(1, std::memory_order_relaxed);
    return result;
  }
};

} // namespace detail

} // namespace strata
