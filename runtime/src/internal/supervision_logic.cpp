#include "internal/supervision_logic.hpp"

#include <algorithm>

#include <caf/exit_reason.hpp>

#include "strata/error.hpp"

namespace strata::internal {

exit_class classify(const caf::error& reason) noexcept {
  if (!reason || reason == caf::exit_reason::normal)
    return exit_class::normal;
  if (reason == caf::exit_reason::user_shutdown || is(reason, error::shutdown))
    return exit_class::shutdown;
  return exit_class::abnormal;
}

bool should_restart(restart_type type, exit_class cls) noexcept {
  switch (type) {
    case restart_type::permanent: return true;
    case restart_type::transient: return cls == exit_class::abnormal;
    case restart_type::temporary: return false;
  }
  return false;
}

bool restart_intensity::add_restart(time_point now) {
  auto threshold = now - period_;
  while (!restarts_.empty() && restarts_.front() < threshold)
    restarts_.pop_front();
  restarts_.push_back(now);
  return restarts_.size() <= intensity_;
}

restart_plan plan_restart(strategy how, size_t count, size_t failed) {
  restart_plan plan;
  switch (how) {
    case strategy::one_for_one:
    case strategy::simple_one_for_one: plan.start.push_back(failed); break;
    case strategy::one_for_all:
      for (size_t i = count; i-- > 0;)
        if (i != failed)
          plan.stop.push_back(i);
      for (size_t i = 0; i < count; ++i)
        plan.start.push_back(i);
      break;
    case strategy::rest_for_one:
      for (size_t i = count; i-- > failed + 1;)
        plan.stop.push_back(i);
      for (size_t i = failed; i < count; ++i)
        plan.start.push_back(i);
      break;
  }
  return plan;
}

bool auto_shutdown_triggered(auto_shutdown mode, bool child_significant,
                             size_t significant_running) noexcept {
  if (mode == auto_shutdown::never || !child_significant)
    return false;
  if (mode == auto_shutdown::any_significant)
    return true;
  return significant_running == 0;
}

caf::timespan backoff_delay(const backoff_spec& spec, uint32_t consecutive,
                            double random01) noexcept {
  if (!spec.enabled() || consecutive == 0)
    return caf::timespan{0};
  // min * 2^(n-1), computed without overflow: stop doubling once max is reached.
  auto delay = spec.min;
  for (uint32_t i = 1; i < consecutive && delay < spec.max; ++i)
    delay = delay > spec.max / 2 ? spec.max : delay * 2;
  delay = std::min(delay, spec.max);
  auto stretch = 1.0 + spec.jitter * std::clamp(random01, 0.0, 1.0);
  return caf::timespan{
    static_cast<caf::timespan::rep>(static_cast<double>(delay.count()) * stretch)};
}

} // namespace strata::internal
