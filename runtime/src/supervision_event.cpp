#include "strata/supervision_event.hpp"

#include <nlohmann/json.hpp>

namespace strata {

std::string to_string(event_kind x) {
  switch (x) {
    case event_kind::started: return "started";
    case event_kind::exited: return "exited";
    case event_kind::restarted: return "restarted";
    case event_kind::start_failed: return "start_failed";
    case event_kind::intensity_reached: return "intensity_reached";
    case event_kind::shutdown: return "shutdown";
  }
  return "event(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_json_line(const supervision_event& x) {
  // An ordered_json keeps the documented field order, so lines read the same everywhere.
  nlohmann::ordered_json j;
  j["mono_ns"] = x.mono_ns;
  j["wall_ms"] = x.wall_ms;
  j["supervisor"] = x.supervisor;
  j["child"] = x.child;
  j["placement"] = to_string(x.placement);
  j["event"] = to_string(x.kind);
  j["reason"] = x.reason;
  j["restarts"] = x.restarts;
  if (!x.fault.empty())
    j["fault"] = x.fault;
  // Reasons carry user text (exception messages): replace invalid UTF-8 instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace strata
