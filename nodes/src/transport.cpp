#include "strata/nodes/transport.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_proxy.hpp>
#include <caf/actor_registry.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_actor.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "strata/detail/blocking.hpp"
#include "strata/nodes/error.hpp"
#include "strata/nodes/segments.hpp"

#include "internal/remote_proxy.hpp"
#include "internal/transport_impl.hpp"

namespace strata::nodes {

using internal::frame;
using internal::frame_kind;

namespace {

// Encoding buffer of the calling thread: senders on any thread encode outside the per-peer
// lock, without allocating per message.
std::vector<char>& encode_buffer() {
  thread_local std::vector<char> buf;
  return buf;
}

// Numbers transports for the calling thread's registered_sender: one that outlived its
// transport never matches a later one, even at the same address.
std::atomic<uint64_t> transport_serials{0};

// The local sender the calling thread put into the registry last, for transport `serial`.
internal::registered_sender& registered_sender(uint64_t serial) {
  thread_local internal::registered_sender last;
  if (last.transport != serial)
    last = internal::registered_sender{serial, 0};
  return last;
}

// What the calling thread is to a transport: one of its receive threads (`owner`), holding
// the role of `generation` unless `lost`; `in_job` while it runs an actor. A receive thread
// must never wait for room in a ring: an actor it runs may, once it has handed the role on.
struct receive_thread_state {
  transport::impl* owner = nullptr;
  uint64_t generation = 0;
  bool in_job = false;
  bool lost = false;
};

thread_local receive_thread_state this_thread;

constexpr uint64_t running_bit = 1;

constexpr uint64_t role_of(uint64_t generation, bool running = false) {
  return (generation << 1) | (running ? running_bit : 0);
}

// What a receive thread may hold back for one peer before it declares the peer lost: a
// peer that reads nothing while we keep answering it is dead or hung.
constexpr uint64_t max_backlog_bytes = uint64_t{64} << 20;

// Frames read in a row before the actors they woke run: an actor then handles them together.
constexpr int max_batch = 64;

// How many released peers' node ids stay known as the cluster's (join_basp): ~80 bytes
// each. A handle of an actor of an older dead node, come back from another host, is taken
// for one behind that host, and messages to it would go back and forth between the two.
constexpr size_t max_former = 65536;

// Messages an actor handles on the receive thread before the thread reads again.
constexpr size_t receive_thread_throughput = 64;

// The receive threads' execution unit: an actor made runnable by a delivery runs on the
// receive thread; anything else goes to CAF's scheduler. Actors keep a pointer to the unit
// they last ran on (a response promise delivered from another thread uses it), so units live
// as long as the process: one per actor system, never freed.
class delivery_unit : public caf::execution_unit {
public:
  explicit delivery_unit(caf::actor_system* sys) : caf::execution_unit(sys) {}

  void exec_later(caf::resumable* job) override {
    auto* owner = this_thread.owner;
    if (owner == nullptr || !owner->run_here(job, system_))
      system().scheduler().enqueue(job);
  }
};

// The `Unit` of actor system `sys`, made on first use. Reachable until exit, never destroyed:
// a late promise may still point at a unit.
template <class Unit>
Unit& unit_for(caf::actor_system& sys) {
  static std::mutex mtx;
  static auto* units = new std::map<caf::actor_system*, std::unique_ptr<Unit>>;
  std::lock_guard<std::mutex> guard{mtx};
  auto& unit = (*units)[&sys];
  if (unit == nullptr)
    unit = std::make_unique<Unit>(&sys);
  return *unit;
}

// Clears `flag` and says whether it was set. Loaded first: an exchange writes the flag's
// cache line even when it finds it clear, and the receive loop asks on every turn.
bool take_flag(std::atomic<bool>& flag, std::memory_order order) noexcept {
  return flag.load(std::memory_order_relaxed) && flag.exchange(false, order);
}

// The unit of peer_lost_here: collects the actors that killing a lost peer's proxies makes
// runnable, on the thread collecting (`collecting` set), for that thread to run; elsewhere,
// CAF's scheduler runs them. One per actor system, never freed, like delivery_unit.
class inline_unit : public caf::execution_unit {
public:
  explicit inline_unit(caf::actor_system* sys) : caf::execution_unit(sys) {}

  void exec_later(caf::resumable* job) override {
    if (collecting != nullptr && job->subtype() != caf::resumable::io_actor)
      collecting->push_back(job);
    else
      system().scheduler().enqueue(job);
  }

