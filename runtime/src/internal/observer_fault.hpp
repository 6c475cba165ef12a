#pragma once

// The observer's `POST /fault` (docs/design/chaos.md): injects one fault into a child of the
// live tree, through the child's supervisor. Off unless `strata.observer.faults` is set.

#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/string_view.hpp>

#include "internal/observer_http.hpp"

namespace strata::internal {

/// Whether `path` (a request target without its query) is the fault route.
bool is_fault_route(caf::string_view path);

/// Answers a request to the fault route: 405 for a method other than POST, 403 when `enabled`
/// is false, 400 for a body that is not a fault, 404 for an unknown supervisor or child, 409
/// for a fault the child's supervisor refuses, else 200 with what was done; every answer is
/// a JSON object with `ok` and `done` or `error`. Blocks the calling thread, which must not
/// be one of CAF's. @threadsafe
http_response handle_fault(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                           bool enabled, const http_request& req);

} // namespace strata::internal
