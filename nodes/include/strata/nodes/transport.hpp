#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/node_id.hpp>
#include <caf/proxy_registry.hpp>

#include "strata/nodes/cluster_token.hpp"
#include "strata/nodes/inbox.hpp"
#include "strata/nodes/limits.hpp"
#include "strata/nodes/wait_policy.hpp"

namespace strata::nodes {

/// Configuration of a `transport`.
struct transport_options {
  /// The cluster's token.
  cluster_token token;
  /// This node's index: the name of its inbox and its slot in every peer's inbox.
  uint32_t node_index = 0;
  /// Rings (peer slots) of this node's inbox; peers' indices must be below it.
  uint32_t ring_count = 8;
  /// Bytes per ring (a power of two, see `inbox_options`).
  uint64_t ring_capacity = uint64_t{1} << 20;
  /// How the receive thread and blocked senders wait.
  wait_policy wait;
  /// How long a sender waits for room in a full ring before the message fails (`ring_full`,
  /// sent back as an error to a request's sender). Never dropped silently.
  std::chrono::milliseconds send_timeout{2000};
  /// Called from the receive thread when a peer's ring or frames are found corrupt, just before
  /// the transport closes that peer with `peer_lost` (for logging and tests). May be empty.
  std::function<void(uint32_t peer, const caf::error& reason)> on_peer_closed;
  /// Whether a hello from a peer we did not `connect` to opens the way back (our outbox to
  /// its inbox) and answers with our hello: the root accepts the nodes it started.
  bool accept_peers = false;
  /// The peer that relays for this node (a node's root, index 0): a handle to an actor of a
  /// node we have no ring to becomes a proxy whose messages, monitors and links go through the
  /// hub. Without one, such a handle arrives as null.
  std::optional<uint32_t> hub;
  /// Whether this node relays (the root): a message, monitor or link for an actor of another
  /// connected node goes on through our proxy of that actor, and its exit comes back.
  bool relay = false;
  /// Called (on the receive thread) when a local actor sends an exit with reason `kill` to
  /// actor `aid` on `peer` (OTP's brutal_kill): an actor stuck in a handler never reads it,
  /// so the owner of the node's process may kill the process. May be empty.
  std::function<void(uint32_t peer, caf::actor_id aid)> on_kill;
  /// Whether `connect` makes the calling thread hold a liveness token in the peer's inbox
  /// (`outbox::hold_liveness`): set it in a node whose connecting thread lives as long as its
  /// process, so that its root, watching with `on_peer_dying`, learns at once when it dies.
  bool hold_liveness = false;
  /// Called (on a watching thread) when the thread that holds a peer's liveness token died,
  /// or gave the token back: the peer's process is most likely dying (or ending cleanly),
  /// hundreds of microseconds before its exit could be seen otherwise. A hint from shared
  /// memory, to check (see `outbox::hold_liveness`); empty: no watching thread.
  std::function<void(uint32_t peer)> on_peer_dying;
  /// Whether the receive thread runs the actors that messages from the rings wake, on its
  /// own thread, instead of handing each to CAF's scheduler (a wake-up of a sleeping worker:
  /// tens of microseconds here, twice per round trip). Actors those actors wake in turn go
  /// to the scheduler as usual.
  bool run_on_receive_thread = true;
  /// An actor that runs longer than this on the receive thread (a handler that computes, loops
  /// or blocks) gets the reading handed to a new receive thread, so the node keeps receiving;
  /// found by a watchdog that looks at this period. strata's own blocking waits (sending to a
  /// full ring, the client calls of the supervisor and name server API) hand over at once.
  std::chrono::milliseconds receive_takeover{100};
  /// Whether this transport (a cluster's root, with `relay`) works with the middleman's BASP
  /// broker: its proxies and BASP's share one registry, so that other hosts can use handles
  /// of its peers' actors (which they get from this process) and its peers can use handles
  /// of other hosts' actors, through this process (docs/design/nodes.md, "Across hosts").
  /// Needs the middleman loaded with `load_middleman`.
  bool join_basp = false;
};

/// The inbox that a transport with `options` reads: for creating it ahead of the transport
/// (`inbox::create_spare`, then `transport::create` with the prepared inbox).
inbox_options inbox_options_for(const transport_options& options);

/// Connects this process's CAF actor system to the other nodes of a cluster over the
/// shared-memory rings (docs/design/nodes.md, "Transport and location transparency").
///
/// It owns this node's `inbox` and one receive thread that drains it, deserialises frames and
/// delivers messages to local actors. Remote actors appear as proxies (`caf::actor_proxy`)
/// made by its `caf::proxy_registry`; sending to one serialises the message into the peer's
/// ring, through a process-local mutex per peer. Each proxy asks the remote node to watch the
/// real actor: its exit comes back with the exit reason and kills the proxy, so local monitors
/// get `down_msg` and links `exit_msg`. Requests sent to a peer are tracked until answered, so
/// `peer_lost` can fail them.
///
/// The actor system must load `caf::io::middleman` (`cfg.load<caf::io::middleman>()`, or
/// `load_middleman` for `join_basp`): only then does each process have its own node id. Destroy the
/// transport before the actor system.
/// The messages a transport exchanged with one connected peer since it connected.
struct peer_traffic {
  uint32_t peer = 0; // its index
  uint64_t sent = 0; // message frames written to its ring
  uint64_t received = 0; // message frames read from it and delivered
  uint64_t awaiting = 0; // requests sent to it whose responses have not come back
};

class transport {
public:
  /// Creates the inbox and starts the receive thread.
  /// @returns the errors of `inbox::create`; `invalid_argument` if the system has no node id
  /// (middleman not loaded), or for `join_basp` without `load_middleman`.
  [[nodiscard]] static caf::expected<std::unique_ptr<transport>> create(caf::actor_system& sys,
                                                                        transport_options options);