  static thread_local std::vector<caf::resumable*>* collecting;
};

thread_local std::vector<caf::resumable*>* inline_unit::collecting = nullptr;

} // namespace

transport::impl::impl(caf::actor_system& sys, transport_options options, inbox box)
  : sys_(sys),
    options_(std::move(options)),
    serial_(transport_serials.fetch_add(1, std::memory_order_relaxed) + 1),
    own_registry_(sys, *this),
    inbox_(std::move(box)),
    state_(options_.ring_count),
    seen_(options_.ring_count),
    received_(options_.ring_count) {
  senders_.reserve(options_.ring_count);
  for (uint32_t i = 0; i < options_.ring_count; ++i)
    senders_.push_back(std::make_unique<sender>());
}

transport::impl::~impl() = default;

void transport::impl::start() {
  if (options_.on_peer_dying)
    liveness_ = std::make_unique<internal::liveness_watch>(inbox_, options_.on_peer_dying);
  start_reader(0);
  if (options_.run_on_receive_thread && options_.receive_takeover.count() > 0)
    watchdog_ = std::thread{[this] {
      caf::detail::set_thread_name("strata.watchdog");
      watchdog_loop();
    }};
}

void transport::impl::start_reader(uint64_t generation) {
  std::lock_guard<std::mutex> guard{threads_mtx_};
  // stop() sets stopping_ before it takes the threads: a reader started later is not needed.
  if (stopping_.load(std::memory_order_acquire))
    return;
  // Threads that handed the role on and finished their actor since.
  readers_.erase(std::remove_if(readers_.begin(), readers_.end(),
                                [](reader& r) {
                                  if (!r.done->load(std::memory_order_acquire))
                                    return false;
                                  r.thread.join();
                                  return true;
                                }),
                 readers_.end());
  auto done = std::make_shared<std::atomic<bool>>(false);
  // The thread holds the transport: a thread that outlives stop() (its actor still running)
  // must find it when it returns.
  readers_.push_back(reader{std::thread{[self = shared_from_this(), generation, done] {
                              caf::detail::set_thread_name("strata.receive");
                              self->receive_loop(generation);
                              done->store(true, std::memory_order_release);
                            }},
                            done});
}

bool transport::impl::take_role(uint64_t expected) {
  if (!(expected & running_bit))
    return false;
  auto next = (expected >> 1) + 1;
  if (!role_.compare_exchange_strong(expected, role_of(next), std::memory_order_acq_rel))
    return false;
  start_reader(next);
  return true;
}

void transport::impl::yield_receive_role() {
  auto& me = this_thread;
  if (me.owner != this || me.lost || !me.in_job)
    return;
  me.lost = true; // whether we move the role or the watchdog did already
  take_role(role_of(me.generation, true));
}

bool transport::impl::run_here(caf::resumable* job, caf::actor_system* sys) {
  auto& me = this_thread;
  // Only actors woken by a delivery run here; what they wake in turn goes to CAF's workers,
  // so a node's actors still run in parallel. Brokers belong to the middleman.
  if (me.owner != this || me.lost || me.in_job || sys != &sys_
      || job->subtype() == caf::resumable::io_actor)
    return false;
  jobs_.push_back(job);
  return true;
}

bool transport::impl::run_jobs(uint64_t generation, caf::execution_unit& unit) {
  auto& me = this_thread;
  for (auto n = jobs_.size(); n > 0 && !jobs_.empty(); --n) {
    auto* job = jobs_.front();
    jobs_.pop_front();
    jobs_started_.fetch_add(1, std::memory_order_relaxed);
    auto idle = role_of(generation);
    if (!role_.compare_exchange_strong(idle, role_of(generation, true),
                                       std::memory_order_acq_rel)) {
      me.lost = true; // stop() retired the role
      sys_.scheduler().enqueue(job);
      return false;
    }
    me.in_job = true;
    auto result = job->resume(&unit, receive_thread_throughput);
    me.in_job = false;
    auto running = role_of(generation, true);
    bool kept = role_.compare_exchange_strong(running, role_of(generation),
                                              std::memory_order_acq_rel);
    if (result == caf::resumable::resume_later) {
      if (kept)
        jobs_.push_back(job);
      else
        sys_.scheduler().enqueue(job);
    } else {
      // done or awaiting_message: the reference taken when it was scheduled
      intrusive_ptr_release(job);
    }
    if (!kept) {
      me.lost = true;
      return false;
    }
  }
  return true;
}

void transport::impl::watchdog_loop() {
  uint64_t last_role = 0;
  uint64_t last_jobs = 0;
  std::unique_lock<std::mutex> guard{watchdog_mtx_};
  while (!stopping_.load(std::memory_order_acquire)) {
    watchdog_cv_.wait_for(guard, options_.receive_takeover,
                          [this] { return stopping_.load(std::memory_order_acquire); });
    auto role = role_.load(std::memory_order_acquire);
    auto jobs = jobs_started_.load(std::memory_order_relaxed);
    // The same actor has been running since the last look: at least one whole period.
    if ((role & running_bit) && role == last_role && jobs == last_jobs)
      take_role(role);
    last_role = role;
    last_jobs = jobs;
  }
}

caf::strong_actor_ptr transport::impl::make_proxy(caf::node_id nid, caf::actor_id aid) {
  // Relaxed: a proxy made while stopping is killed by stop() anyway (its registry_->clear(),
  // or with join_basp the BASP broker's when the middleman stops).
  if (nid == caf::none || aid == caf::invalid_actor_id || stopping_.load(std::memory_order_relaxed))
    return nullptr;
  auto index = index_of(nid);
  // A node we have no ring to is reached through the hub (a node's root), which relays.
  if (index < 0 && options_.hub)
    index = node_of(*options_.hub) != caf::none ? static_cast<int64_t>(*options_.hub) : -1;
  if (index < 0)
    return nullptr; // unreachable: the handle arrives as null
  auto slot = static_cast<uint32_t>(index);
  caf::actor_config cfg;
  auto result = caf::make_actor<internal::remote_proxy, caf::strong_actor_ptr>(
    aid, nid, &sys_, cfg, shared_from_this(), slot);
  // Asking the peer to watch the actor means writing to its ring, which may block; the
  // registry's mutex is held here, so the request is sent later (flush_pending), unlocked.
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    pending_monitors_.push_back(monitor_request{slot, nid, aid});
  }
  wake_for_pending(); // the receive thread sends it now, not at its next poll
  return result;
}

void transport::impl::set_last_hop(caf::node_id*) {
  // Every peer is one hop away: nothing to remember.
}

bool transport::impl::is_member(const caf::node_id& nid) const {
  if (nid == caf::none || nid == sys_.node())
    return false;
  std::lock_guard<std::mutex> guard{state_mtx_};
  for (auto& st : state_)
    if (st.node == nid)
      return true;
  return former_set_.count(nid) > 0;
}

caf::strong_actor_ptr transport::impl::make_member_proxy(const caf::node_id& nid,
                                                         caf::actor_id aid) {
  return make_proxy(nid, aid); // null for a peer not connected (any more)
}

