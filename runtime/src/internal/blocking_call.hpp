#pragma once

// The blocking client calls of the runtime API (supervisor_client.cpp, names.cpp): one request
// from a scoped actor, its answer or error returned. Private to strata_runtime.

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/after.hpp>
#include <caf/attachable.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "strata/detail/blocking.hpp"
#include "strata/error.hpp"
#include "strata/supervisor.hpp"

namespace strata::internal {

/// Attached to the callee of a blocking call: should the callee end before answering, the
/// caller gets `sec::request_receiver_down` as the answer, as for a call to an actor that
/// had ended already. OTP's gen_server:call monitors its callee so; CAF 0.17 never answers
/// a request whose callee ended after taking it (a dropped promise sends nothing), and an
/// infinite call would wait forever.
class call_watch : public caf::attachable {
public:
  static constexpr size_t token_type = 0x5354; // not one of CAF's (attachable::token)

  call_watch(caf::actor_addr caller, caf::message_id answer)
    : caller_(std::move(caller)), answer_(answer) {
    // nop
  }

  void actor_exited(const caf::error&, caf::execution_unit* host) override {
    if (auto caller = caf::actor_cast<caf::strong_actor_ptr>(caller_))
      caller->enqueue(nullptr, answer_,
                      caf::make_message(caf::make_error(caf::sec::request_receiver_down)), host);
  }

  bool matches(const token& what) override {
    return what.subtype == token_type && what.ptr == this;
  }

private:
  caf::actor_addr caller_;
  caf::message_id answer_;
};

/// Sends `xs...` to `dst` and waits for an answer of type T (at most `timeout`; a request
/// timeout becomes `error::timeout` naming `what`; `dst` ending before it answers,
/// `sec::request_receiver_down`). `dst` must be valid.
template <class T, class... Ts>
caf::expected<T>
blocking_call(const caf::actor& dst, call_timeout timeout, const char* what, Ts&&... xs) {
  strata::detail::before_blocking();
  caf::scoped_actor self{dst->home_system()};
  caf::expected<T> result{caf::error{}};
  bool answered = false;
  auto take = [&](T& x) {
    result = std::move(x);
    answered = true;
  };
  auto fail = [&](caf::error& err) {
    if (err == caf::sec::request_timeout)
      result = make_error(error::timeout, std::string{what});
    else
      result = std::move(err);
    answered = true;
  };
  auto call = self->request(dst, timeout.to_duration(), std::forward<Ts>(xs)...);
  {
    // Most calls are answered at once, and only one that is not watches its callee: a watch
    // costs a scan of the callee's attachables to remove (one per link, so O(children) for
    // a supervisor), and a callee that ended is then heard of 10 ms late at most.
    caf::blocking_actor::accept_one_cond once;
    self->varargs_receive(once, call.id(), take, fail,
                          caf::after(std::chrono::milliseconds{10}) >> [] {});
  }
  if (answered)
    return result;
  auto* callee = caf::actor_cast<caf::abstract_actor*>(dst);
  auto watch = std::make_unique<call_watch>(self->address(), call.id());
  const void* watch_id = watch.get(); // compared only: it is freed by the time dst has ended
  callee->attach(std::move(watch)); // an ended callee runs it at once
  caf::blocking_actor::accept_one_cond once;
  self->varargs_receive(once, call.id(), take, fail);
  callee->detach(caf::attachable::token{call_watch::token_type, watch_id});
  return result;
}

} // namespace strata::internal
