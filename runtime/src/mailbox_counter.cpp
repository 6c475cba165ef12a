#include "strata/detail/mailbox_counter.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>

namespace strata::detail {

std::atomic<bool>& count_worker_mailboxes() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

int64_t queued_messages(const caf::actor& worker) noexcept {
  // A cross-cast: only a worker strata spawned wrapped is a counter.
  auto counter
    = dynamic_cast<const mailbox_counter*>(caf::actor_cast<caf::abstract_actor*>(worker));
  return counter != nullptr ? counter->queued() : -1;
}

} // namespace strata::detail
