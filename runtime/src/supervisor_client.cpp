// The blocking client API of supervisor.hpp: one request per call from a scoped actor.

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "strata/error.hpp"
#include "strata/supervisor.hpp"

#include "internal/blocking_call.hpp"

namespace strata {

namespace {

// Sends `xs...` to `sup` and waits for an answer of type T (ok_atom for calls without one).
template <class T, class... Ts>
caf::expected<T> call(const caf::actor& sup, call_timeout timeout, const char* what, Ts&&... xs) {
  if (!sup)
    return make_error(error::not_found, std::string{what}, "invalid supervisor handle");
  return internal::blocking_call<T>(sup, timeout, what, std::forward<Ts>(xs)...);
}

caf::error to_error(caf::expected<ok_atom> res) {
  return res ? caf::error{} : std::move(res.error());
}

} // namespace

caf::expected<caf::actor> start_child(const caf::actor& sup, child_spec spec,
                                      call_timeout timeout) {
  return call<caf::actor>(sup, timeout, "start_child", start_child_atom::value, std::move(spec));
}

caf::expected<caf::actor> start_child(const caf::actor& sup, caf::message extra_args,
                                      call_timeout timeout) {
  return call<caf::actor>(sup, timeout, "start_child", start_child_atom::value,
                          std::move(extra_args));
}

caf::error terminate_child(const caf::actor& sup, const std::string& id, call_timeout timeout) {
  return to_error(call<ok_atom>(sup, timeout, "terminate_child", terminate_child_atom::value, id));
}

caf::error terminate_child(const caf::actor& sup, const caf::actor& child, call_timeout timeout) {
  return to_error(
    call<ok_atom>(sup, timeout, "terminate_child", terminate_child_atom::value, child));
}

caf::expected<caf::actor> restart_child(const caf::actor& sup, const std::string& id,
                                        call_timeout timeout) {
  return call<caf::actor>(sup, timeout, "restart_child", restart_child_atom::value, id);
}

caf::error delete_child(const caf::actor& sup, const std::string& id, call_timeout timeout) {
  return to_error(call<ok_atom>(sup, timeout, "delete_child", delete_child_atom::value, id));
}

caf::expected<std::vector<child_info>> which_children(const caf::actor& sup, call_timeout timeout) {
  return call<std::vector<child_info>>(sup, timeout, "which_children", which_children_atom::value);
}

caf::expected<child_counts> count_children(const caf::actor& sup, call_timeout timeout) {
  return call<child_counts>(sup, timeout, "count_children", count_children_atom::value);
}

caf::error stop(const caf::actor& sup, call_timeout timeout) {
  return to_error(call<ok_atom>(sup, timeout, "stop", stop_atom::value));
}

std::string to_string(child_status x) {
  switch (x) {
    case child_status::running: return "running";
    case child_status::restarting: return "restarting";
    case child_status::stopped: return "stopped";
  }
  return "child_status(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace strata
