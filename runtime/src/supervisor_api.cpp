// The supervisor's init and its API messages. Each API call becomes a step in the
// supervisor's queue (run_or_defer), so it sees the tree between operations, never in one.

#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "strata/detail/guarded_init.hpp"
#include "strata/detail/mailbox_counter.hpp"
#include "strata/error.hpp"
#include "strata/events.hpp"

#include "internal/events_channel.hpp"
#include "internal/supervisor_actor.hpp"

namespace strata::internal {

namespace {

caf::error going_down() {
  return caf::make_error(caf::sec::request_receiver_down);
}

// Delivers `x` through `rp`; returns void, so a step can `return answer(rp, x);`.
template <class Promise, class T>
void answer(Promise& rp, T&& x) {
  rp.deliver(std::forward<T>(x));
}

} // namespace

caf::result<ok_atom> supervisor_actor::init(const caf::actor& parent, const std::string& path) {
  if (cfg_ != nullptr)
    return make_error(error::invalid_spec, path, "supervisor already initialised");
  parent_ = parent.address();
  path_ = path;
  events_ = events_group(system());
  events_channel_ = dynamic_cast<const events_channel*>(events_.get());
  auto fail = [this](caf::error err) -> caf::result<ok_atom> {
    quit(err);
    return err;
  };
  auto cfg = strata_config(system());
  if (!cfg)
    return fail(cfg.error());
  cfg_ = *cfg;
  faults_ = cfg_->observer_faults();
  wrap_workers_ = cfg_->wrap_workers();
  try {
    spec_ = make_spec_();
  } catch (...) {
    return fail(detail::current_exception_error());
  }
  if (auto err = validate(spec_))
    return fail(std::move(err));
  intensity_.emplace(spec_.intensity, spec_.period);
  if (simple())
    return ok_atom::value; // dynamic children only; the spec stays the template
  for (auto& child : spec_.children)
    add_child(child);
  auto rp = make_response_promise<ok_atom>();
  busy_ = true;
  start_in_order(keys_in_order(), 0, false, [this, rp](caf::error err, uint64_t) mutable {
    if (!err) {
      rp.deliver(ok_atom::value);
      finish_operation();
      return;
    }
    // OTP: a child that fails to start stops those already started, right to left, and
    // the supervisor's own start fails naming the child.
    shutting_down_ = true;
    stop_in_order(running_keys_reversed(), [this, rp, err]() mutable {
      emit(event_kind::shutdown, nullptr, err);
      rp.deliver(err);
      answer_deferred();
      quit(err);
    });
  });
  return rp;
}

caf::result<caf::actor> supervisor_actor::api_start_child(child_spec spec) {
  auto rp = make_response_promise<caf::actor>();
  run_or_defer([this, rp, spec = std::move(spec)]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (simple())
      return answer(rp, make_error(error::simple_one_for_one,
                                   "start_child takes extra arguments, not a child spec"));
    if (auto err = validate_child(spec_, spec))
      return answer(rp, std::move(err));
    if (auto c = find_id(spec.id))
      return answer(rp, make_error(c->handle ? error::already_started : error::already_present,
                                   spec.id));
    auto key = add_child(std::move(spec));
    busy_ = true;
    start_one(key, false, [this, rp, key](caf::error err) mutable {
      if (err) {
        erase(key); // OTP keeps no spec of a child that failed to start
        rp.deliver(std::move(err));
      } else {
        rp.deliver(find(key)->handle);
      }
      finish_operation();
    });
  });
  return rp;
}

caf::result<caf::actor> supervisor_actor::api_start_dynamic(caf::message extra) {
  auto rp = make_response_promise<caf::actor>();
  run_or_defer([this, rp, extra = std::move(extra)]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (!simple())
      return answer(rp, make_error(error::simple_one_for_one,
                                   "start_child with extra arguments needs a "
                                   "simple_one_for_one supervisor"));
    auto spec = spec_.children.front();
    spec.start.args = spec.start.args + extra;
    auto key = add_child(std::move(spec));
    busy_ = true;
    start_one(key, false, [this, rp, key](caf::error err) mutable {
      if (err) {
        erase(key);
        rp.deliver(std::move(err));
      } else {
        rp.deliver(find(key)->handle);
      }
      finish_operation();
    });
  });
  return rp;
}

caf::result<ok_atom> supervisor_actor::api_terminate_child(const std::string& id) {
  auto rp = make_response_promise<ok_atom>();
  run_or_defer([this, rp, id]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (simple())
      return answer(rp, make_error(error::simple_one_for_one,
                                   "terminate_child takes the child's handle"));
    auto c = find_id(id);
    if (c == nullptr)
      return answer(rp, make_error(error::not_found, id));
    auto key = c->key;
    busy_ = true;
    stop_one(key, [this, rp, key]() mutable {
      // A temporary child is gone for good once terminated (OTP).
      if (auto c = find(key); c != nullptr && c->spec.restart == restart_type::temporary)
        erase(key);
      rp.deliver(ok_atom::value);
      finish_operation();
    });
  });
  return rp;
}

