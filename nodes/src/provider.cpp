#include "strata/nodes/provider.hpp"

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <caf/stateful_actor.hpp>

#include "strata/atoms.hpp"
#include "strata/detail/blocking.hpp"
#include "strata/detail/inline_run.hpp"
#include "strata/detail/mailbox_counter.hpp"
#include "strata/events.hpp"
#include "strata/names.hpp"
#include "strata/nodes/error.hpp"
#include "strata/nodes/middleman.hpp"
#include "strata/nodes/pidfd.hpp"
#include "strata/nodes/segments.hpp"
#include "strata/nodes/transport.hpp"
#include "strata/nodes/zygote.hpp"
#include "strata/system.hpp"

#include "internal/errno_text.hpp"
#include "internal/proc_stat.hpp"
#include "internal/segment.hpp"

namespace strata::nodes {

namespace {

/// From a node to the root's service actor once it is up and connected, a spare waiting for
/// a child: `(spare_ready_atom, slot, keeper)` (the keeper is the node's main actor).
using spare_ready_atom = caf::atom_constant<caf::atom("s_spare_ok")>;
/// To a spare's keeper: `(start_child_atom, id, factory, args, parent, init_here)`, answered
/// with the child and whether its init ran there (`init_here` and a worker: no handshake left).
using start_child_atom = caf::atom_constant<caf::atom("s_start")>;
/// To the root's service actor: start spares until `node_options::spares` are ready.
using replenish_atom = caf::atom_constant<caf::atom("s_replen")>;
/// To the root's service actor: `(spare_wait_atom, news)` from a start that found no spare,
/// answered with `ok_atom` once the spares changed since it looked (`spare_news` moved past
/// `news`): a spare got ready or failed, or the cluster stops. `(spare_news_atom)`: they did.
using spare_wait_atom = caf::atom_constant<caf::atom("s_sp_wait")>;
using spare_news_atom = caf::atom_constant<caf::atom("s_sp_news")>;
/// To the root's service actor: `(free_slot_atom, slot)`, the node of `slot` is reaped.
using free_slot_atom = caf::atom_constant<caf::atom("s_free")>;
/// A heartbeat request to a node's keeper, answered with the same atom.
using heartbeat_atom = caf::atom_constant<caf::atom("s_hb")>;
/// To the root's service actor: `(watch, slot, keeper)`, `(forget, slot)`, `(tick)`.
using hb_watch_atom = caf::atom_constant<caf::atom("s_hb_watch")>;
using hb_forget_atom = caf::atom_constant<caf::atom("s_hb_forg")>;
using hb_tick_atom = caf::atom_constant<caf::atom("s_hb_tick")>;
/// To the root's service actor: `(hand_over_atom, pid)`, the root watches node `pid` by its
/// liveness token from now on (zygote::hand_over); `(node_gone_atom, slot, pid)`, the running
/// node in `slot` died and its child's restart is under way: forget its heartbeat, have the
/// zygote report it (zygote::collect); `(collect_atom, pid)`, have it reported now.
using hand_over_atom = caf::atom_constant<caf::atom("s_handover")>;
using node_gone_atom = caf::atom_constant<caf::atom("s_gone")>;
using collect_atom = caf::atom_constant<caf::atom("s_collect")>;
/// To a node's keeper: how many messages wait in its child's mailbox, answered with an
/// `int64_t` (-1: the child does not count them, `mailbox_counter`).
using mailbox_atom = caf::atom_constant<caf::atom("s_mailbox")>;

/// How long after a spare died before being used the root starts the next one: a node that
/// cannot start (say, a factory that fails in every fresh process) must not fork in a loop.
constexpr auto spare_retry_delay = std::chrono::milliseconds{100};

/// How long the root, shutting down, waits for its event relay to publish the events the
/// nodes sent before they ended.
constexpr auto relay_flush_timeout = std::chrono::seconds{1};

// Exit codes of a node that could not serve its assignment (the root sees the exit report).
constexpr int exit_no_transport = 20;
constexpr int exit_no_root = 21;
constexpr int exit_bad_payload = 22;

class node_provider final : public placement_provider {
public:
  explicit node_provider(node_options opts) : opts_(opts), slots_(opts.max_nodes) {
    // nop
  }

  ~node_provider() override {
    shut_down();
  }

  // -- placement_provider ---------------------------------------------------------------------

  caf::error before_start(config& cfg) override {
    if (in_node_)
      return caf::none; // a node's own system: the middleman came with the fork
    if (opts_.max_nodes < 2 || opts_.max_nodes > max_rings)
      return make_error(error::invalid_argument, "node_options::max_nodes", opts_.max_nodes);
    cfg_ = &cfg;
    load_middleman(cfg); // CAF's, whose BASP also routes for our nodes (join_basp)
    auto token = make_cluster_token();
    if (!token)
      return token.error();
    token_ = *token;
    (void)remove_stale_segments();
    zygote_options zo;
    // The root keeps its spares itself (ready and connected, see `replenish`): the zygote
    // forks a process when asked for one, off the path of any start.
    zo.spares = 0;
    zo.grace = opts_.grace;
    zo.teardown_delay = opts_.teardown_delay;
    zo.on_cluster_exit = [token = token_] { remove_cluster_segments(token); };
    auto z = zygote::start([this](node_context& ctx) { return run_node(ctx); }, zo);
    if (!z)
      return z.error();
    zygote_ = std::move(*z);
    return caf::none;
  }

