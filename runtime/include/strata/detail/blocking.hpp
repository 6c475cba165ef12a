#pragma once

// A per-thread hook that strata's own blocking waits call before they block, for threads that
// must not block: a transport's receive thread runs the actors its messages wake, and a wait
// on such a thread could wait for a message only that thread would read. Its hook hands the
// reading to another thread first (see strata::nodes::transport).

namespace strata::detail {

/// What `before_blocking` calls on this thread; `arg` is passed back.
using blocking_hook = void (*)(void* arg);

/// Installs `hook` (null: none) for the calling thread.
void set_blocking_hook(blocking_hook hook, void* arg) noexcept;

/// Called by strata's blocking waits (client calls of the supervisor and name server API,
/// `process` spawns) right before they block the calling thread.
void before_blocking();

} // namespace strata::detail
