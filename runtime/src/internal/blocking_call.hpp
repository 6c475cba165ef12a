#pragma once

// The blocking client calls of the runtime API (supervisor_client.cpp, names.cpp): one request
// from a scoped actor, its answer or error returned. Private to strata_runtime.

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "strata/detail/blocking.hpp"
#include "strata/error.hpp"
#include "strata/supervisor.hpp"

namespace strata::internal {

/// Sends `xs...` to `dst` and waits for an answer of type T (at most `timeout`; a request
/// timeout becomes `error::timeout` naming `what`). `dst` must be valid.
template <class T, class... Ts>
caf::expected<T>
blocking_call(const caf::actor& dst, call_timeout timeout, const char* what, Ts&&... xs) {
  strata::detail::before_blocking();
  caf::scoped_actor self{dst->home_system()};
  caf::expected<T> result{caf::error{}};
  self->request(dst, timeout.to_duration(), std::forward<Ts>(xs)...)
    .receive([&](T& x) { result = std::move(x); },
             [&](caf::error& err) {
               if (err == caf::sec::request_timeout)
                 result = make_error(error::timeout, std::string{what});
               else
                 result = std::move(err);
             });
  return result;
}

} // namespace strata::internal
