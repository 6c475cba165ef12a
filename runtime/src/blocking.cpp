#include "strata/detail/blocking.hpp"

namespace strata::detail {

namespace {

thread_local blocking_hook current_hook = nullptr;
thread_local void* current_arg = nullptr;

} // namespace

void set_blocking_hook(blocking_hook hook, void* arg) noexcept {
  current_hook = hook;
  current_arg = arg;
}

void before_blocking() {
  if (current_hook != nullptr)
    current_hook(current_arg);
}

} // namespace strata::detail
