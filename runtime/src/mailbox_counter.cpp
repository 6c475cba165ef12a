#include "strata/detail/mailbox_counter.hpp"

namespace strata::detail {

std::atomic<bool>& count_worker_mailboxes() noexcept {
  static std::atomic<bool> flag{false};
  return flag;
}

} // namespace strata::detail