void transport::impl::join(internal::basp_bridge* bridge) {
  bridge_ = bridge;
  bridge_ref_ = caf::strong_actor_ptr{bridge->ctrl()};
  registry_ = &bridge->proxies();
  bridge->attach(std::static_pointer_cast<internal::cluster_members>(shared_from_this()));
}

int64_t transport::impl::index_of(const caf::node_id& nid) const {
  std::lock_guard<std::mutex> guard{state_mtx_};
  for (size_t i = 0; i < state_.size(); ++i)
    if (!state_[i].lost && state_[i].node == nid)
      return static_cast<int64_t>(i);
  return -1;
}

void transport::impl::request_link(uint32_t peer, const caf::node_id& target, caf::actor_id aid,
                                   caf::strong_actor_ptr linker, bool link) {
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    pending_links_.push_back(link_request{peer, target, aid, std::move(linker), link});
  }
  wake_for_pending();
}

void transport::impl::defer_exit(caf::strong_actor_ptr proxy, uint32_t peer,
                                 caf::strong_actor_ptr sender, caf::message_id mid,
                                 caf::message exit) {
  // (Taking a strong reference takes no lock: safe under the caller's.)
  auto source = caf::actor_cast<caf::strong_actor_ptr>(exit.get_as<caf::exit_msg>(0).source);
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    pending_exits_.push_back(exit_request{std::move(proxy), peer, std::move(sender), mid,
                                          std::move(exit), std::move(source)});
  }
  wake_for_pending();
}

void transport::impl::wake_for_pending() {
  // SYNC POINT WRITE: release pairs with the acquire exchange in receive_loop, which then
  // takes the queues' mutex and finds what was queued before this store.
  pending_.store(true, std::memory_order_release);
  inbox_.notify();
}

void transport::impl::flush_pending() {
  std::vector<monitor_request> monitors;
  std::vector<link_request> links;
  std::vector<exit_request> exits;
  std::vector<caf::message> rehearsals;
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    monitors.swap(pending_monitors_);
    links.swap(pending_links_);
    exits.swap(pending_exits_);
    rehearsals.swap(pending_rehearsals_);
  }
  for (auto& x : rehearsals)
    rehearse_here(x);
  for (auto& x : exits) {
    auto source = x.exit.get_as<caf::exit_msg>(0).source;
    if (options_.on_kill && x.exit.get_as<caf::exit_msg>(0).reason == caf::exit_reason::kill)
      options_.on_kill(x.peer, x.proxy->id());
    forward(x.peer, x.proxy->node(), x.proxy->id(), std::move(x.sender), x.mid, {},
            std::move(x.exit));
    static_cast<caf::monitorable_actor*>(x.proxy->get())->unlink_from(source);
  }
  for (auto& x : links) {
    auto msg = x.link ? caf::make_message(caf::link_atom::value, std::move(x.linker))
                      : caf::make_message(caf::unlink_atom::value, std::move(x.linker));
    forward(x.peer, x.target, x.aid, nullptr, caf::make_message_id(), {}, std::move(msg));
  }
  caf::scoped_execution_unit ctx{&sys_};
  auto& buf = encode_buffer();
  for (auto& m : monitors) {
    auto err = internal::encode_monitor(ctx, buf, m.target, m.aid);
    if (!err)
      err = send(m.peer, buf);
    if (err)
      // Without the watch the proxy would never learn of the actor's exit: treat the actor
      // as unreachable now rather than leave monitors waiting forever.
      registry_->erase(m.target, m.aid, err);
  }
}

caf::node_id transport::impl::node_of(uint32_t peer) const {
  std::lock_guard<std::mutex> guard{state_mtx_};
  return peer < state_.size() ? state_[peer].node : caf::node_id{};
}

caf::error transport::impl::send(uint32_t peer, const std::vector<char>& bytes, bool message) {
  auto& s = *senders_[peer];
  std::lock_guard<std::mutex> guard{s.mtx};
  auto err = send_locked(s, peer, bytes);
  // Under s.mtx, which every writer of `sent` holds: a load and a store, no read-modify-write
  // on the message path.
  if (!err && message)
    s.sent.store(s.sent.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return err;
}

caf::error transport::impl::send_locked(sender& s, uint32_t peer, const std::vector<char>& bytes) {
  caf::span<const char> msg{bytes.data(), bytes.size()};
  if (!s.out)
    return make_error(error::node_down, "no connection to node " + std::to_string(peer));
  auto& me = this_thread;
  if (me.owner != this || me.lost)
    return write_in_order(s, msg);
  if (s.backlog.empty()) {
    auto err = s.out->try_write(msg);
    if (!is(err, error::would_block) && !is(err, error::exceeds_ring))
      return err;
  }
  if (me.in_job) {
    // An actor running on the receive thread: it may wait for room like any sender once
    // another thread reads in its place.
    yield_receive_role();
    return write_in_order(s, msg);
  }
  if (s.backlog_bytes + bytes.size() > max_backlog_bytes)
    return make_error(error::ring_full, "node " + std::to_string(peer)
                                          + " has not read its ring for too long; backlog full");
  s.backlog.push_back(bytes);
  s.backlog_bytes += bytes.size();
  backlogged_.store(true, std::memory_order_relaxed);
  return caf::none;
}

caf::error transport::impl::write_in_order(sender& s, caf::span<const char> bytes) {
  auto deadline = ring_writer::clock::now() + options_.send_timeout;
  while (!s.backlog.empty()) {
    auto& front = s.backlog.front();
    if (auto err = s.out->write(caf::span<const char>{front.data(), front.size()}, deadline))
      return err;
    s.backlog_bytes -= front.size();
    s.backlog.pop_front();
  }
  return s.out->write(bytes, deadline);
}

bool transport::impl::flush_backlogs() {
  bool left = false;
  for (uint32_t peer = 0; peer < senders_.size(); ++peer) {
    auto& s = *senders_[peer];
    caf::error failed;
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      while (s.out && !s.backlog.empty()) {
        auto& front = s.backlog.front();
        caf::span<const char> msg{front.data(), front.size()};
        auto err = s.out->try_write(msg);
        // A message too large for try_write goes in fragments; the reader drains them as
        // they come, so a short wait is enough, and a failed attempt is retried later.
        if (is(err, error::exceeds_ring))
          err = s.out->write(msg, ring_writer::clock::now() + std::chrono::milliseconds{1});
        if (is(err, error::would_block) || is(err, error::ring_full))
          break;
        if (err) {
          failed = std::move(err);
          break;
        }
        s.backlog_bytes -= front.size();
        s.backlog.pop_front();
      }
      left = left || (s.out && !s.backlog.empty() && !failed);
    }
    if (failed)
      close_peer(peer, failed);
  }
  return left;
}