  void started(caf::actor_system& sys) override {
    if (in_node_)
      return;
    auto opts = transport_options_for(0);
    opts.accept_peers = true;
    opts.relay = true; // nodes reach each other through the root
    opts.join_basp = true; // and other hosts reach them through the root, too
    opts.on_peer_closed = [this](uint32_t slot, const caf::error&) { kill_node(slot); };
    opts.on_peer_dying = [this](uint32_t slot) { node_dying(slot); };
    // brutal_kill (and a shutdown timeout's kill) of a node's child kills the node's process:
    // a child stuck in a handler would never read the exit.
    opts.on_kill = [this](uint32_t slot, caf::actor_id aid) {
      std::lock_guard<std::mutex> guard{mtx_};
      if (slot < slots_.size() && slots_[slot].child == aid && slots_[slot].pidfd >= 0)
        (void)signal_pidfd(slots_[slot].pidfd, SIGKILL);
    };
    auto t = transport::create(sys, std::move(opts));
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!t) {
        failure_ = t.error();
        return;
      }
      transport_ = std::move(*t);
      service_ = sys.spawn<caf::hidden>(service, this, opts_.heartbeat_interval,
                                        opts_.heartbeat_timeout);
      // Its group as a spawn argument: CAF 0.17 spawning a function actor with no arguments
      // binds a reference through a null shared_ptr<tuple<>> (UBSan reports it).
      relay_ = sys.spawn<caf::hidden>(event_relay, strata::events_group(sys));
      // What every spare is told when assigned a slot: the root's node id first (the node
      // reads it before it has a transport to make proxies with, and connects without
      // waiting for the root's hello), then whom to report to, the cluster's name server and
      // where its supervision events go.
      std::vector<char> buf;
      caf::binary_serializer sink{sys, buf};
      auto root = sys.node();
      auto names = strata::name_server(sys);
      if (auto err = sink(root, service_, names, relay_)) {
        failure_ = std::move(err);
        return;
      }
      spare_payload_.assign(buf.begin(), buf.end());
    }
    zygote_->on_exit([this](const node_exit& x) { node_exited(x); });
    replenish();
  }

  void stopping(caf::actor_system&) override {
    if (!in_node_)
      shut_down();
  }

