#include "strata/placement.hpp"

#include "strata/error.hpp"

namespace strata {

std::string to_string(placement x) {
  switch (x) {
    case placement::task: return "task";
    case placement::thread: return "thread";
    case placement::process: return "process";
  }
  return "placement(" + std::to_string(static_cast<int>(x)) + ")";
}

caf::expected<placement> parse_placement(caf::string_view text) {
  if (text == "task")
    return placement::task;
  if (text == "thread")
    return placement::thread;
  if (text == "process")
    return placement::process;
  return make_error(error::invalid_config, "expected task, thread or process, got '"
                                             + std::string{text.begin(), text.end()} + "'");
}

} // namespace strata