caf::error transport::impl::send_down(uint32_t peer, const caf::node_id& target, caf::actor_id aid,
                                      const caf::error& reason) {
  caf::scoped_execution_unit ctx{&sys_};
  auto& buf = encode_buffer();
  if (auto err = internal::encode_down(ctx, buf, target, aid, reason)) {
    // The reason's context holds a type the peer cannot read: send its code alone.
    auto plain = caf::error{reason.code(), reason.category()};
    if (auto err2 = internal::encode_down(ctx, buf, target, aid, plain))
      return err2;
  }
  return send(peer, buf);
}

void transport::impl::forward(uint32_t peer, const caf::node_id& target, caf::actor_id receiver,
                              caf::strong_actor_ptr sender, caf::message_id mid,
                              const caf::mailbox_element::forwarding_stack& stages,
                              caf::message msg) {
  // Track a request until its response comes back, so that peer_lost can fail it (CAF's
  // request() does not monitor its receiver). Only the plain case, a response going to the
  // sender itself, is tracked.
  bool tracked = mid.is_request() && sender != nullptr && stages.empty();
  auto key = [&] { return request_key{sender.get(), mid.request_id().integer_value()}; };
  caf::node_id peer_node;
  bool lost = false;
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    lost = state_[peer].lost;
    peer_node = state_[peer].node;
    if (!lost && tracked)
      state_[peer].requests.emplace(key(), std::make_pair(sender, mid));
  }
  if (lost) {
    internal::bounce(sender, mid,
                     make_error(error::node_down, "node " + std::to_string(peer) + " is lost"));
    return;
  }
  caf::scoped_execution_unit ctx{&sys_};
  auto& buf = encode_buffer();
  auto err = internal::encode_message(ctx, buf, peer_node, target, sender, receiver, mid, stages,
                                      msg, &registered_sender(serial_));
  if (!err)
    err = send(peer, buf, true);
  if (!err)
    return;
  if (tracked) {
    std::lock_guard<std::mutex> guard{state_mtx_};
    state_[peer].requests.erase(key());
  }
  if (mid.is_request())
    internal::bounce(sender, mid, err);
  // An asynchronous message has no one to answer: say so rather than drop it silently.
  else if (!mid.is_response())
    fprintf(stderr, "strata::nodes::transport: message to node %u not sent: %s\n", peer,
            to_text(err).c_str());
}

caf::expected<caf::node_id> transport::impl::connect(uint32_t peer,
                                                     std::chrono::milliseconds timeout,
                                                     const caf::node_id& known) {
  if (peer >= options_.ring_count || peer == options_.node_index)
    return make_error(error::invalid_argument, "peer index", peer);
  if (known == sys_.node())
    return make_error(error::invalid_argument, "a peer with our own node id", peer);
  auto out = open_outbox(peer);
  if (!out)
    return out.error();
  // Before the hello: the peer watches the token from the hello on.
  if (options_.hold_liveness)
    if (auto err = out->hold_liveness())
      return err;
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    state_[peer].lost = false;
    if (known != caf::none)
      state_[peer].node = known; // its hello must then carry the same id
    peers_version_.fetch_add(1, std::memory_order_release); // SYNC POINT WRITE: handle()
  }
  {
    auto& s = *senders_[peer];
    std::lock_guard<std::mutex> guard{s.mtx};
    s.out.emplace(std::move(*out));
  }
  if (auto err = say_hello(peer))
    return err;
  if (known != caf::none)
    return known;
  std::unique_lock<std::mutex> guard{state_mtx_};
  if (!hello_cv_.wait_for(guard, timeout, [&] { return state_[peer].node != caf::none; }))
    return make_error(error::node_down, "no hello from node " + std::to_string(peer));
  return state_[peer].node;
}

caf::expected<caf::actor> transport::impl::remote_actor(uint32_t peer, caf::actor_id aid) {
  auto nid = node_of(peer);
  if (nid == caf::none || aid == caf::invalid_actor_id)
    return make_error(error::invalid_argument, "unknown peer or actor id 0", peer, aid);
  auto ptr = registry_->get_or_put(nid, aid);
  flush_pending();
  if (ptr == nullptr)
    return make_error(error::node_down, "node " + std::to_string(peer) + " is lost");
  return caf::actor_cast<caf::actor>(std::move(ptr));
}

void transport::impl::peer_lost_here(uint32_t peer, const caf::error& reason) {
  auto& unit = unit_for<inline_unit>(sys_);
  std::vector<caf::resumable*> jobs;
  inline_unit::collecting = &jobs;
  peer_lost(peer, reason, &unit);
  inline_unit::collecting = nullptr;
  // Each once; what they make runnable in turn, and what has more to do, goes to the
  // scheduler.
  for (auto* job : jobs)
    if (job->resume(&unit, receive_thread_throughput) == caf::resumable::resume_later)
      sys_.scheduler().enqueue(job);
    else
      intrusive_ptr_release(job); // the reference taken when it was scheduled
}

