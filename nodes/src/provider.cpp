#include "strata/nodes/provider.hpp"

#include <csignal>
#include <map>
#include <mutex>
#include <unistd.h>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <caf/stateful_actor.hpp>

#include "strata/detail/blocking.hpp"
#include "strata/names.hpp"
#include "strata/nodes/error.hpp"
#include "strata/nodes/pidfd.hpp"
#include "strata/nodes/segments.hpp"
#include "strata/nodes/transport.hpp"
#include "strata/nodes/zygote.hpp"
#include "strata/system.hpp"

#include "internal/segment.hpp"

namespace strata::nodes {

namespace {

/// A node's answer to the root's spawn: `(node_up_atom, child, keeper)` (the keeper is the
/// node's main actor, which answers heartbeats) or `(node_up_atom, error)`.
using node_up_atom = caf::atom_constant<caf::atom("s_node_up")>;
/// A heartbeat request to a node's keeper, answered with the same atom.
using heartbeat_atom = caf::atom_constant<caf::atom("s_hb")>;
/// To the root's heartbeat actor: `(watch, slot, keeper)`, `(forget, slot)`, `(tick)`.
using hb_watch_atom = caf::atom_constant<caf::atom("s_hb_watch")>;
using hb_forget_atom = caf::atom_constant<caf::atom("s_hb_forg")>;
using hb_tick_atom = caf::atom_constant<caf::atom("s_hb_tick")>;

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
    cfg.load<caf::io::middleman>();
    auto token = make_cluster_token();
    if (!token)
      return token.error();
    token_ = *token;
    (void)remove_stale_segments();
    zygote_options zo;
    zo.spares = opts_.spares;
    zo.grace = opts_.grace;
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
    opts.on_peer_closed = [this](uint32_t slot, const caf::error&) { kill_node(slot); };
    // brutal_kill (and a shutdown timeout's kill) of a node's child kills the node's process:
    // a child stuck in a handler would never read the exit.
    opts.on_kill = [this](uint32_t slot, caf::actor_id aid) {
      std::lock_guard<std::mutex> guard{mtx_};
      if (slot < slots_.size() && slots_[slot].child == aid && slots_[slot].pidfd >= 0)
        (void)signal_pidfd(slots_[slot].pidfd, SIGKILL);
    };
    auto t = transport::create(sys, std::move(opts));
    std::lock_guard<std::mutex> guard{mtx_};
    if (!t) {
      failure_ = t.error();
      return;
    }
    transport_ = std::move(*t);
    zygote_->on_exit([this](const node_exit& x) { node_exited(x); });
    if (opts_.heartbeat_interval.count() > 0)
      heartbeat_ = sys.spawn<caf::hidden>(heartbeat, this, opts_.heartbeat_interval,
                                          opts_.heartbeat_timeout);
  }

  void stopping(caf::actor_system&) override {
    if (!in_node_)
      shut_down();
  }

  /// Called by the heartbeat actor: the node in `slot` left a heartbeat unanswered.
  void declare_hung(uint32_t slot, const caf::actor& keeper) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& s = slots_[slot];
    if (s.keeper != keeper || s.pidfd < 0)
      return; // a later node in the same slot, or already gone
    s.hung = true;
    (void)signal_pidfd(s.pidfd, SIGKILL); // its exit report tells the supervisor
  }

  caf::expected<caf::actor> spawn(caf::actor_system& sys, const child_spec& child,
                                  child_type type) override {
    if (in_node_)
      return make_error(strata::error::placement_unavailable,
                        "a process child cannot start process children of its own yet", child.id);
    // It waits for the node's answer, which a receive thread delivers: if this runs on one
    // (a supervisor woken by a message from a node), that thread hands its reading on first.
    strata::detail::before_blocking();
    auto slot = take_slot();
    if (!slot)
      return slot.error();
    caf::scoped_actor self{sys};
    std::vector<char> payload;
    {
      caf::binary_serializer sink{sys, payload};
      // The root's node id first: the node reads it before it has a transport to make
      // proxies with, and connects without waiting for the root's hello.
      auto root = sys.node();
      if (auto err = sink(root)) {
        give_back(*slot);
        return err;
      }
      auto reply_to = caf::actor{self};
      auto kind = static_cast<uint8_t>(type);
      auto id = child.id;
      auto name = child.start.name;
      auto args = child.start.args;
      auto names = strata::name_server(sys);
      if (auto err = sink(reply_to, names, kind, id, name, args)) {
        give_back(*slot);
        return err;
      }
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      slots_[*slot].waiter = caf::actor{self};
    }
    auto proc = zygote_->spawn(*slot, std::string{payload.begin(), payload.end()});
    if (!proc) {
      give_back(*slot);
      return proc.error();
    }
    record(*slot, *proc);
    caf::expected<caf::actor> result{caf::error{}};
    caf::actor keeper;
    self->receive(
      [&](node_up_atom, caf::actor& hdl, caf::actor& k) {
        result = std::move(hdl);
        keeper = std::move(k);
      },
      [&](node_up_atom, caf::error& err) { result = std::move(err); },
      caf::after(opts_.start_timeout) >>
        [&] {
          result = make_error(error::node_down,
                              "node " + std::to_string(*slot) + " did not start its child in time");
        });
    std::lock_guard<std::mutex> guard{mtx_};
    slots_[*slot].waiter = nullptr;
    if (result)
      slots_[*slot].child = (*result)->id();
    if (result && keeper != nullptr && heartbeat_ != nullptr && !slots_[*slot].exited) {
      slots_[*slot].keeper = keeper;
      caf::anon_send(heartbeat_, hb_watch_atom::value, *slot, keeper);
    }
    if (!result) {
      if (slots_[*slot].pidfd >= 0)
        (void)signal_pidfd(slots_[*slot].pidfd, SIGKILL); // its exit report frees the slot
    }
    return result;
  }

  cluster_status status() {
    cluster_status result;
    result.token = to_hex(token_);
    std::lock_guard<std::mutex> guard{mtx_};
    result.zygote = zygote_ != nullptr ? zygote_->pid() : 0;
    for (auto& s : slots_)
      result.nodes.push_back(s.used && !s.exited ? s.pid : 0);
    return result;
  }

  bool started() const noexcept {
    return zygote_ != nullptr;
  }