  /// Called by the service actor: the node in `slot` left a heartbeat unanswered.
  void declare_hung(uint32_t slot, const caf::actor& keeper) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& s = slots_[slot];
    if (s.keeper != keeper || s.pidfd < 0)
      return; // a later node in the same slot, or already gone
    s.hung = true;
    (void)signal_pidfd(s.pidfd, SIGKILL); // its exit report tells the supervisor
  }

  caf::expected<int> signal_process(const caf::actor& child, int sig) override {
    std::lock_guard<std::mutex> guard{mtx_};
    auto slot = slot_of(child);
    if (slot == 0)
      return make_error(strata::error::not_found, "no running node runs this child");
    auto& s = slots_[slot];
    // Through the pidfd: never a process that reused the node's pid.
    if (signal_pidfd(s.pidfd, sig) != 0)
      return make_error(strata::error::not_found,
                        "node pid " + std::to_string(s.pid) + ": " + internal::errno_text(errno));
    return static_cast<int>(s.pid);
  }

  caf::expected<caf::actor> spawn(caf::actor_system& sys, const child_spec& child,
                                  child_type) override {
    if (in_node_)
      return nested_start_error(child);
    // It waits for a node, whose answers a receive thread delivers: if this runs on one, that
    // thread hands its reading on first.
    strata::detail::before_blocking();
    auto spare = take_spare();
    if (!spare)
      return spare.error();
    auto [slot, keeper] = *spare;
    caf::expected<caf::actor> result{caf::error{}};
    caf::scoped_actor self{sys};
    self
      ->request(keeper, opts_.start_timeout, start_child_atom::value, child.id, child.start.name,
                child.start.args, caf::actor{}, false)
      .receive([&](caf::actor& hdl, bool) { result = std::move(hdl); },
               [&](caf::error& err) { result = start_error(slot, std::move(err)); });
    return started_in(slot, keeper, std::move(result));
  }

  void start(caf::event_based_actor* self, const child_spec& child, child_type,
             start_handler done) override {
    if (in_node_) {
      done(nested_start_error(child), false);
      return;
    }
    start_when_ready(self, child, std::move(done),
                     std::chrono::steady_clock::now() + opts_.start_timeout, std::nullopt);
  }

  // Starts `child` in a spare for `self` once one is ready, waiting for it asynchronously:
  // `self` goes on with its other messages meanwhile, and no thread is held (a start that
  // blocked a scheduler thread of the root could starve the service actor, which takes the
  // spares' ready reports, until the start timed out). Fails as `take_spare` does, counting
  // the spares that failed since its first look (`failures`, nullopt before it).
  void start_when_ready(caf::event_based_actor* self, const child_spec& child,
                        start_handler done, std::chrono::steady_clock::time_point deadline,
                        std::optional<uint64_t> failures) {
    caf::expected<std::optional<std::pair<uint32_t, caf::actor>>> found{std::nullopt};
    caf::actor service;
    uint64_t news = 0;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!failures)
        failures = spare_failures_;
      found = look_for_spare_locked(*failures);
      service = service_;
      news = spare_news_;
    }
    // Not under the lock: `done` may start the supervisor's next child.
    if (!found) {
      done(std::move(found.error()), false);
      return;
    }
    if (*found) {
      auto [slot, keeper] = **found;
      start_in(self, child, slot, keeper, std::move(done));
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (service == nullptr || left.count() <= 0) {
      done(no_spare_in_time(), false);
      return;
    }
    self->request(service, left, spare_wait_atom::value, news)
      .then(
        [this, self, child, done, deadline, failures = *failures](ok_atom) {
          start_when_ready(self, child, done, deadline, failures);
        },
        [this, done](caf::error& err) {
          done(err == caf::sec::request_timeout ? no_spare_in_time() : std::move(err), false);
        });
  }

  // Has the node in `slot`, a spare taken for `child`, start it for `self`. The node runs the
  // child's init as it starts it: one trip between the processes fewer.
  void start_in(caf::event_based_actor* self, const child_spec& child, uint32_t slot,
                const caf::actor& keeper, start_handler done) {
    self
      ->request(keeper, opts_.start_timeout, start_child_atom::value, child.id, child.start.name,
                child.start.args, caf::actor{self}, true)
      .then(
        [this, slot, keeper, done](caf::actor& hdl, bool initialized) {
          auto result = started_in(slot, keeper, std::move(hdl));
          done(std::move(result), initialized && result);
        },
        [this, slot, keeper, done](caf::error& err) {
          done(started_in(slot, keeper, start_error(slot, std::move(err))), false);
        });
  }

  static caf::error nested_start_error(const child_spec& child) {
    return make_error(strata::error::placement_unavailable,
                      "a process child cannot start process children of its own yet", child.id);
  }

  static caf::error no_spare_in_time() {
    return make_error(error::node_down, "no node was ready within the start timeout");
  }

  cluster_status status() {
    cluster_status result;
    result.token = to_hex(token_);
    std::lock_guard<std::mutex> guard{mtx_};
    result.zygote = zygote_ != nullptr ? zygote_->pid() : 0;
    for (auto& s : slots_) {
      auto live = !s.exited && !s.down && s.pid != 0;
      result.nodes.push_back(live && s.phase == slot_phase::running ? s.pid : 0);
      if (live && s.phase == slot_phase::spare)
        result.spares.push_back(s.pid);
    }
    return result;
  }

  bool started() const noexcept {
    return zygote_ != nullptr;
  }

  std::vector<int64_t> mailbox_depths(const std::vector<caf::actor>& children,
                                      caf::timespan timeout) override {
    std::vector<int64_t> result(children.size(), -1);
    std::vector<std::pair<size_t, caf::actor>> asks; // child index, its node's keeper
    {
      std::lock_guard<std::mutex> guard{mtx_};
      for (size_t i = 0; i < children.size(); ++i)
        if (auto slot = slot_of(children[i]); slot != 0)
          asks.emplace_back(i, slots_[slot].keeper);
    }
    if (asks.empty())
      return result;
    // Every node asked at once, each answer awaited in turn: a stopped node costs the caller
    // `timeout` once, not once per node.
    caf::scoped_actor self{asks.front().second->home_system()};
    using pending = decltype(self->request(caf::actor{}, timeout, mailbox_atom::value));
    std::vector<std::pair<size_t, pending>> answers;
    answers.reserve(asks.size());
    for (auto& [index, keeper] : asks)
      answers.emplace_back(index, self->request(keeper, timeout, mailbox_atom::value));
    for (auto& [index, answer] : answers)
      answer.receive([&result, index = index](int64_t depth) { result[index] = depth; },
                     [](caf::error&) {}); // stays -1: unknown
    return result;
  }

  std::vector<node_traffic> traffic() const override {
    std::vector<node_traffic> result;
    transport* t = nullptr;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = transport_.get();
      for (uint32_t slot = 1; slot < slots_.size(); ++slot) {
        auto& s = slots_[slot];
        if (s.phase == slot_phase::running && !s.exited && !s.down && s.pid != 0)
          result.push_back({slot, static_cast<int32_t>(s.pid), 0, 0});
      }
    }
    // Outside mtx_, as node_dying does: the transport lives until `stopping`, and the
    // observer, the caller, is stopped before that.
    if (t == nullptr)
      return {};
    auto counts = t->traffic();
    for (auto& node : result)
      for (auto& peer : counts)
        if (peer.peer == node.node) {
          node.sent = peer.sent;
          node.received = peer.received;
        }
    return result;
  }