void transport::impl::peer_lost(uint32_t peer, const caf::error& reason, caf::execution_unit* ctx) {
  if (peer >= state_.size())
    return;
  caf::node_id nid;
  decltype(peer_state::requests) requests;
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    auto& st = state_[peer];
    if (st.lost)
      return;
    st.lost = true;
    peers_version_.fetch_add(1, std::memory_order_release); // SYNC POINT WRITE: handle()
    nid = st.node;
    requests.swap(st.requests);
  }
  {
    auto& s = *senders_[peer];
    std::lock_guard<std::mutex> guard{s.mtx};
    s.lost_out = std::exchange(s.out, std::nullopt);
    s.backlog.clear();
    s.backlog_bytes = 0;
  }
  // Outside every lock: killing a proxy runs its monitors and links. CAF's get_or_put keeps
  // an entry even when make_proxy refused (null): skip those, and drop them with the node.
  if (nid != caf::none) {
    // Killed here with our reason and unit (the registry would pass none); erasing the node
    // then drops the entries (its second kill of each is a no-op).
    for (auto& proxy : registry_->get_all(nid))
      if (proxy != nullptr)
        static_cast<caf::actor_proxy*>(caf::actor_cast<caf::abstract_actor*>(proxy))
          ->kill_proxy(ctx, reason);
    registry_->erase(nid);
  }
  for (auto& entry : requests)
    internal::bounce(entry.second.first, entry.second.second, reason);
}

void transport::impl::release(uint32_t peer, std::function<void()> done) {
  if (peer >= state_.size() || peer == options_.node_index)
    return;
  // The lost node's outbox is unmapped here, on the caller's thread: not on the restart's
  // path (peer_lost), nor on the receive thread, which every message waits for.
  std::optional<outbox> lost_out;
  {
    std::lock_guard<std::mutex> guard{senders_[peer]->mtx};
    lost_out = std::exchange(senders_[peer]->lost_out, std::nullopt);
  }
  lost_out.reset();
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    pending_releases_.emplace_back(peer, std::move(done));
  }
  wake_for_pending();
}

void transport::impl::run_releases() {
  std::vector<std::pair<uint32_t, std::function<void()>>> releases;
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    releases.swap(pending_releases_);
  }
  for (auto& [peer, done] : releases) {
    {
      std::lock_guard<std::mutex> guard{liveness_mtx_};
      if (liveness_ != nullptr)
        liveness_->forget(peer);
    }
    // The ring may hold the dead node's last frames, or half of one: a new node starts clean.
    (void)inbox_.reset_ring(peer);
    {
      std::lock_guard<std::mutex> guard{state_mtx_};
      if (auto& old = state_[peer].node; old != caf::none && former_set_.insert(old).second) {
        former_.push_back(old);
        if (former_.size() > max_former) {
          former_set_.erase(former_.front());
          former_.pop_front();
        }
      }
      state_[peer] = peer_state{};
      peers_version_.fetch_add(1, std::memory_order_release); // SYNC POINT WRITE: handle()
    }
    // The slot's next node is counted from zero.
    {
      std::lock_guard<std::mutex> guard{senders_[peer]->mtx};
      senders_[peer]->sent.store(0, std::memory_order_relaxed);
    }
    received_[peer].n.store(0, std::memory_order_relaxed);
    if (done)
      done();
  }
}

caf::expected<outbox> transport::impl::open_outbox(uint32_t peer) const {
  outbox_options oo;
  oo.token = options_.token;
  oo.node_index = peer;
  oo.slot = options_.node_index;
  oo.wait = options_.wait;
  return outbox::open(oo);
}

void transport::impl::accept(uint32_t slot) {
  auto& s = *senders_[slot];
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    if (s.out)
      return; // we connected to it ourselves
  }
  auto out = open_outbox(slot);
  if (!out) {
    close_peer(slot, out.error());
    return;
  }
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    s.out.emplace(std::move(*out));
  }
  if (auto err = say_hello(slot))
    close_peer(slot, err);
}

caf::error transport::impl::say_hello(uint32_t peer) {
  caf::scoped_execution_unit ctx{&sys_};
  std::vector<char> buf;
  if (auto err = internal::encode_hello(ctx, buf, sys_.node(), options_.node_index))
    return err;
  return send(peer, buf);
}

void transport::impl::close_peer(uint32_t slot, const caf::error& reason) {
  if (options_.on_peer_closed)
    options_.on_peer_closed(slot, reason);
  peer_lost(slot, reason);
}