private:
  struct slot_state {
    bool used = false; // from take_slot until the transport released it
    bool exited = false; // its node's exit was reported
    int pidfd = -1; // of its node, until the exit report
    pid_t pid = 0; // of its node
    caf::actor waiter; // the spawn waiting for the node's answer
    caf::actor keeper; // the node's main actor, which answers heartbeats
    caf::actor_id child = 0; // the id of the child it runs (in its node)
    bool hung = false; // killed for leaving a heartbeat unanswered
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

  caf::expected<uint32_t> take_slot() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (failure_)
      return make_error(strata::error::placement_unavailable, to_text(failure_));
    if (transport_ == nullptr)
      return make_error(strata::error::placement_unavailable, "the node transport is stopped");
    for (uint32_t i = 1; i < slots_.size(); ++i)
      if (!slots_[i].used) {
        slots_[i] = slot_state{};
        slots_[i].used = true;
        return i;
      }
    return make_error(strata::error::placement_unavailable,
                      "all " + std::to_string(slots_.size() - 1) + " node slots are in use");
  }

  void give_back(uint32_t slot) {
    std::lock_guard<std::mutex> guard{mtx_};
    slots_[slot] = slot_state{};
  }

  // The zygote answered the spawn. Its report of the node's exit may have come first.
  void record(uint32_t slot, const node_process& proc) {
    std::lock_guard<std::mutex> guard{mtx_};
    slots_[slot].pid = proc.pid;
    if (slots_[slot].exited)
      ::close(proc.pidfd);
    else
      slots_[slot].pidfd = proc.pidfd;
  }

  void kill_node(uint32_t slot) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (slot < slots_.size() && slots_[slot].pidfd >= 0)
      (void)signal_pidfd(slots_[slot].pidfd, SIGKILL);
  }

  // On the zygote's reader thread: a node ended. Its proxies die with the reason, which is
  // how its supervisor learns of it; then its slot is cleaned and freed.
  void node_exited(const node_exit& x) {
    if (x.slot == 0 || x.slot >= slots_.size())
      return;
    caf::actor waiter;
    transport* t = nullptr;
    caf::error reason;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& s = slots_[x.slot];
      reason = s.hung
                 ? make_error(error::node_down, "hung: no heartbeat answer within "
                                                  + std::to_string(opts_.heartbeat_timeout.count())
                                                  + " ms; " + to_string(x))
                 : make_error(error::node_down, to_string(x));
      if (heartbeat_ != nullptr && s.keeper != nullptr)
        caf::anon_send(heartbeat_, hb_forget_atom::value, x.slot);
      s.exited = true;
      if (s.pidfd >= 0)
        ::close(s.pidfd);
      s.pidfd = -1;
      waiter = s.waiter;
      t = transport_.get();
    }
    if (waiter != nullptr)
      caf::anon_send(waiter, node_up_atom::value, reason);
    if (t == nullptr)
      return;
    t->peer_lost(x.slot, reason);
    // A node killed with SIGKILL leaves its inbox behind.
    internal::remove_segment(segment_name(token_, x.slot));
    t->release(x.slot, [this, slot = x.slot] {
      std::lock_guard<std::mutex> guard{mtx_};
      slots_[slot] = slot_state{};
    });
  }

  void shut_down() {
    caf::actor hb;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      hb.swap(heartbeat_);
    }
    if (hb != nullptr)
      caf::anon_send_exit(hb, caf::exit_reason::user_shutdown);
    // The zygote first: destroying it stops every node left (SIGTERM, then SIGKILL) and joins
    // the thread that reports exits, which uses the transport; only then can the transport
    // go. (The other order let a late exit report use a destroyed transport.)
    zygote_.reset();
    std::unique_ptr<transport> t;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      t.swap(transport_);
      for (auto& s : slots_)
        if (s.pidfd >= 0) {
          ::close(s.pidfd);
          s.pidfd = -1;
        }
    }
    t.reset();
    if (cfg_ != nullptr && !in_node_)
      remove_cluster_segments(token_);
  }

  // -- the node's side --------------------------------------------------------------------

  // Runs in a process forked from the zygote: builds this node's actor system, waits to be
  // assigned, connects to the root, starts the child and lives until the child ends.
  int run_node(node_context& ctx) {
    in_node_ = true;
    strata::system sys{*cfg_};
    // The inbox is made while this node is a spare: allocating its memory is most of what a
    // transport costs to start, and nobody waits for a spare.
    auto spare = inbox::create_spare(inbox_options_for(transport_options_for(0)));
    auto job = ctx.await_assignment();
    if (!job)
      return 0; // the cluster went away before needing this spare
    auto opts = transport_options_for(job->slot);
    opts.hub = 0; // actors of other nodes are reached through the root
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
    caf::actor reply_to;
    caf::actor names;
    uint8_t kind = 0;
    std::string id;
    std::string name;
    caf::message args;
    {
      // Handles arrive as proxies only through an execution unit carrying the registry.
      caf::scoped_execution_unit unit{&sys.actors()};
      unit.proxy_registry_ptr(&(*t)->proxies());
      caf::binary_deserializer source{&unit, job->payload.data() + rest,
                                      job->payload.size() - rest};
      if (source(reply_to, names, kind, id, name, args) || reply_to == nullptr)
        return exit_bad_payload;
    }
    // One name server per cluster, the root's: names resolve the same from every node.
    if (names != nullptr)
      strata::detail::use_name_server(sys.actors(), names);
    caf::scoped_actor self{sys.actors()};
    auto child = start_child(sys, name, args);
    if (!child) {
      self->send(reply_to, node_up_atom::value, child.error());
      return 0;
    }
    self->monitor(*child);
    self->send(reply_to, node_up_atom::value, *child, caf::actor{self});
    reply_to = nullptr;
    // The node lives as long as its child; meanwhile this actor answers the root's heartbeats.
    for (bool running = true; running;)
      self->receive([&](caf::down_msg&) { running = false; }, [](heartbeat_atom x) { return x; });
    return 0;
  }

  caf::expected<caf::actor> start_child(strata::system& sys, const std::string& name,
                                        caf::message& args) {
    auto f = cfg_->factories().find(name);
    if (f == nullptr)
      return make_error(strata::error::unknown_factory, name);
    caf::scoped_execution_unit host{&sys.actors()};
    caf::actor_config acfg{&host};
    try {
      return f->spawn(acfg, args);
    } catch (...) {
      return make_error(strata::error::start_failed, name, "exception in its constructor");
    }
  }

  node_options opts_;
  bool in_node_ = false; // set in a node process, before its system exists
  config* cfg_ = nullptr; // the root's configuration (each node has its copy)
  cluster_token token_;
  std::unique_ptr<zygote> zygote_;
  std::mutex mtx_; // guards slots_, transport_, heartbeat_, failure_
  std::vector<slot_state> slots_;
  std::unique_ptr<transport> transport_;
  caf::actor heartbeat_; // the heartbeat actor, in the root
  caf::error failure_;

  // The root's heartbeat actor: every `interval`, asks each watched node's keeper for an
  // answer, and declares a node hung when one stays unanswered for `timeout`.
  static caf::behavior heartbeat(caf::stateful_actor<std::map<uint32_t, caf::actor>>* self,
                                 node_provider* provider, std::chrono::milliseconds interval,
                                 std::chrono::milliseconds timeout) {
    self->send(self, hb_tick_atom::value);
    return {
      [self](hb_watch_atom, uint32_t slot, caf::actor& keeper) {
        self->state[slot] = std::move(keeper);
      },
      [self](hb_forget_atom, uint32_t slot) { self->state.erase(slot); },
      [self, provider, interval, timeout](hb_tick_atom) {
        for (auto& [slot, keeper] : self->state)
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