private:
  enum class slot_phase {
    free,
    readying, // asked of the zygote; its node starts up and connects (pidfd and keeper are
              // set as the zygote's answer and the node's report come in)
    spare, // its node is up, connected, and waits for a child
    running, // its node runs a child
  };

  struct slot_state {
    slot_phase phase = slot_phase::free; // not free again until the transport released it
    bool exited = false; // its node's exit was reported
    int pidfd = -1; // of its node, until the exit report
    pid_t pid = 0; // of its node
    caf::actor keeper; // the node's main actor: starts its child, answers heartbeats
    caf::actor_id child = 0; // the id of the child it runs (in its node)
    bool hung = false; // killed for leaving a heartbeat unanswered
    bool down = false; // its proxies were killed (by node_dying or node_exited)
    bool token_lost = false; // node_dying ran: it is ending (or broke its token)
    // Of its process, from the zygote's answer on: node_dying reads it with one system call
    // on the restart's path, and never reads a process that reused the pid.
    internal::proc_stat_file stat;
  };

  transport_options transport_options_for(uint32_t index) const {
    transport_options opts;
    opts.token = token_;
    opts.node_index = index;
    opts.ring_count = opts_.max_nodes;
    opts.ring_capacity = opts_.ring_capacity;
    opts.wait = opts_.wait;
    return opts;
  }

  // The slot of the running node that runs `child`, 0 for none. Requires mtx_.
  uint32_t slot_of(const caf::actor& child) const {
    if (!child)
      return 0;
    for (uint32_t i = 1; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      // A child id is unique within its node only: the keeper's node tells which node.
      if (s.pidfd >= 0 && !s.exited && s.keeper != nullptr && s.child == child.id()
          && s.keeper.node() == child.node())
        return i;
    }
    return 0;
  }

  // mtx_ held.
  std::optional<std::pair<uint32_t, caf::actor>> take_spare_locked() {
    for (uint32_t i = 1; i < slots_.size(); ++i) {
      auto& s = slots_[i];
      if (s.exited || s.phase != slot_phase::spare)
        continue;
      s.phase = slot_phase::running;
      // The spare taken is replaced once this start is over, not during it.
      if (service_ != nullptr)
        caf::delayed_anon_send(service_, opts_.spare_delay, replenish_atom::value);
      return std::make_pair(i, s.keeper);
    }
    return std::nullopt;
  }

  caf::error start_error(uint32_t slot, caf::error err) {
    if (err == caf::sec::request_timeout)
      return make_error(error::node_down,
                        "node " + std::to_string(slot) + " did not start its child in time");
    return err;
  }

  // The node in `slot` answered the request for a child.
  caf::expected<caf::actor> started_in(uint32_t slot, const caf::actor& keeper,
                                       caf::expected<caf::actor> result) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& s = slots_[slot];
    if (s.keeper != keeper)
      return result; // its node is gone already, and the slot reused
    if (!result) {
      if (s.pidfd >= 0)
        (void)signal_pidfd(s.pidfd, SIGKILL); // its exit report frees the slot
      return result;
    }
    s.child = (*result)->id();
    if (!s.exited && opts_.heartbeat_interval.count() > 0 && service_ != nullptr)
      caf::anon_send(service_, hb_watch_atom::value, slot, keeper);
    return result;
  }

  // mtx_ held. Takes a ready spare for a start that has seen `failures` spares fail; or
  // fails it (the cluster is down, a spare failed since, no slot left for one); or, a spare
  // being on its way, neither (nullopt: wait for news). Asks for a spare when none is.
  caf::expected<std::optional<std::pair<uint32_t, caf::actor>>>
  look_for_spare_locked(uint64_t failures) {
    if (failure_)
      return make_error(strata::error::placement_unavailable, to_text(failure_));
    if (transport_ == nullptr)
      return make_error(strata::error::placement_unavailable, "the node transport is stopped");
    if (auto spare = take_spare_locked())
      return spare;
    if (spare_failures_ != failures)
      return make_error(error::node_down, "no node could start: " + to_text(spare_failure_));
    bool starting = false;
    for (uint32_t i = 1; i < slots_.size(); ++i)
      starting = starting || (!slots_[i].exited && slots_[i].phase == slot_phase::readying);
    if (!starting) {
      if (!has_free_slot())
        return make_error(strata::error::placement_unavailable,
                          "all " + std::to_string(slots_.size() - 1) + " node slots are in use");
      if (service_ != nullptr)
        caf::anon_send(service_, replenish_atom::value); // none on its way: now
    }
    return std::nullopt;
  }

  // Waits up to `start_timeout` for a ready spare and takes it for a child, blocking.
  caf::expected<std::pair<uint32_t, caf::actor>> take_spare() {
    std::unique_lock<std::mutex> guard{mtx_};
    auto deadline = std::chrono::steady_clock::now() + opts_.start_timeout;
    auto failures = spare_failures_;
    for (;;) {
      auto found = look_for_spare_locked(failures);
      if (!found)
        return std::move(found.error());
      if (*found)
        return **found;
      if (cv_.wait_until(guard, deadline) == std::cv_status::timeout)
        return no_spare_in_time();
    }
  }

  // mtx_ held. The spares changed (one got ready or failed, or the cluster stops): wakes the
  // starts waiting for one, blocked (`take_spare`) or not (`start_when_ready`; through the
  // service actor, and only when one waits there).
  void spare_news_locked() {
    ++spare_news_;
    cv_.notify_all();
    if (news_wanted_ && service_ != nullptr) {
      news_wanted_ = false;
      caf::anon_send(service_, spare_news_atom::value);
    }
  }

  // On the service actor, for a start that saw the spares' news count at `seen`: whether
  // they changed since; if not, the next change sends the service `spare_news_atom`, which
  // comes after the start is in its list (the check and the request are under one lock).
  bool news_since(uint64_t seen) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (spare_news_ != seen)
      return true;
    news_wanted_ = true;
    return false;
  }

  bool has_free_slot() const {
    for (uint32_t i = 1; i < slots_.size(); ++i)
      if (slots_[i].phase == slot_phase::free)
        return true;
    return false;
  }

  // Asks the zygote for nodes until `spares` are ready or on their way (and slots allow).
  // On the service actor, or before it exists.
  void replenish() {
    std::lock_guard<std::mutex> zguard{zygote_mtx_};
    std::vector<uint32_t> slots_to_fill;
    std::string payload;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (transport_ == nullptr || failure_ || zygote_ == nullptr)
        return;
      size_t have = 0;
      for (auto& s : slots_)
        if (!s.exited && (s.phase == slot_phase::readying || s.phase == slot_phase::spare))
          ++have;
      for (uint32_t i = 1; i < slots_.size() && have < opts_.spares; ++i)
        if (slots_[i].phase == slot_phase::free) { // all fields at their defaults
          slots_[i].phase = slot_phase::readying;
          slots_to_fill.push_back(i);
          ++have;
        }
      payload = spare_payload_;
    }
    // Outside mtx_: a failed spawn reports at once, on this thread, and takes mtx_.
    for (auto slot : slots_to_fill)
      zygote_->spawn(slot, payload,
                     [this, slot](caf::expected<node_process> x) { forked(slot, std::move(x)); });
  }

  // The zygote answered the request for a node in `slot`.
  void forked(uint32_t slot, caf::expected<node_process> x) {
    // For the early death check (node_dying): a file bound to this process, so never one
    // that reused its pid. Opened before taking the lock: file I/O.
    internal::proc_stat_file stat;
    if (x)
      stat = internal::proc_stat_file{x->pid};
    std::lock_guard<std::mutex> guard{mtx_};
    auto& s = slots_[slot];
    if (!x) {
      s = slot_state{};
      spare_failed(x.error());
      return;
    }
    s.pid = x->pid;
    if (s.exited) {
      ::close(x->pidfd); // its exit report came first
      return;
    }
    s.pidfd = x->pidfd;
    s.stat = std::move(stat);
    if (s.keeper != nullptr)
      become_spare(slot); // its ready report came first
  }

  // A node in `slot` says it is ready for a child. On the service actor.
  void spare_ready(uint32_t slot, caf::actor keeper) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (slot == 0 || slot >= slots_.size() || keeper == nullptr)
      return;
    auto& s = slots_[slot];
    if (s.phase != slot_phase::readying || s.exited || s.keeper != nullptr)
      return; // not one we started, or it died meanwhile
    s.keeper = std::move(keeper);
    // The zygote's answer (its pid and pidfd) and the node's report come on different threads
    // in either order; the node can take a child once both are in.
    if (s.pidfd >= 0)
      become_spare(slot);
  }

  // mtx_ held.
  void become_spare(uint32_t slot) {
    auto& s = slots_[slot];
    if (s.token_lost)
      return; // ending already: its exit report cleans up
    s.phase = slot_phase::spare;
    spare_news_locked();
    // Connected, it holds its liveness token: where the transport watches it, its end
    // reaches node_dying at once, and the zygote need not wake for it (it reports it when
    // node_dying asks).
    if (service_ != nullptr && transport_ != nullptr && transport_->watches_liveness(slot))
      caf::anon_send(service_, hand_over_atom::value, static_cast<int32_t>(s.pid));
  }

  // Passes a hand-over or collect request on to the zygote. On the service actor.
  void tell_zygote(bool collect, pid_t pid) {
    std::lock_guard<std::mutex> zguard{zygote_mtx_};
    if (zygote_ == nullptr)
      return;
    if (collect)
      zygote_->collect(pid);
    else
      zygote_->hand_over(pid);
  }

  // mtx_ held. Wakes the starts waiting for a spare, which fail with `reason`.
  void spare_failed(caf::error reason) {
    spare_failure_ = std::move(reason);
    ++spare_failures_;
    spare_news_locked();
    if (service_ != nullptr)
      caf::delayed_anon_send(service_, spare_retry_delay, replenish_atom::value);
  }

  void kill_node(uint32_t slot) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (slot < slots_.size() && slots_[slot].pidfd >= 0)
      (void)signal_pidfd(slots_[slot].pidfd, SIGKILL);
  }

  // mtx_ held. The exit reason of the node in `s`, which ended as `x` says; marks it down.
  caf::error node_down_reason(slot_state& s, const node_exit& x) {
    s.down = true;
    if (s.hung)
      return make_error(error::node_down, "hung: no heartbeat answer within "
                                            + std::to_string(opts_.heartbeat_timeout.count())
                                            + " ms; " + to_string(x));
    return make_error(error::node_down, to_string(x));
  }

  // On the transport's liveness watch: the thread holding the liveness token of the node in
  // `slot` died. If the kernel says the process is exiting with a signal or an error code,
  // its proxies die now, hundreds of microseconds before the zygote could reap it; the
  // zygote is asked for its report (which frees the slot) once the restart is over, and
  // its other threads are gone. A clean exit (code 0), a spare, or a token the node merely
  // scribbled on wait for that report, asked for at once.
  void node_dying(uint32_t slot) {
    if (slot == 0 || slot >= slots_.size())
      return;
    transport* t = nullptr;
    caf::error reason;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& s = slots_[slot];
      if (s.exited || s.down || s.pid == 0 || service_ == nullptr)
        return;
      s.token_lost = true; // not handed over to the root from now on (become_spare)
      std::optional<internal::proc_stat> st;
      if (s.phase == slot_phase::running)
        st = s.stat.read();
      if (!st || st->exit_code == 0) {
        caf::anon_send(service_, collect_atom::value, static_cast<int32_t>(s.pid));
        return;
      }
      node_exit x{s.pid, slot, WIFSIGNALED(st->exit_code),
                  WIFSIGNALED(st->exit_code) ? WTERMSIG(st->exit_code)
                                             : WEXITSTATUS(st->exit_code)};
      reason = node_down_reason(s, x);
      // Later, not now: a message now would wake a thread that competes with the restart.
      caf::delayed_anon_send(service_, opts_.spare_delay, node_gone_atom::value, slot,
                             static_cast<int32_t>(s.pid));
      t = transport_.get();
    }
    // On this thread, which only watches: the child's supervisor runs here, now.
    if (t != nullptr)
      t->peer_lost_here(slot, reason);
  }

  // On the zygote's reader thread: a node ended. Its proxies die with the reason (unless
  // node_dying saw it first), which is how its supervisor learns of it; then its slot is
  // cleaned and freed.
  void node_exited(const node_exit& x) {
    if (x.slot == 0 || x.slot >= slots_.size())
      return;
    transport* t = nullptr;
    caf::error reason;
    bool was_spare = false;
    bool deferred = false;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& s = slots_[x.slot];
      if (!s.down) {
        reason = node_down_reason(s, x);
        if (s.keeper != nullptr && s.phase == slot_phase::running && service_ != nullptr)
          caf::anon_send(service_, hb_forget_atom::value, x.slot);
      } else if (service_ != nullptr) {
        // node_dying saw it first and a restart is under way: clean up after it, not during.
        caf::delayed_anon_send(service_, opts_.spare_delay, free_slot_atom::value, x.slot);
        deferred = true;
      }
      was_spare = s.phase == slot_phase::readying || s.phase == slot_phase::spare;
      if (was_spare)
        spare_failed(make_error(error::node_down, "a spare node " + to_string(x)));
      s.exited = true;
      if (s.pidfd >= 0)
        ::close(s.pidfd);
      s.pidfd = -1;
      t = transport_.get();
    }
    if (t == nullptr || deferred)
      return;
    if (reason)
      t->peer_lost(x.slot, reason);
    free_slot(x.slot, was_spare);
  }

  // The node in `slot` is gone: removes its inbox (a node killed with SIGKILL leaves it
  // behind), and has the transport empty its ring, then frees the slot.
  void free_slot(uint32_t slot, bool was_spare = false) {
    transport* t = nullptr;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t = transport_.get();
    }
    if (t == nullptr)
      return;
    internal::remove_segment(segment_name(token_, slot));
    t->release(slot, [this, slot, was_spare] {
      std::lock_guard<std::mutex> guard{mtx_};
      slots_[slot] = slot_state{};
      // A slot came free: maybe room for a spare that had none (a dead spare's successor
      // comes after spare_retry_delay instead).
      if (service_ != nullptr && !was_spare)
        caf::delayed_anon_send(service_, opts_.spare_delay, replenish_atom::value);
    });
  }

  void shut_down() {
    caf::actor svc;
    caf::actor relay;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      svc.swap(service_);
      relay.swap(relay_);
    }
    if (svc != nullptr)
      caf::anon_send_exit(svc, caf::exit_reason::user_shutdown);
    if (relay != nullptr) {
      // The trees are down: every event their nodes published is in the relay's mailbox
      // (a node's events travel its ring ahead of its child's exit, which the supervisor
      // awaited). Published before the system stops its event log.
      caf::scoped_actor self{relay->home_system()};
      self->request(relay, relay_flush_timeout, stop_atom::value)
        .receive([](ok_atom) {}, [](caf::error&) {});
    }
    // The zygote first: destroying it stops every node left (SIGTERM, then SIGKILL) and joins
    // the thread that reports exits, which uses the transport; only then can the transport
    // go. (The other order let a late exit report use a destroyed transport.)
    {
      std::lock_guard<std::mutex> zguard{zygote_mtx_};
      zygote_.reset();
    }
    std::unique_ptr<transport> t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t.swap(transport_);
      for (auto& s : slots_)
        if (s.pidfd >= 0) {
          ::close(s.pidfd);
          s.pidfd = -1;
        }
      spare_news_locked();
    }
    t.reset();
    if (cfg_ != nullptr && !in_node_)
      remove_cluster_segments(token_);
  }

  // -- the node's side --------------------------------------------------------------------

  // Runs in a process forked from the zygote: builds this node's actor system, waits to be
  // assigned a slot, connects to the root, reports ready, starts the child it is then asked
  // for and lives until that child ends.
  int run_node(node_context& ctx) {
    in_node_ = true;
    // A node speaks no TCP (other hosts are the root's business): no multiplexer thread, and
    // the middleman's actor on the scheduler rather than a thread of its own. Fewer threads
    // make a node quicker to start and to tear down when killed.
    cfg_->set("middleman.manual-multiplexing", true);
    cfg_->set("middleman.attach-utility-actors", true);
    // The root's observer shows this node's subtree (it asks the supervisors here through
    // their proxies); a node of its own would only take another port. Its workers count
    // their mailboxes for that observer all the same.
    cfg_->set_observed_elsewhere(!cfg_->observer_listen().empty());
    cfg_->set_observer_listen("");
    // The root writes this node's events to the log with its own (see event_relay): one
    // writer per file, and no event twice.
    cfg_->set_event_log("");
    strata::system sys{*cfg_};
    // The inbox is made before the assignment: allocating its memory is most of what a
    // transport costs to start.
    auto spare = inbox::create_spare(inbox_options_for(transport_options_for(0)));
    auto job = ctx.await_assignment();
    if (!job)
      return 0; // the cluster went away before needing this node
    auto opts = transport_options_for(job->slot);
    opts.hub = 0; // actors of other nodes are reached through the root
    // This (main) thread lives as long as the node: its death tells the root at once.
    opts.hold_liveness = true;
    auto t = spare ? transport::create(sys.actors(), opts, std::move(*spare))
                   : transport::create(sys.actors(), opts);
    if (!t)
      return exit_no_transport;
    caf::node_id root;
    size_t rest = 0;
    {
      caf::binary_deserializer source{sys.actors(), job->payload.data(), job->payload.size()};
      if (source(root) || root == caf::none)
        return exit_bad_payload;
      rest = job->payload.size() - source.remaining();
    }
    if ((*t)->connect_known(0, root))
      return exit_no_root;
    caf::actor service;
    caf::actor names;
    caf::actor relay;
    {
      // Handles arrive as proxies only through an execution unit carrying the registry.
      caf::scoped_execution_unit unit{&sys.actors()};
      unit.proxy_registry_ptr(&(*t)->proxies());
      caf::binary_deserializer source{&unit, job->payload.data() + rest,
                                      job->payload.size() - rest};
      if (source(service, names, relay) || service == nullptr || relay == nullptr)
        return exit_bad_payload;
    }
    // One name server per cluster, the root's: names resolve the same from every node.
    if (names != nullptr)
      strata::detail::use_name_server(sys.actors(), names);
    // This node's supervision events go to the root's relay, which publishes them with the
    // root's own. The relay's proxy is the subscriber: a supervisor here writes each event
    // into the ring to the root as it publishes it, on its own thread, so the event is ahead
    // of anything the supervisor does next, its own exit included, and a node that ends
    // loses none of them (one killed loses what it had not published).
    strata::events_group(sys.actors())->subscribe(caf::actor_cast<caf::strong_actor_ptr>(relay));
    auto keeper = sys.actors().spawn<caf::hidden>(node_keeper, this, &sys);
    // This process has run none of the paths of a start yet: its first request, decoded
    // cold, took 100-250 us here. A rehearsal of it, and of its answer, costs that now,
    // before the spare is ready, rather than in a restart. Strings not empty and arguments
    // of common types: an empty one skips their loaders.
    (*t)->rehearse(
      caf::make_message(start_child_atom::value, std::string{"id"}, std::string{"factory"},
                        caf::make_message(int32_t{0}, std::string{"argument"}), keeper, true));
    (*t)->rehearse(caf::make_message(keeper, true));
    caf::scoped_actor self{sys.actors()};
    self->monitor(keeper);
    self->send(service, spare_ready_atom::value, job->slot, keeper);
    service = nullptr;
    // The node lives as long as its keeper, which ends with the child.
    self->receive([](caf::down_msg&) {});
    return 0;
  }

  // Spawns the child. Given `here` (the unit the keeper runs on), a worker's init runs at
  // once on this thread, as a supervisor runs a local task child's (supervisor_actor.cpp,
  // init_child), and `initialized` says it did; an init that fails is the start's error
  // (the child has ended with it). Else the child waits for its supervisor's init request.
  caf::expected<caf::actor> start_child(strata::system& sys, const std::string& name,
                                        caf::message& args, caf::execution_unit* here,
                                        bool& initialized) {
    initialized = false;
    auto f = cfg_->factories().find(name);
    if (f == nullptr)
      return make_error(strata::error::unknown_factory, name);
    caf::scoped_execution_unit host{&sys.actors()};
    strata::detail::inline_unit unit{&host};
    caf::actor_config acfg{&unit};
    caf::expected<caf::actor> hdl{caf::error{}};
    try {
      hdl = f->spawner(cfg_->wrap_workers())(acfg, args);
    } catch (...) {
      return make_error(strata::error::start_failed, name, "exception in its constructor");
    }
    if (here == nullptr || f->type != child_type::worker)
      return hdl; // the unit's destructor schedules its first run
    auto first_run = unit.take();
    if (first_run == nullptr)
      return hdl;
    // CAF's spawn gave this thread a logger (see supervisor_actor.cpp): cleared first.
    caf::logger::set_current_actor_system(nullptr);
    auto outcome = strata::detail::run_init_inline(first_run, here);
    if (outcome.done && outcome.error)
      return std::move(outcome.error);
    initialized = outcome.done; // else it waits for the init request
    return hdl;
  }

  node_options opts_;
  bool in_node_ = false; // set in a node process, before its system exists
  config* cfg_ = nullptr; // the root's configuration (each node has its copy)
  cluster_token token_;
  std::mutex zygote_mtx_; // guards the use of zygote_ against its reset; taken before mtx_
  std::unique_ptr<zygote> zygote_;
  mutable std::mutex mtx_; // guards slots_, transport_, service_, relay_, failure_,
                           // spare_payload_, spare_failure_, spare_failures_,
                           // spare_news_, news_wanted_
  std::condition_variable cv_; // signalled when a spare is ready or failed, and at shut-down
  std::vector<slot_state> slots_;
  std::unique_ptr<transport> transport_;
  caf::actor service_; // the service actor, in the root
  caf::actor relay_; // the event relay, in the root
  caf::error failure_;
  std::string spare_payload_; // the assignment payload of every spare
  caf::error spare_failure_; // why the last spare died before its child started
  uint64_t spare_failures_ = 0; // how many did
  uint64_t spare_news_ = 0; // how often the spares changed (spare_news_locked)
  bool news_wanted_ = false; // a start waits at the service actor for the next change

  // A node's main actor: starts the node's one child when asked, answers heartbeats, and
  // ends with the child.
  struct keeper_state {
    caf::actor child;
    caf::actor_addr parent; // the supervisor that asked for the child
  };

  static caf::behavior node_keeper(caf::stateful_actor<keeper_state>* self, node_provider* provider,
                                   strata::system* sys) {
    self->set_down_handler([self](caf::down_msg& msg) {
      if (msg.source == self->state.parent)
        self->send_exit(self->state.child, msg.reason);
      else
        self->quit(msg.reason);
    });
    return {
      [self, provider, sys](start_child_atom, std::string& id, std::string& factory,
                            caf::message& args, caf::actor& parent,
                            bool init_here) -> caf::result<caf::actor, bool> {
        if (self->state.child != nullptr)
          return make_error(strata::error::start_failed, id, "this node runs a child already");
        bool initialized = false;
        auto child = provider->start_child(*sys, factory, args,
                                           init_here ? self->context() : nullptr, initialized);
        if (!child)
          return std::move(child.error());
        self->monitor(*child);
        self->state.child = *child;
        if (parent != nullptr) {
          // A child that runs already (its init ran here) is linked to its parent now, as a
          // local child is before its init returns: should it end before the answer reaches
          // the parent, its exit still does, with its reason (linking an actor that has
          // ended sends its exit at once), not as `node_down` when its node then exits. The
          // parent, getting the answer, links again (a no-op) before taking it as running.
          if (initialized)
            caf::actor_cast<caf::abstract_actor*>(*child)->add_link(
              caf::actor_cast<caf::abstract_actor*>(parent));
          // Until the parent's side of the link is made (the link request reaches the
          // root), the parent's death reaches the child through this monitor: the child
          // must not outlive it, as if they had been linked from the start.
          self->monitor(parent);
          self->state.parent = parent.address();
        }
        return caf::result<caf::actor, bool>{*child, initialized};
      },
      [](heartbeat_atom x) { return x; },
      [self](mailbox_atom) -> int64_t {
        // The child runs in this process: its count is read in place.
        return strata::detail::queued_messages(self->state.child);
      },
    };
  }

  // The root's event relay: publishes the supervision events of the nodes' supervisors (each
  // node subscribes the relay's proxy to its own events) in the root's events group, so the
  // root's subscribers (the event log, the observer's counters and live page, a user's
  // `subscribe`) see every supervisor of the cluster. An actor of its own, so that a burst
  // of events in a node does not delay the service actor's spares and heartbeats.
  static caf::behavior event_relay(caf::event_based_actor* self, caf::group events) {
    return {
      [self, events](supervision_event& ev) { self->send(events, std::move(ev)); },
      [self](stop_atom) {
        // Answered after every event queued before it was published.
        self->quit();
        return ok_atom::value;
      },
    };
  }

  struct service_state {
    std::map<uint32_t, caf::actor> watched; // the keepers heartbeats go to, by slot
    // The starts waiting for news of the spares, and until when (start_when_ready).
    std::vector<std::pair<std::chrono::steady_clock::time_point, caf::response_promise>> waiting;
  };

  // The root's service actor: starts spares when asked (`replenish`), takes the reports of
  // ready ones, tells the starts waiting for a spare when the spares change, and, every
  // `interval` (unless zero), asks each watched node's keeper for an answer, declaring a node
  // hung when one stays unanswered for `timeout`.
  static caf::behavior service(caf::stateful_actor<service_state>* self, node_provider* provider,
                               std::chrono::milliseconds interval,
                               std::chrono::milliseconds timeout) {
    if (interval.count() > 0)
      self->send(self, hb_tick_atom::value);
    return {
      [self, provider](spare_wait_atom, uint64_t seen) -> caf::result<ok_atom> {
        if (provider->news_since(seen))
          return ok_atom::value;
        auto& waiting = self->state.waiting;
        // Those whose start gave up (timed out) are dropped unanswered.
        auto now = std::chrono::steady_clock::now();
        waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                                     [now](auto& w) { return w.first < now; }),
                      waiting.end());
        auto rp = self->make_response_promise<ok_atom>();
        waiting.emplace_back(now + provider->opts_.start_timeout, rp); // no start waits longer
        return rp;
      },
      [self](spare_news_atom) {
        for (auto& w : self->state.waiting)
          w.second.deliver(ok_atom::value);
        self->state.waiting.clear();
      },
      [provider](replenish_atom) { provider->replenish(); },
      [provider](free_slot_atom, uint32_t slot) { provider->free_slot(slot); },
      [provider](spare_ready_atom, uint32_t slot, caf::actor& keeper) {
        provider->spare_ready(slot, std::move(keeper));
      },
      [self](hb_watch_atom, uint32_t slot, caf::actor& keeper) {
        self->state.watched[slot] = std::move(keeper);
      },
      [self](hb_forget_atom, uint32_t slot) { self->state.watched.erase(slot); },
      [provider](hand_over_atom, int32_t pid) { provider->tell_zygote(false, pid); },
      [provider](collect_atom, int32_t pid) { provider->tell_zygote(true, pid); },
      [self, provider](node_gone_atom, uint32_t slot, int32_t pid) {
        self->state.watched.erase(slot);
        provider->tell_zygote(true, pid);
      },
      [self, provider, interval, timeout](hb_tick_atom) {
        for (auto& [slot, keeper] : self->state.watched)
          self->request(keeper, timeout, heartbeat_atom::value)
            .then([](heartbeat_atom) {},
                  [provider, slot = slot, keeper = keeper](caf::error& err) {
                    // Only silence means hung; a lost node is reported by its exit.
                    if (err == caf::sec::request_timeout)
                      provider->declare_hung(slot, keeper);
                  });
        self->delayed_send(self, interval, hb_tick_atom::value);
      },
    };
  }
};

} // namespace

caf::expected<cluster_status> status(const strata::config& cfg) {
  auto* p = dynamic_cast<node_provider*>(cfg.provider());
  if (p == nullptr || !p->started())
    return make_error(error::invalid_argument, "process placement is not installed or started");
  return p->status();
}

void install(strata::config& cfg, node_options options) {
  // Exit reasons such as node_down must read by name in events and logs.
  strata::register_error_category(error_category,
                                  [](uint8_t code) { return to_string(static_cast<error>(code)); });
  cfg.set_placement_provider(std::make_shared<node_provider>(options));
}

} // namespace strata::nodes