void transport::impl::receive_loop(uint64_t generation) {
  this_thread = receive_thread_state{this, generation, false, false};
  strata::detail::set_blocking_hook(
    [](void* self) { static_cast<impl*>(self)->yield_receive_role(); }, this);
  std::vector<char> buf;
  // Deserialising with this unit makes handles to remote actors arrive as our proxies: the
  // registry is found only through the execution unit in CAF 0.17.
  caf::scoped_execution_unit decoder{&sys_};
  decoder.proxy_registry_ptr(registry_);
  // BASP's broker remembers per thread the node a payload came from, to learn routes from
  // the handles in it; our frames come from no BASP node.
  if (bridge_ != nullptr)
    registry_->set_last_hop(nullptr);
  auto& unit = unit_for<delivery_unit>(sys_);
  auto* deliver_with = options_.run_on_receive_thread ? &unit : nullptr;
  // The long timeout only bounds how late a stop() is noticed when notify() races; stop()
  // also notifies. With a backlog, the thread polls: nothing wakes it when a ring drains.
  constexpr auto idle_poll = std::chrono::milliseconds{100};
  constexpr auto backlog_poll = std::chrono::microseconds{200};
  bool backlog = false;
  while (!stopping_.load(std::memory_order_acquire)) { // SYNC POINT READ: stop() stores true
    std::chrono::nanoseconds poll = idle_poll;
    if (!jobs_.empty())
      poll = std::chrono::nanoseconds{0};
    else if (backlog)
      poll = backlog_poll;
    handle_batch(inbox_.receive(buf, poll), buf, decoder, deliver_with);
    // Only when something was queued: the queues' mutex is not taken per loop. A stale
    // false from take_flag only defers the work: wake_for_pending stores the flag before
    // notify(), and the acquire exchange of `notified` in inbox::receive then makes the
    // flag's load see it.
    if (take_flag(pending_, std::memory_order_acquire)) {
      flush_pending();
      run_releases();
    }
    if (backlog || take_flag(backlogged_, std::memory_order_relaxed))
      backlog = flush_backlogs();
    if (!run_jobs(generation, unit))
      break; // an actor held this thread too long: another thread reads now
  }
  strata::detail::set_blocking_hook(nullptr, nullptr);
  this_thread = receive_thread_state{};
}

void transport::impl::handle_batch(receive_result r, std::vector<char>& buf,
                                   caf::execution_unit& decoder, caf::execution_unit* unit) {
  for (int i = 1;; ++i) {
    if (r.status == receive_status::corrupt)
      close_peer(r.slot, r.error);
    else if (r.status == receive_status::message) {
      // What was queued before this frame was read (an exit to a proxy, a link) leaves
      // before it is handled: a peer's frame that follows from a message sent after it must
      // not be answered first (e.g. a monitor of an actor that has just ended, answered
      // `unknown` before the actor's exit, with its reason, left for the same peer). The
      // flag stays set: the releases wait for the end of the batch, as before.
      if (pending_.load(std::memory_order_acquire)) // SYNC POINT READ: wake_for_pending
        flush_pending();
      handle(r.slot, buf, decoder, unit);
    }
    if (r.status == receive_status::empty || i == max_batch)
      return;
    // More from the same sender only: polling every ring after each message cost a tenth
    // of a round trip's hop. The next receive() polls them all, from the next ring on.
    r = inbox_.try_receive_from(r.slot, buf);
  }
}

void transport::impl::handle(uint32_t slot, const std::vector<char>& buf,
                             caf::execution_unit& decoder, caf::execution_unit* unit) {
  // What we know of the peer, without a lock while nothing changed (a change racing with
  // this frame counts as made just after it).
  auto& view = seen_[slot];
  // SYNC POINT READ: acquire pairs with the release increments under state_mtx_.
  if (view.version != peers_version_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> guard{state_mtx_};
    view.version = peers_version_.load(std::memory_order_relaxed);
    view.lost = state_[slot].lost;
    view.node = state_[slot].node;
    view.senders = internal::actor_cache{};
  }
  if (view.lost)
    return; // a closed peer's late frames
  const auto& known = view.node;
  auto f = internal::decode(decoder, buf, known, &view.senders);
  if (!f) {
    close_peer(slot, f.error());
    return;
  }
  if (f->kind == frame_kind::hello) {
    if (f->slot != slot || f->node == sys_.node() || (known != caf::none && known != f->node)) {
      close_peer(slot, make_error(error::corrupt_ring, "hello with a wrong slot or node id", slot));
      return;
    }
    {
      std::lock_guard<std::mutex> guard{state_mtx_};
      state_[slot].node = f->node;
      peers_version_.fetch_add(1, std::memory_order_release); // SYNC POINT WRITE: handle()
      hello_cv_.notify_all();
    }
    {
      std::lock_guard<std::mutex> guard{liveness_mtx_};
      if (liveness_ != nullptr)
        liveness_->watch(slot); // a peer holding a token took it before its hello
    }
    if (options_.accept_peers)
      accept(slot);
    return;
  }
  if (known == caf::none) {
    close_peer(slot, make_error(error::corrupt_ring, "frame before hello", slot));
    return;
  }
  switch (f->kind) {
    case frame_kind::message: deliver(slot, *f, unit); break;
    case frame_kind::monitor: watch(slot, f->target, f->actor); break;
    case frame_kind::down:
      registry_->erase(f->target, f->actor, f->reason ? f->reason : caf::exit_reason::unknown);
      break;
    case frame_kind::bye:
      peer_lost(slot, f->reason ? f->reason : make_error(error::node_down, "going away"));
      break;
    default: break;
  }
}

