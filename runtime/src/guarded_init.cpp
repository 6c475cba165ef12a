#include "strata/detail/guarded_init.hpp"

#include <typeinfo>

#include "strata/error.hpp"

namespace strata::detail {

inline_init_outcome*& inline_init_slot() noexcept {
  thread_local inline_init_outcome* slot = nullptr;
  return slot;
}

caf::error current_exception_error() {
  try {
    throw;
  } catch (const std::exception& e) {
    return make_error(error::exception, std::string{e.what()});
  } catch (...) {
    return make_error(error::exception, std::string{"unknown exception"});
  }
}

void install_exception_handler(caf::scheduled_actor* self) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& eptr) {
    try {
      std::rethrow_exception(eptr);
    } catch (...) {
      return current_exception_error();
    }
  });
}

} // namespace strata::detail