  /// Same, with an inbox made earlier by `inbox::create_spare` with the same token and
  /// geometry, which it renames to `options.node_index`'s name (the fast start of a node
  /// from a warm spare). @returns the errors of `inbox::take_index`, `invalid_argument` if the
  /// geometry differs.
  [[nodiscard]] static caf::expected<std::unique_ptr<transport>>
  create(caf::actor_system& sys, transport_options options, inbox prepared);

  /// Sends "going away" to every connected peer, stops the receive thread, kills every proxy
  /// (reason `remote_link_unreachable`) and removes the inbox.
  ~transport();

  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Opens the inbox of node `peer` (which must exist), says hello and waits up to `timeout`
  /// for the peer's hello. @returns the peer's node id; the errors of `outbox::open`;
  /// `invalid_argument` for a bad index; `node_down` if no hello came in time. @threadsafe
  [[nodiscard]] caf::expected<caf::node_id> connect(uint32_t peer,
                                                    std::chrono::milliseconds timeout);

  /// Same, for a peer whose node id we know already (a node told its root's): sends hello
  /// and returns at once, without waiting for the peer's (the peer must accept peers).
  /// @returns the errors of `outbox::open`; `invalid_argument` for a bad index or id.
  /// @threadsafe
  [[nodiscard]] caf::error connect_known(uint32_t peer, const caf::node_id& node);

  /// A handle to actor `aid` on the connected node `peer` (a proxy; messages to an id that
  /// does not exist there are bounced). @returns `invalid_argument` for an unknown peer or
  /// id 0. @threadsafe
  [[nodiscard]] caf::expected<caf::actor> remote_actor(uint32_t peer, caf::actor_id aid);

  /// Declares node `peer` lost: kills all its proxies with `reason` (monitors get `down_msg`,
  /// links `exit_msg`), fails every request outstanding towards it with `reason`, and closes
  /// the connection. Idempotent. @threadsafe
  void peer_lost(uint32_t peer, const caf::error& reason);

  /// Same, and runs the actors this makes runnable (monitors and links of the proxies fire:
  /// a supervisor of the lost node's child) once each on the calling thread before it
  /// returns, rather than waking a worker of the scheduler for them. For a thread that has
  /// nothing else to do meanwhile. @threadsafe
  void peer_lost_here(uint32_t peer, const caf::error& reason);

  /// Same as `peer_lost`, by node id (ignored for an unknown id). @threadsafe
  void peer_lost(const caf::node_id& node, const caf::error& reason);

  /// Makes slot `peer` usable by a new node once its previous one is known dead (call after
  /// `peer_lost`): the receive thread empties and reopens our inbox's ring of that slot and
  /// forgets the old node, then calls `done` (on the receive thread). @threadsafe
  void release(uint32_t peer, std::function<void()> done);

  /// Whether the end of `peer` will be reported to `on_peer_dying`: it holds a liveness token
  /// that a watching thread watches, on a kernel that can (Linux 5.16). @threadsafe
  bool watches_liveness(uint32_t peer) const;

  /// Has the receive thread run a message with `content` through this transport's encoder
  /// and decoder once, sending nothing, before it reads the next frame: the first real
  /// message of that shape then finds warm the code, data and heap it needs. A process
  /// forked from a zygote meets every path cold the first time it runs it, and a page fault
  /// cost 20-25 us on the machine of docs/bench.md: a spare's first start request took
  /// 100-250 us to decode. A spare rehearses the request it waits for, and its answer,
  /// before it says it is ready. Actor handles in `content` must be local. A message that
  /// fails to encode (an element type not announced to CAF) is skipped: a real one fails the
  /// same way, where its error is reported. @threadsafe
  void rehearse(caf::message content);

  /// The messages exchanged with each peer that said hello (and is not lost), by index.
  /// Counted per message, not per control frame (monitors, exits, hellos). @threadsafe
  std::vector<peer_traffic> traffic() const;

  /// This node's id. @threadsafe
  const caf::node_id& node() const noexcept;

  /// The registry of this transport's proxies (with `join_basp`, BASP's too). @threadsafe
  /// (CAF's own locking)
  caf::proxy_registry& proxies() noexcept;

  class impl;

private:
  explicit transport(std::shared_ptr<impl> x) noexcept;

  // Shared with the proxies (each holds it until killed) and, weakly, with the watchers that
  // report remote exits.
  std::shared_ptr<impl> impl_;
};

} // namespace strata::nodes
