#pragma once

// The state behind strata::nodes::transport, shared with its proxies. Private to strata_nodes.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "strata/nodes/inbox.hpp"
#include "strata/nodes/outbox.hpp"
#include "strata/nodes/transport.hpp"

#include "internal/basp_bridge.hpp"
#include "internal/liveness_watch.hpp"
#include "internal/wire.hpp"

namespace strata::nodes {

namespace internal {

/// Answers request `mid` of `sender` with `reason` (nothing for other messages). CAF's
/// `detail::sync_request_bouncer` would always answer `request_receiver_down`, losing the
/// reason (e.g. `node_down: killed by signal 9`).
inline void bounce(const caf::strong_actor_ptr& sender, caf::message_id mid,
                   const caf::error& reason) {
  if (sender != nullptr && mid.is_request())
    sender->enqueue(nullptr, mid.response_id(), caf::make_message(reason), nullptr);
}

} // namespace internal

class transport::impl : public caf::proxy_registry::backend,
                        public internal::cluster_members,
                        public std::enable_shared_from_this<transport::impl> {
public:
  impl(caf::actor_system& sys, transport_options options, inbox box);

  ~impl() override;

  // -- proxy_registry::backend (called with the registry's mutex held) ------------------------

  caf::strong_actor_ptr make_proxy(caf::node_id nid, caf::actor_id aid) override;

  void set_last_hop(caf::node_id*) override;

  // -- internal::cluster_members (join_basp) --------------------------------------------------

  bool is_member(const caf::node_id& nid) const override;

  caf::strong_actor_ptr make_member_proxy(const caf::node_id& nid, caf::actor_id aid) override;

  /// Shares the registry of `bridge` (CAF's BASP broker, ours) and becomes its members
  /// (`join_basp`). Before `start`.
  void join(internal::basp_bridge* bridge);

  // -- used by transport and remote_proxy -----------------------------------------------------

  /// Serialises a message for actor `receiver` on `peer` and writes it; on failure a request
  /// is answered with the error. @threadsafe
  void forward(uint32_t peer, const caf::node_id& target, caf::actor_id receiver,
               caf::strong_actor_ptr sender, caf::message_id mid,
               const caf::mailbox_element::forwarding_stack& stages, caf::message msg);

  /// Asks `peer` to link (or unlink) its actor `aid` with `linker`. Queued and sent by the
  /// receive thread: the caller holds both actors' locks (CAF's add_link), and serialising a
  /// handle attaches to the actor, which would deadlock. @threadsafe
  void request_link(uint32_t peer, const caf::node_id& target, caf::actor_id aid,
                    caf::strong_actor_ptr linker, bool link);

  /// Forwards `exit` (an `exit_msg`) to actor `aid` on `peer` later, from the receive thread,
  /// and then removes the link between `proxy` and the exit's source. CAF enqueues an
  /// `exit_msg` to a proxy while it holds the locks of both linked actors (add_backlink of an
  /// actor that already exited), and serialising the source handle or unlinking would take
  /// them again. An exit is its source's last message, so deferring it keeps the order.
  /// @threadsafe
  void defer_exit(caf::strong_actor_ptr proxy, uint32_t peer, caf::strong_actor_ptr sender,
                  caf::message_id mid, caf::message exit);

  /// See transport::connect and connect_known (`known` set: no wait). @threadsafe
  caf::expected<caf::node_id> connect(uint32_t peer, std::chrono::milliseconds timeout,
                                      const caf::node_id& known = caf::node_id{});

  /// See transport::remote_actor. @threadsafe
  caf::expected<caf::actor> remote_actor(uint32_t peer, caf::actor_id aid);

  /// See transport::peer_lost. @threadsafe
  void peer_lost(uint32_t peer, const caf::error& reason, caf::execution_unit* ctx = nullptr);

  /// See `transport::peer_lost_here`.
  void peer_lost_here(uint32_t peer, const caf::error& reason);

  /// See transport::release. @threadsafe
  void release(uint32_t peer, std::function<void()> done);

  /// Index of the connected peer with id `nid`, or -1. @threadsafe
  int64_t index_of(const caf::node_id& nid) const;

  /// The node id of peer `peer` (none before its hello). @threadsafe
  caf::node_id node_of(uint32_t peer) const;
  std::vector<peer_traffic> traffic() const;
  bool watches_liveness(uint32_t peer) const;
  void rehearse(caf::message content);
  void rehearse_here(const caf::message& content); // receive role holder only

  /// Starts the receive thread (once, after construction).
  void start();

  /// Says goodbye to the peers, stops the receive thread, kills all proxies.
  void stop();

  /// Called where an actor running on the receive thread is about to block (a full ring,
  /// `strata::detail::before_blocking`): hands the reading to a new receive thread, so that
  /// what it waits for can still arrive. Does nothing on other threads.
  void yield_receive_role();

  /// Called by the receive threads' execution unit for an actor of `sys` that became
  /// runnable: queues it to run on this receive thread (true) if the calling thread is our
  /// receive thread delivering messages; otherwise false (CAF's scheduler runs it).
  bool run_here(caf::resumable* job, caf::actor_system* sys);

  caf::actor_system& sys_;
  transport_options options_;
  const uint64_t serial_; // unique in the process (see registered_sender in transport.cpp)
  caf::proxy_registry own_registry_; // backend: *this
  // Where our proxies are: own_registry_, or (join_basp) the BASP broker's, whose backend
  // sends peers' actors to our make_proxy. Set before start.
  caf::proxy_registry* registry_ = &own_registry_;

private:
  // A peer's sending side. `mtx` is a process-local lock: senders on any thread serialise
  // their writes into our ring of the peer's inbox through it (never a lock in shared memory).
  // The receive thread never waits for room (two nodes whose receive threads both wait on
  // full rings would deadlock): what it cannot write at once goes to `backlog`, which it
  // retries between reads and which every other sender drains first, so order is kept.
  struct sender {
    std::mutex mtx; // guards out, lost_out, backlog, backlog_bytes
    std::optional<outbox> out;
    // A lost peer's outbox, unmapped by release(): unmapping takes 0.1-0.2 ms, which
    // peer_lost would spend on the path that restarts the peer's children.
    std::optional<outbox> lost_out;
    std::deque<std::vector<char>> backlog;
    uint64_t backlog_bytes = 0;
    // Message frames sent (or queued in the backlog) to the peer. Written under `mtx`; read
    // by the observer without it (relaxed: a statistic, it orders nothing).
    std::atomic<uint64_t> sent{0};
  };

  // Message frames delivered from one peer. Written by the receive role holder only (the
  // role's hand-over orders successive holders), read by any thread (relaxed: a statistic).
  // A cache line each: the receive thread writes one while senders write `sender::sent`.
  struct alignas(64) received_count {
    std::atomic<uint64_t> n{0};
  };

  struct request_key {
    const caf::actor_control_block* requester;
    uint64_t request;
    bool operator==(const request_key& other) const noexcept {
      return requester == other.requester && request == other.request;
    }
  };
  struct request_key_hash {
    size_t operator()(const request_key& k) const noexcept {
      return std::hash<const void*>{}(k.requester) ^ (k.request * 0x9E3779B97F4A7C15ull);
    }
  };

  // What we know of a peer, guarded by state_mtx_.
  struct peer_state {
    caf::node_id node; // from its hello; none until then
    bool lost = false;
    // Requests sent to it and not answered yet: (requester, request id without flags) →
    // requester and the request's full message id. The requester is its control block here
    // (a local actor, or our proxy of another node's actor when relaying), which the entry
    // keeps alive: no other actor can have its address meanwhile, and the response resolves
    // to that same block, without copying or comparing node ids.
    std::unordered_map<request_key, std::pair<caf::strong_actor_ptr, caf::message_id>,
                       request_key_hash>
      requests;
  };

  void receive_loop(uint64_t generation);
  // Reads the frames that are there (at most a batch) after `first`, handling each.
  void handle_batch(receive_result first, std::vector<char>& buf, caf::execution_unit& decoder,
                    caf::execution_unit* unit);
  // Runs the actors queued in jobs_, each once; false if the receive role was lost meanwhile.
  bool run_jobs(uint64_t generation, caf::execution_unit& unit);
  // Starts a receive thread holding the role of `generation` (threads_mtx_ not held).
  void start_reader(uint64_t generation);
  // Moves the role from `expected` (a holder running an actor) to the next generation and
  // starts its reader; false if the role was not `expected` any more.
  bool take_role(uint64_t expected);
  void watchdog_loop();
  // stop(): retires the role and joins the receive threads (leaves one stuck in an actor).
  void join_readers();
  // Opens our ring (slot = our index) in node `peer`'s inbox.
  caf::expected<outbox> open_outbox(uint32_t peer) const;
  void accept(uint32_t slot);
  // Sends our hello on the ring to `peer` (the first frame of every ring).
  caf::error say_hello(uint32_t peer);
  void run_releases();
  void handle(uint32_t slot, const std::vector<char>& buf, caf::execution_unit& decoder,
              caf::execution_unit* unit);
  // Enqueues a message frame's content to its receiver, with `unit` as the sender's context.
  void deliver(uint32_t slot, internal::frame& f, caf::execution_unit* unit);
  void watch(uint32_t slot, const caf::node_id& target, caf::actor_id aid);
  // The actor (target, aid) as this node reaches it: the local actor, or (relaying) our
  // proxy of it; null if neither.
  caf::strong_actor_ptr resolve(const caf::node_id& target, caf::actor_id aid);
  // A response to `request` of the requester `aid` on `node` came from peer `slot`: no
  // longer outstanding. `requester` is what it resolved to (null: gone).
  void answered(uint32_t slot, const caf::strong_actor_ptr& requester, const caf::node_id& node,
                caf::actor_id aid, uint64_t request);
  // Marks the queues below as holding work and wakes the receive thread.
  void wake_for_pending();
  void flush_pending();
  // Retries every backlog without waiting; returns whether some backlog is left.
  bool flush_backlogs();
  // Writes `bytes` after the backlog, waiting for room until the deadline. s.mtx held.
  caf::error write_in_order(sender& s, caf::span<const char> bytes);
  void close_peer(uint32_t slot, const caf::error& reason);
  // Writes a frame to `peer` (after its backlog), counting it in `sent` if `message`.
  caf::error send(uint32_t peer, const std::vector<char>& bytes, bool message = false);
  // The body of `send`. s.mtx held.
  caf::error send_locked(sender& s, uint32_t peer, const std::vector<char>& bytes);
  caf::error send_down(uint32_t peer, const caf::node_id& target, caf::actor_id aid,
                       const caf::error& reason);

  inbox inbox_; // receive thread only (except notify)
  std::vector<std::unique_ptr<sender>> senders_; // one per peer index; fixed size
  // Guards state_, former_, former_set_, pending_monitors_, pending_links_, pending_exits_,
  // pending_releases_, pending_rehearsals_. Taken after the registry's
  // mutex (make_proxy), never the other way round.
  mutable std::mutex state_mtx_;
  // Incremented (under state_mtx_) at every change of a peer's `node` or `lost`: the receive
  // thread checks it per frame instead of taking state_mtx_ (see seen_).
  std::atomic<uint64_t> peers_version_{0};
  std::condition_variable hello_cv_; // signalled when a hello arrives
  std::vector<peer_state> state_;
  // Node ids of peers released since (oldest first, at most max_former): BASP must still
  // know them as ours (is_member), or a handle of a dead node's actor coming back from
  // another host would make BASP route to it through that host, which routes back here.
  std::deque<caf::node_id> former_;
  std::unordered_set<caf::node_id> former_set_;
  // The receive role holder's copy of each peer's `node` and `lost`, valid while `version`
  // equals peers_version_. Receive role holder only (the role's hand-over orders it).
  struct peer_view {
    uint64_t version = ~uint64_t{0};
    bool lost = false;
    caf::node_id node;
    internal::actor_cache senders;
  };
  std::vector<peer_view> seen_;
  std::vector<received_count> received_; // by peer index; fixed size
  // The last local actor a message was delivered to. Receive role holder only.
  internal::actor_cache receiver_cache_;
  struct monitor_request {
    uint32_t peer;
    caf::node_id target;
    caf::actor_id aid;
  };
  std::vector<monitor_request> pending_monitors_; // made, not yet requested
  struct link_request {
    uint32_t peer;
    caf::node_id target;
    caf::actor_id aid;
    caf::strong_actor_ptr linker;
    bool link;
  };
  std::vector<link_request> pending_links_; // not yet sent
  struct exit_request {
    caf::strong_actor_ptr proxy;
    uint32_t peer;
    caf::strong_actor_ptr sender;
    caf::message_id mid;
    caf::message exit;
    // The exit's source, held: the exit names it by a weak address, which would serialise as
    // no actor once its last handle went, e.g. a node's child whose keeper let go of it.
    caf::strong_actor_ptr source;
  };
  std::vector<exit_request> pending_exits_; // not yet forwarded
  std::vector<caf::message> pending_rehearsals_; // not yet run (see rehearse)
  std::vector<std::pair<uint32_t, std::function<void()>>> pending_releases_;
  // Whether some sender has a backlog: the receive thread then polls instead of sleeping.
  // Relaxed: a hint; the backlogs themselves are read under their mutexes.
  std::atomic<bool> backlogged_{false};
  // Whether the pending queues (monitors, links, exits, releases) may hold work: the receive
  // thread takes state_mtx_ for them only then.
  std::atomic<bool> pending_{false};
  std::atomic<bool> stopping_{false};

  // -- the receive role -----------------------------------------------------------------------
  // One thread at a time reads the inbox and runs the actors its messages wake: the holder of
  // the receive role, `(generation << 1) | running`, where `running` is set while it runs an
  // actor. Every change is a compare-and-swap. An actor that runs for a whole watchdog period,
  // or that is about to block, loses its thread the role: the role moves to generation + 1 and
  // a new receive thread takes it, while the old thread finishes that actor and ends. The
  // swap orders the inbox and jobs_ between the two threads.
  std::atomic<uint64_t> role_{0};
  std::atomic<uint64_t> jobs_started_{0}; // lets the watchdog tell one long job from many
  std::deque<caf::resumable*> jobs_; // woken by deliveries; the role's holder only
  struct reader {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex threads_mtx_; // guards readers_
  std::vector<reader> readers_; // the holder's thread last
  // Watches peers' liveness tokens (only with options_.on_peer_dying).
  mutable std::mutex liveness_mtx_; // guards liveness_ (not its use by its own thread)
  std::unique_ptr<internal::liveness_watch> liveness_;
  // The BASP broker we share a registry with (join_basp), kept alive while we use it.
  internal::basp_bridge* bridge_ = nullptr;
  caf::strong_actor_ptr bridge_ref_;
  std::mutex watchdog_mtx_;
  std::condition_variable watchdog_cv_; // stop() wakes the watchdog
  std::thread watchdog_;
};

} // namespace strata::nodes