void transport::impl::deliver(uint32_t slot, frame& f, caf::execution_unit* unit) {
  // Receive role holder only: a load and a store, no read-modify-write.
  auto& received = received_[slot].n;
  received.store(received.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // The last local receiver, remembered: messages in a row mostly go to one actor, and the
  // actor registry takes a lock per look-up. (A cached actor that has died meanwhile bounces
  // requests as an unknown one would.)
  caf::strong_actor_ptr dst;
  bool local = f.target == sys_.node();
  if (local && receiver_cache_.id == f.actor && receiver_cache_.ptr != nullptr) {
    dst = receiver_cache_.ptr;
  } else {
    dst = resolve(f.target, f.actor);
    if (local)
      receiver_cache_ = internal::actor_cache{f.actor, dst};
  }
  if (f.mid.is_response())
    answered(slot, dst, f.target, f.actor, f.mid.request_id().integer_value());
  if (dst == nullptr) {
    if (f.mid.is_request())
      internal::bounce(f.sender, f.mid, caf::sec::request_receiver_down);
    return;
  }
  // A proxy's link request, as CAF's forwarding_actor_proxy sends it: link the real actor
  // with our proxy of the linker, so that either one's exit reaches the other. The linker
  // must be a proxy (a remote node); anything else from the wire is not trusted as one.
  // (A relayed message goes to our proxy as it is: the node that holds the actor intercepts.)
  if (f.target == sys_.node()
      && f.content.match_elements<caf::atom_value, caf::strong_actor_ptr>()) {
    auto atom = f.content.get_as<caf::atom_value>(0);
    if (atom == caf::link_atom::value || atom == caf::unlink_atom::value) {
      const auto& linker = f.content.get_as<caf::strong_actor_ptr>(1);
      if (linker != nullptr && linker->node() != sys_.node()) {
        auto* proxy = static_cast<caf::actor_proxy*>(linker->get());
        if (atom == caf::link_atom::value)
          proxy->add_link(dst->get());
        else
          proxy->remove_link(dst->get());
      }
      return;
    }
  }
  dst->enqueue(caf::make_mailbox_element(std::move(f.sender), f.mid, std::move(f.stages),
                                         std::move(f.content)),
               unit);
}

void transport::impl::answered(uint32_t slot, const caf::strong_actor_ptr& requester,
                               const caf::node_id& node, caf::actor_id aid, uint64_t request) {
  std::lock_guard<std::mutex> guard{state_mtx_};
  auto& requests = state_[slot].requests;
  if (requester != nullptr) {
    requests.erase(request_key{requester.get(), request});
    return;
  }
  // A requester no longer found by id (it exited): its entry still holds it; a scan, on
  // this rare path only, finds it by node and id.
  for (auto i = requests.begin(); i != requests.end(); ++i) {
    const auto& ptr = i->second.first;
    if (i->first.request == request && ptr->id() == aid && ptr->node() == node) {
      requests.erase(i);
      return;
    }
  }
}

caf::strong_actor_ptr transport::impl::resolve(const caf::node_id& target, caf::actor_id aid) {
  if (target == sys_.node())
    return sys_.registry().get(aid);
  // Relaying (the root): a message for another node goes to our proxy of the actor, which
  // forwards it on that node's ring. Only for nodes we have a ring to, or (join_basp) to
  // BASP's proxy of an actor on another host (made by the registry we share).
  if (options_.relay && (bridge_ != nullptr || index_of(target) >= 0))
    return registry_->get_or_put(target, aid);
  return nullptr;
}

void transport::impl::watch(uint32_t slot, const caf::node_id& target, caf::actor_id aid) {
  auto dst = resolve(target, aid);
  if (dst == nullptr) {
    (void)send_down(slot, target, aid, caf::exit_reason::unknown);
    return;
  }
  // Runs when the actor exits (at once if it already has), on the thread that cleans it up.
  // Weak: a watcher must not keep the transport alive.
  std::weak_ptr<impl> self = shared_from_this();
  dst->get()->attach_functor([self, slot, target, aid](const caf::error& reason) {
    if (auto t = self.lock())
      (void)t->send_down(slot, target, aid, reason);
  });
}

void transport::impl::stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) // SYNC POINT WRITE: receive_loop
    return;
  // No more proxies of our peers in BASP's registry; the ones there go with peer_lost below.
  if (bridge_ != nullptr)
    bridge_->detach();
  {
    // Joined outside the lock: its thread may be in on_peer_dying, whose owner may be
    // asking watches_liveness meanwhile.
    std::unique_ptr<internal::liveness_watch> watch;
    {
      std::lock_guard<std::mutex> guard{liveness_mtx_};
      watch.swap(liveness_);
    }
  }
  inbox_.notify();
  {
    std::lock_guard<std::mutex> guard{watchdog_mtx_};
    watchdog_cv_.notify_all();
  }
  if (watchdog_.joinable())
    watchdog_.join();
  join_readers();
  // Exits, links and monitors queued since the readers' last round go before the bye: an
  // actor that ended as its node shut down has its exit reach its links with its reason.
  flush_pending();
  caf::scoped_execution_unit ctx{&sys_};
  std::vector<char> buf;
  auto bye = make_error(error::node_down,
                        "node " + std::to_string(options_.node_index) + " shut its transport down");
  if (!internal::encode_bye(ctx, buf, bye))
    for (uint32_t i = 0; i < senders_.size(); ++i) {
      auto& s = *senders_[i];
      std::lock_guard<std::mutex> guard{s.mtx};
      if (s.out)
        (void)s.out->try_write(caf::span<const char>{buf.data(), buf.size()});
    }
  for (uint32_t i = 0; i < state_.size(); ++i)
    peer_lost(i, caf::exit_reason::remote_link_unreachable);
  if (registry_ == &own_registry_)
    registry_->clear(); // a shared one holds BASP's proxies too, which BASP kills itself
}

