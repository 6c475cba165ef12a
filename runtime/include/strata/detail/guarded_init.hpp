#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/delegated.hpp>
#include <caf/error.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>

#include "strata/atoms.hpp"

namespace strata::detail {

/// Converts the exception being handled (call only inside a `catch`) into the error that
/// becomes an actor's exit reason: `error::exception` with the exception's text.
caf::error current_exception_error();

/// Installs the exception handler that turns an exception escaping a handler of `self` into
/// its exit reason (`error::exception` with the exception's text).
void install_exception_handler(caf::scheduled_actor* self);

/// Calls a user init function and returns the behavior it returned, or an empty behavior for
/// functions that return void (and call `become` themselves, or finish at once).
template <class F, class Self, class... Ts>
caf::behavior call_user_init(const F& fun, Self* self, const Ts&... xs) {
  using result = decltype(fun(self, xs...));
  if constexpr (std::is_void<result>::value) {
    fun(self, xs...);
    return {};
  } else {
    static_assert(std::is_convertible<result, caf::behavior>::value,
                  "a strata worker returns caf::behavior or void; typed actors are not "
                  "supported as children yet");
    return fun(self, xs...);
  }
}

/// Where a worker's init reports its outcome while a supervisor runs it on the supervisor's
/// own thread: set by the supervisor around the worker's first run (inline_run.hpp), taken
/// by `first_behavior`, which then runs the init at once.
struct inline_init_outcome {
  bool done = false; // the init ran
  caf::error error; // why it failed, if it did
};

/// The calling thread's slot for an `inline_init_outcome`: null unless a supervisor is
/// running a child's init on this thread.
inline_init_outcome*& inline_init_slot() noexcept;

/// Runs the user's init `init()` of `self` with strata's exception handling: an exception
/// escaping a later handler becomes the exit reason, and one escaping `init` itself ends
/// `self` with that reason and is returned in `err`, as is the reason of an init that quits
/// with one. Returns what `init` returned.
template <class Self, class Init>
caf::behavior run_user_init(Self* self, Init& init, caf::error& err) {
  install_exception_handler(self);
  try {
    auto bhvr = init();
    // An init that ends its actor with a reason (`quit(reason)`) fails the start with it, as
    // OTP's init/1 returning `{stop, Reason}` does. (`quit()` ends it normally once started.)
    if (self->fail_state()) // set only by `quit` here
      err = self->fail_state();
    return bhvr;
  } catch (...) {
    err = current_exception_error();
    self->quit(err);
    return {};
  }
}

/// The behavior every strata-started worker begins with: it waits for the supervisor's
/// `(init_atom, parent, path)` — always the first message, since nobody else has the handle
/// yet — runs the user's init `init()` under a try-block and answers `ok_atom`, or the
/// error that made it fail (after which the actor exits with that error).
template <class Self, class Init>
caf::behavior guarded_behavior(Self* self, Init init) {
  return {
    [self, init](init_atom, const caf::actor&, const std::string&) mutable -> caf::result<ok_atom> {
      // Pop this init behavior: the user's init installs its own, or none (the actor ends).
      self->unbecome();
      caf::error err;
      if (auto bhvr = run_user_init(self, init, err))
        self->become(std::move(bhvr));
      if (err)
        return err;
      return ok_atom::value;
    },
  };
}

/// The behavior a strata worker starts with (its `init_fun`, run as the actor initializes).
/// Run by its supervisor on the supervisor's own thread (`inline_init_slot()` set), it runs
/// the user's init `init()` at once, under a try-block, and reports to the slot: the start
/// needs no init message, no init behavior and no answer. Otherwise `guarded_behavior`.
template <class Self, class Init>
caf::behavior first_behavior(Self* self, Init init) {
  // Taken at once: it is for this start, not for any that the user's init may cause.
  auto slot = std::exchange(inline_init_slot(), nullptr);
  if (slot == nullptr)
    return guarded_behavior(self, std::move(init));
  slot->done = true;
  // On an exception the actor ends as its initialization returns (CAF's activate finalizes
  // it).
  return run_user_init(self, init, slot->error);
}

} // namespace strata::detail
