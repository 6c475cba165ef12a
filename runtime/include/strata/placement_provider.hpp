#pragma once

#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "strata/child_spec.hpp"

namespace strata {

class config;

/// How `process` placement is done. The runtime knows the placement exists but not how:
/// strata::nodes implements this interface and installs it with
/// `config::set_placement_provider` before the system starts. `strata::system` calls the
/// hooks in this order: `before_start`, then (with the actor system running) `started`, any
/// number of `spawn`s, and `stopping` once its trees are down.
class placement_provider {
public:
  virtual ~placement_provider();

  /// Called by the `strata::system` constructor before the CAF actor system exists, so while
  /// the process may still be single-threaded (strata::nodes forks its zygote here).
  /// An error disables `process` placement: `spawn` is not called, starts fail with
  /// `placement_unavailable` naming it, and `system::provider_error` reports it.
  virtual caf::error before_start(config& cfg);

  /// Called once the actor system runs.
  virtual void started(caf::actor_system& sys);

  /// Called by `strata::system::shutdown` after every tree is down, before the actor system
  /// goes.
  virtual void stopping(caf::actor_system& sys);

  /// Spawns `child` in another OS process and returns a local handle to it (a proxy). The
  /// actor must wait for the supervisor's init handshake like a local child does.
  /// @threadsafe
  virtual caf::expected<caf::actor>
  spawn(caf::actor_system& sys, const child_spec& child, child_type type) = 0;

  /// What `start` calls with its result: the child, and whether its init already ran in its
  /// process (then the supervisor links to it and takes it as running, without the init
  /// handshake; else the child waits for that handshake, as from `spawn`).
  using start_handler = std::function<void(caf::expected<caf::actor> child, bool initialized)>;

  /// Same as `spawn`, for a caller that must not block (a supervisor): `done` gets the result
  /// either before `start` returns or later from one of `self`'s handlers (a response it
  /// awaits). A child started for a `self` that dies before the result arrives must not
  /// outlive it. The provider may run a `worker` child's init itself, where the child runs,
  /// saving the supervisor's handshake a trip between processes. The default calls `spawn`
  /// and `done` at once (not initialized). @threadsafe
  virtual void start(caf::event_based_actor* self, const child_spec& child, child_type type,
                     start_handler done);

  /// The messages this process exchanged with one node since that node connected.
  struct node_traffic {
    uint32_t node = 0; // the node's index in the cluster
    int32_t pid = 0; // its OS process
    uint64_t sent = 0; // messages this process sent to it
    uint64_t received = 0; // messages this process received from it
  };

  /// The messages exchanged with every live node, for the observer's `/metrics`. The
  /// default has no nodes. @threadsafe
  virtual std::vector<node_traffic> traffic() const;

  /// How many messages wait in the mailbox of each of `children` (handles this provider
  /// returned), as their processes count them (`detail::mailbox_counter`): -1 for one that
  /// does not count, runs in no process of this provider, or whose process did not answer
  /// within `timeout`. Blocks up to `timeout`; for the observer's tree. The default knows
  /// none. @threadsafe
  virtual std::vector<int64_t> mailbox_depths(const std::vector<caf::actor>& children,
                                              caf::timespan timeout);

  /// Sends signal `sig` to the OS process running `child`, a handle this provider returned
  /// (fault injection, fault.hpp: SIGKILL, SIGSEGV, SIGABRT, SIGSTOP, SIGCONT).
  /// @returns the process id signalled; `error::not_found` when `child` runs in no process
  /// of this provider (any more); `placement_unavailable` from the default, which signals
  /// nothing. @threadsafe
  [[nodiscard]] virtual caf::expected<int> signal_process(const caf::actor& child, int sig);
};

} // namespace strata