void transport::impl::join_readers() {
  // Retire the role: a thread still running an actor finds it gone and ends after it.
  // (One generation up: every compare-and-swap of the holder fails from now on.)
  role_.fetch_add(role_of(1), std::memory_order_acq_rel);
  std::vector<reader> readers;
  {
    std::lock_guard<std::mutex> guard{threads_mtx_};
    readers.swap(readers_);
  }
  // A thread that runs an actor stuck in a handler may never end: wait a while, then leave it
  // (it holds the transport alive). CAF would wait for that actor at shutdown anyway.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{1};
  for (auto& r : readers) {
    if (r.thread.get_id() == std::this_thread::get_id()) {
      r.thread.detach(); // stop() called by an actor on this receive thread
      continue;
    }
    while (!r.done->load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    if (r.done->load(std::memory_order_acquire))
      r.thread.join();
    else
      r.thread.detach();
  }
  // Actors woken by the last deliveries: CAF's scheduler runs them now.
  for (auto* job : jobs_)
    sys_.scheduler().enqueue(job);
  jobs_.clear();
}

// -- facade ---------------------------------------------------------------------------------

inbox_options inbox_options_for(const transport_options& options) {
  inbox_options io;
  io.token = options.token;
  io.node_index = options.node_index;
  io.ring_count = options.ring_count;
  io.ring_capacity = options.ring_capacity;
  io.wait = options.wait;
  return io;
}

namespace {

caf::error check_options(caf::actor_system& sys, const transport_options& options) {
  if (sys.node() == caf::none)
    return make_error(error::invalid_argument,
                      "the actor system has no node id: load caf::io::middleman");
  if (options.node_index >= options.ring_count)
    return make_error(error::invalid_argument, "node_index must be below ring_count",
                      options.node_index);
  return caf::none;
}

} // namespace

caf::expected<std::unique_ptr<transport>> transport::create(caf::actor_system& sys,
                                                            transport_options options) {
  if (auto err = check_options(sys, options))
    return err;
  auto box = inbox::create(inbox_options_for(options));
  if (!box)
    return box.error();
  return create(sys, std::move(options), std::move(*box));
}

caf::expected<std::unique_ptr<transport>>
transport::create(caf::actor_system& sys, transport_options options, inbox prepared) {
  if (auto err = check_options(sys, options))
    return err;
  if (prepared.ring_count() != options.ring_count
      || prepared.reader(0).capacity() != options.ring_capacity)
    return make_error(error::invalid_argument, "the prepared inbox's geometry differs");
  if (prepared.name() != segment_name(options.token, options.node_index))
    if (auto err = prepared.take_index(options.token, options.node_index))
      return err;
  internal::basp_bridge* bridge = nullptr;
  if (options.join_basp) {
    bridge = internal::find_basp_bridge(sys);
    if (bridge == nullptr)
      return make_error(error::invalid_argument,
                        "join_basp needs the middleman loaded with load_middleman");
  }
  auto x = std::make_shared<impl>(sys, std::move(options), std::move(prepared));
  if (bridge != nullptr)
    x->join(bridge);
  x->start();
  return std::unique_ptr<transport>{new transport(std::move(x))};
}

transport::transport(std::shared_ptr<impl> x) noexcept : impl_(std::move(x)) {
  // nop
}

transport::~transport() {
  impl_->stop();
}

caf::expected<caf::node_id> transport::connect(uint32_t peer, std::chrono::milliseconds timeout) {
  return impl_->connect(peer, timeout);
}

caf::error transport::connect_known(uint32_t peer, const caf::node_id& node) {
  if (node == caf::none)
    return make_error(error::invalid_argument, "connect_known without a node id", peer);
  auto res = impl_->connect(peer, std::chrono::milliseconds{0}, node);
  return res ? caf::error{} : std::move(res.error());
}

caf::expected<caf::actor> transport::remote_actor(uint32_t peer, caf::actor_id aid) {
  return impl_->remote_actor(peer, aid);
}

void transport::peer_lost(uint32_t peer, const caf::error& reason) {
  impl_->peer_lost(peer, reason);
}

void transport::peer_lost_here(uint32_t peer, const caf::error& reason) {
  impl_->peer_lost_here(peer, reason);
}

void transport::release(uint32_t peer, std::function<void()> done) {
  impl_->release(peer, std::move(done));
}

void transport::peer_lost(const caf::node_id& node, const caf::error& reason) {
  auto index = impl_->index_of(node);
  if (index >= 0)
    impl_->peer_lost(static_cast<uint32_t>(index), reason);
}

bool transport::watches_liveness(uint32_t peer) const {
  return impl_->watches_liveness(peer);
}

bool transport::impl::watches_liveness(uint32_t peer) const {
  std::lock_guard<std::mutex> guard{liveness_mtx_};
  return liveness_ != nullptr && liveness_->watching(peer);
}

std::vector<peer_traffic> transport::traffic() const {
  return impl_->traffic();
}

std::vector<peer_traffic> transport::impl::traffic() const {
  std::vector<peer_traffic> result;
  std::lock_guard<std::mutex> guard{state_mtx_};
  for (uint32_t peer = 0; peer < state_.size(); ++peer)
    if (state_[peer].node != caf::none && !state_[peer].lost)
      result.push_back({peer, senders_[peer]->sent.load(std::memory_order_relaxed),
                        received_[peer].n.load(std::memory_order_relaxed),
                        state_[peer].requests.size()});
  return result;
}

const caf::node_id& transport::node() const noexcept {
  return impl_->sys_.node();
}

void transport::rehearse(caf::message content) {
  impl_->rehearse(std::move(content));
}

void transport::impl::rehearse(caf::message content) {
  // On the receive thread: it decodes the real message, and glibc's malloc caches the
  // memory a thread freed for that thread. Its own heap pages are then touched already.
  {
    std::lock_guard<std::mutex> guard{state_mtx_};
    pending_rehearsals_.push_back(std::move(content));
  }
  wake_for_pending();
}

void transport::impl::rehearse_here(const caf::message& content) {
  // As a frame from ourselves to ourselves: no peer's proxy is made, nothing is sent. A
  // receiver id is required on the wire; none is looked up.
  caf::scoped_execution_unit unit{&sys_};
  unit.proxy_registry_ptr(registry_);
  auto& buf = encode_buffer();
  const auto& me = sys_.node();
  constexpr caf::actor_id nobody = 1;
  if (!internal::encode_message(unit, buf, me, me, nullptr, nobody, caf::make_message_id(), {},
                                content))
    (void)internal::decode(unit, buf, me);
}

caf::proxy_registry& transport::proxies() noexcept {
  return *impl_->registry_;
}

} // namespace strata::nodes
