#include "strata/detail/inline_run.hpp"

#include <caf/system_messages.hpp>

namespace strata::detail {

namespace {

// CAF 0.17 keeps an actor's exit handler protected and has no accessor for it; a member
// pointer taken through a derived class reaches it without changing CAF.
struct exit_handler_access : caf::scheduled_actor {
  static const caf::scheduled_actor::exit_handler& of(caf::scheduled_actor* self) {
    return self->*(&exit_handler_access::exit_handler_);
  }
};

} // namespace

bool has_default_exit_handler(caf::scheduled_actor* self) {
  using fn = void (*)(caf::scheduled_actor*, caf::exit_msg&);
  auto target = exit_handler_access::of(self).target<fn>();
  return target != nullptr && *target == &caf::scheduled_actor::default_exit_handler;
}

} // namespace strata::detail
