#include "strata/fault.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace strata {

std::string to_string(fault_kind x) {
  switch (x) {
    case fault_kind::exception: return "exception";
    case fault_kind::kill: return "kill";
    case fault_kind::segv: return "segv";
    case fault_kind::abort: return "abort";
    case fault_kind::hang: return "hang";
  }
  return "fault(" + std::to_string(static_cast<int>(x)) + ")";
}

std::optional<fault_kind> parse_fault_kind(caf::string_view x) {
  for (auto k : {fault_kind::exception, fault_kind::kill, fault_kind::segv, fault_kind::abort,
                 fault_kind::hang})
    if (x == to_string(k))
      return k;
  return std::nullopt;
}

namespace detail {

void carry_out_fault(uint8_t kind, int64_t hang_ms) {
  switch (static_cast<fault_kind>(kind)) {
    case fault_kind::exception: throw std::runtime_error("injected fault");
    case fault_kind::hang:
      // A real stuck handler: the thread running this actor is blocked, not rescheduled.
      std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms));
      return;
    case fault_kind::segv: std::raise(SIGSEGV); return;
    case fault_kind::abort: std::abort();
    case fault_kind::kill: return; // done by the supervisor, never sent to the child
  }
}

} // namespace detail

} // namespace strata
