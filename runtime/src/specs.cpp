#include <set>

#include "strata/child_spec.hpp"
#include "strata/error.hpp"
#include "strata/supervisor_spec.hpp"

namespace strata {

std::string to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "restart_type(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_string(child_type x) {
  return x == child_type::supervisor ? "supervisor" : "worker";
}

std::string to_string(shutdown_spec::kind x) {
  switch (x) {
    case shutdown_spec::kind::type_default: return "type_default";
    case shutdown_spec::kind::brutal_kill: return "brutal_kill";
    case shutdown_spec::kind::timeout: return "timeout";
    case shutdown_spec::kind::infinity: return "infinity";
  }
  return "shutdown(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_string(strategy x) {
  switch (x) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::one_for_all: return "one_for_all";
    case strategy::rest_for_one: return "rest_for_one";
    case strategy::simple_one_for_one: return "simple_one_for_one";
  }
  return "strategy(" + std::to_string(static_cast<int>(x)) + ")";
}

std::string to_string(auto_shutdown x) {
  switch (x) {
    case auto_shutdown::never: return "never";
    case auto_shutdown::any_significant: return "any_significant";
    case auto_shutdown::all_significant: return "all_significant";
  }
  return "auto_shutdown(" + std::to_string(static_cast<int>(x)) + ")";
}

namespace {

caf::error invalid(const std::string& who, const std::string& why) {
  return make_error(error::invalid_spec, who, why);
}

} // namespace

caf::error validate_child(const supervisor_spec& flags, const child_spec& child) {
  auto who = "child '" + child.id + "'";
  if (child.id.empty())
    return invalid("child ''", "the id is empty");
  if (child.start.name.empty())
    return invalid(who, "the start factory name is empty");
  if (static_cast<int>(child.restart) > static_cast<int>(restart_type::temporary))
    return invalid(who, "unknown restart type");
  if (static_cast<int>(child.placement) > static_cast<int>(placement::process))
    return invalid(who, "unknown placement");
  switch (child.shutdown.how) {
    case shutdown_spec::kind::type_default:
    case shutdown_spec::kind::brutal_kill:
    case shutdown_spec::kind::infinity: break;
    case shutdown_spec::kind::timeout:
      if (child.shutdown.timeout.count() <= 0)
        return invalid(who, "a shutdown timeout must be positive");
      break;
    default: return invalid(who, "unknown shutdown kind");
  }
  // OTP: significant is invalid for permanent children and under auto_shutdown never.
  if (child.significant && child.restart == restart_type::permanent)
    return invalid(who, "bad combination: significant and permanent");
  if (child.significant && flags.auto_shutdown == auto_shutdown::never)
    return invalid(who, "bad combination: significant child and auto_shutdown never");
  const auto& b = child.backoff;
  if (b.min.count() < 0 || b.max.count() < 0 || b.reset_after.count() < 0)
    return invalid(who, "backoff durations must not be negative");
  if (b.enabled() && b.max < b.min)
    return invalid(who, "backoff max is below min");
  if (!(b.jitter >= 0.0 && b.jitter <= 1.0))
    return invalid(who, "backoff jitter must be within [0, 1]");
  return caf::none;
}

caf::error validate(const supervisor_spec& spec) {
  if (static_cast<int>(spec.strategy) > static_cast<int>(strategy::simple_one_for_one))
    return invalid("supervisor", "unknown strategy");
  if (static_cast<int>(spec.auto_shutdown) > static_cast<int>(auto_shutdown::all_significant))
    return invalid("supervisor", "unknown auto_shutdown");
  if (spec.period.count() <= 0)
    return invalid("supervisor", "the period must be positive");
  if (spec.strategy == strategy::simple_one_for_one && spec.children.size() != 1)
    return invalid("supervisor", "simple_one_for_one needs exactly one child spec, got "
                                   + std::to_string(spec.children.size()));
  std::set<std::string> ids;
  for (const auto& child : spec.children) {
    if (auto err = validate_child(spec, child))
      return err;
    if (!ids.insert(child.id).second)
      return invalid("child '" + child.id + "'", "duplicate child id");
  }
  return caf::none;
}

} // namespace strata