caf::result<ok_atom> supervisor_actor::api_terminate_dynamic(const caf::actor& hdl) {
  auto rp = make_response_promise<ok_atom>();
  run_or_defer([this, rp, hdl]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    auto i = find_running(hdl.address());
    if (!simple() || i == running_.end())
      return answer(rp, make_error(error::not_found, caf::to_string(hdl)));
    auto key = i->second;
    busy_ = true;
    stop_one(key, [this, rp, key]() mutable {
      erase(key);
      rp.deliver(ok_atom::value);
      finish_operation();
    });
  });
  return rp;
}

caf::result<caf::actor> supervisor_actor::api_restart_child(const std::string& id) {
  auto rp = make_response_promise<caf::actor>();
  run_or_defer([this, rp, id]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (simple())
      return answer(rp, make_error(error::simple_one_for_one, "restart_child"));
    auto c = find_id(id);
    if (c == nullptr)
      return answer(rp, make_error(error::not_found, id));
    if (c->status == child_status::running)
      return answer(rp, make_error(error::running, id));
    if (c->status == child_status::restarting)
      return answer(rp, make_error(error::restarting, id));
    auto key = c->key;
    busy_ = true;
    start_one(key, true, [this, rp, key](caf::error err) mutable {
      if (err)
        rp.deliver(std::move(err));
      else
        rp.deliver(find(key)->handle);
      finish_operation();
    });
  });
  return rp;
}

caf::result<ok_atom> supervisor_actor::api_delete_child(const std::string& id) {
  auto rp = make_response_promise<ok_atom>();
  run_or_defer([this, rp, id]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (simple())
      return answer(rp, make_error(error::simple_one_for_one, "delete_child"));
    auto c = find_id(id);
    if (c == nullptr)
      return answer(rp, make_error(error::not_found, id));
    if (c->status == child_status::running)
      return answer(rp, make_error(error::running, id));
    if (c->status == child_status::restarting)
      return answer(rp, make_error(error::restarting, id));
    erase(c->key);
    rp.deliver(ok_atom::value);
  });
  return rp;
}

caf::result<std::vector<child_info>> supervisor_actor::api_which_children() {
  auto rp = make_response_promise<std::vector<child_info>>();
  run_or_defer([this, rp]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    std::vector<child_info> result;
    result.reserve(children_.size());
    for (const auto& [key, c] : children_)
      result.push_back(child_info{c.spec.id, c.handle, c.status, c.type, c.where, c.restarts});
    rp.deliver(std::move(result));
  });
  return rp;
}

supervisor_report supervisor_actor::api_observe() {
  // Not deferred behind a running operation (see observe.hpp): every field read here is
  // consistent between two steps of an operation, which is all an observer needs.
  supervisor_report result;
  result.path = path_;
  result.strategy = to_string(spec_.strategy);
  result.shutting_down = shutting_down_;
  // Read from inside the actor, the only thread allowed to: fifo_inbox::size() moves
  // messages from the lock-free stack into the consumer's queue as it counts.
  result.mailbox = mailbox().size();
  result.children.reserve(children_.size());
  for (const auto& [key, c] : children_) {
    result.children.push_back(
      child_report{{c.display_id, c.handle, c.status, c.type, c.where, c.restarts},
                   c.last_exit ? to_text(*c.last_exit) : std::string{}});
    // A local worker counts its own mailbox (a proxy of a `process` child is no counter).
    if (c.handle && c.type == child_type::worker)
      result.children.back().mailbox = detail::queued_messages(c.handle);
  }
  return result;
}

caf::result<child_counts> supervisor_actor::api_count_children() {
  auto rp = make_response_promise<child_counts>();
  run_or_defer([this, rp]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    child_counts result;
    // OTP: a simple_one_for_one has one spec; the type counts are of dynamic children.
    result.specs = simple() ? 1 : children_.size();
    for (const auto& [key, c] : children_) {
      if (c.handle)
        ++result.active;
      if (c.type == child_type::supervisor)
        ++result.supervisors;
      else
        ++result.workers;
    }
    rp.deliver(result);
  });
  return rp;
}

caf::result<child_spec> supervisor_actor::api_get_spec(const std::string& id) {
  auto rp = make_response_promise<child_spec>();
  run_or_defer([this, rp, id]() mutable {
    if (shutting_down_)
      return answer(rp, going_down());
    if (simple())
      return answer(rp, make_error(error::simple_one_for_one, "get_spec"));
    if (auto c = find_id(id))
      return answer(rp, c->spec);
    rp.deliver(make_error(error::not_found, id));
  });
  return rp;
}

caf::result<ok_atom> supervisor_actor::api_stop() {
  auto rp = make_response_promise<ok_atom>();
  stop_waiters_.push_back(rp);
  run_or_defer_first([this] { shutdown(caf::exit_reason::normal); });
  return rp;
}

} // namespace strata::internal
