#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/group.hpp>
#include <caf/invoke_message_result.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/resumable.hpp>
#include <caf/typed_response_promise.hpp>

#include "strata/atoms.hpp"
#include "strata/config.hpp"
#include "strata/fault.hpp"
#include "strata/observe.hpp"
#include "strata/supervision_event.hpp"
#include "strata/supervisor.hpp"

#include "internal/supervision_logic.hpp"

namespace strata::internal {

class events_channel;

// Messages a supervisor sends itself.
using try_again_atom = caf::atom_constant<caf::atom("s_tryagain")>;
using backoff_done_atom = caf::atom_constant<caf::atom("s_backoff")>;
using kill_timeout_atom = caf::atom_constant<caf::atom("s_killtmo")>;
using fault_resume_atom = caf::atom_constant<caf::atom("s_faultcnt")>;

/// The control block of `x`, an actor handle or address, without touching its reference
/// counts: a child's identity for lookups.
template <class Handle>
const caf::actor_control_block* block_of(const Handle& x) noexcept {
  return caf::actor_cast<caf::actor_control_block*>(x);
}

/// The supervisor actor; supervisor.hpp holds the semantics it implements. Its decisions
/// come from supervision_logic.hpp; this class carries them out asynchronously, one
/// operation at a time. All members are owned by the actor's own execution context.
class supervisor_actor : public caf::event_based_actor {
public:
  supervisor_actor(caf::actor_config& cfg, std::function<supervisor_spec()> make_spec);

  const char* name() const override {
    return "strata.supervisor";
  }

protected:
  caf::behavior make_behavior() override;

  /// Takes exit_msgs with `exit_reason::kill` from children before CAF does (see .cpp).
  caf::invoke_message_result consume(caf::mailbox_element& x) override;

private:
  using clock = std::chrono::steady_clock;
  using done_fn = std::function<void()>;
  // Keyed by the child's control block, not by an actor_addr: the same identity without a
  // weak reference (two atomic operations) per lookup. A child in the map is kept alive by
  // its `handle`, and an exit_msg of a gone child holds its block, so a key cannot be
  // reused while it can still be looked up.
  using running_map = std::unordered_map<const caf::actor_control_block*, uint64_t>;
  using start_done_fn = std::function<void(caf::error err, uint64_t failed_key)>;

  struct child {
    uint64_t key = 0;
    child_spec spec;
    child_type type = child_type::worker;
    strata::placement where = placement::task;
    caf::actor handle;
    child_status status = child_status::stopped;
    uint64_t restarts = 0;
    uint32_t consecutive = 0; // restarts in a row, for backoff
    clock::time_point started_at;
    std::string display_id; // id, or id#serial for dynamic children
    // Resolved at the first start and kept for restarts: the spec, the configuration and the
    // factory registry do not change while the system runs.
    std::optional<caf::expected<strata::placement>> resolved_where;
    const factory* start_with = nullptr;
    std::string path; // our path + "/" + display_id, sent to the child at each start
    // Why it last terminated, kept as the error and rendered only when an observer asks.
    std::optional<caf::error> last_exit;
    // The tag of the fault last injected into it (or into the sibling whose restart took it
    // along), carried by its events until it runs again.
    std::string fault;
  };

  struct pending_stop {
    caf::actor handle;
    uint64_t key = 0;
    done_fn done;
    bool killed = false;
    std::optional<clock::time_point> deadline; // for a shutdown timeout
  };

  // Children stopped one after the other; `next` is the next to stop.
  struct stop_sequence {
    std::vector<uint64_t> keys;
    size_t next = 0;
    done_fn done;
  };

  // Children started one after the other; `next` is the one starting (or to start).
  struct start_sequence {
    std::vector<uint64_t> keys;
    size_t next = 0;
    bool is_restart = false;
    start_done_fn done;
  };

  // -- init and the API (supervisor_api.cpp) ---------------------------------------------
  caf::result<ok_atom> init(const caf::actor& parent, const std::string& path);
  caf::result<caf::actor> api_start_child(child_spec spec);
  caf::result<caf::actor> api_start_dynamic(caf::message extra);
  caf::result<ok_atom> api_terminate_child(const std::string& id);
  caf::result<ok_atom> api_terminate_dynamic(const caf::actor& hdl);
  caf::result<caf::actor> api_restart_child(const std::string& id);
  caf::result<ok_atom> api_delete_child(const std::string& id);
  caf::result<std::vector<child_info>> api_which_children();
  caf::result<child_counts> api_count_children();
  caf::result<child_spec> api_get_spec(const std::string& id);
  caf::result<ok_atom> api_stop();
  supervisor_report api_observe();
  caf::result<std::string> api_inject_fault(const fault_request& req);

  // -- reacting to exits (supervisor_actor.cpp) -------------------------------------------
  void on_exit(caf::exit_msg& msg);
  /// Whether `source` is a child: running, being stopped, starting, or ended recently.
  bool from_child(const caf::actor_addr& source) const;
  /// Takes an exit_msg carrying `kill` as Erlang's `killed` if it comes from a child, else
  /// dies of it, as CAF does, and returns false.
  bool take_kill(caf::exit_msg& msg);
  /// Whether `msg` is the exit of the child whose init answer we await; then fails its
  /// start with the exit's reason.
  bool start_ended(const caf::exit_msg& msg);
  bool in_other_process(const caf::actor_addr& x) const;
  /// Whether `source` is an actor of this process that has not ended: an exit from it was
  /// sent by its own code, not by its death.
  bool sent_by_live_actor(const caf::actor_addr& source) const;
  void remember_ended(const caf::actor_addr& child);
  bool ended_recently(const caf::actor_addr& source) const;
  void on_down(caf::down_msg& msg);
  void child_exited(const caf::actor_addr& source, const caf::error& reason);
  void restart(uint64_t key);
  void start_restarts(std::vector<uint64_t> keys);
  void shutdown(caf::error reason);

  // -- operations: stopping and starting children ----------------------------------------
  /// Stops the child of `key` and calls `done` once it is gone (at once if it is not running
  /// or ends on our thread).
  void stop_one(uint64_t key, done_fn done);
  /// Sends the child of `key` its exit; returns its handle if we must wait for it to end, or
  /// null if it is gone already (its exit event emitted).
  caf::actor begin_stop(uint64_t key);
  /// Sends `hdl`, a task child, the exit `reason`, and runs it at once on our thread if it is
  /// idle and does not trap exits; returns the child if it ended (its `fail_state` is the
  /// reason), else null.
  caf::scheduled_actor* exit_inline(const caf::actor& hdl, caf::exit_reason reason);
  /// Waits for `hdl`, the child of `key`, to end (monitor, shutdown deadline), then `done`.
  void await_stop(uint64_t key, caf::actor hdl, done_fn done);
  /// Bookkeeping once the child of `key`, the actor `source`, ended with `reason`: its exit
  /// event; a temporary child is forgotten.
  void child_stopped(uint64_t key, caf::actor_control_block* source, const caf::error& reason);
  void arm_shutdown_timer();
  void kill_overdue(); // kills the children past their shutdown deadline
  void stop_in_order(std::vector<uint64_t> keys, done_fn done);
  void continue_stop(std::shared_ptr<stop_sequence> seq);
  void stop_all_at_once(std::vector<uint64_t> keys, done_fn done);
  void start_one(uint64_t key, bool is_restart, std::function<void(caf::error)> done);
  void start_in_order(std::vector<uint64_t> keys, size_t pos, bool is_restart, start_done_fn done);
  void continue_start(std::shared_ptr<start_sequence> seq);
  /// How a step of a start sequence went: the child runs; its answer will come (a callback
  /// continues the sequence); the sequence ended (its completion was called).
  enum class step { started, pending, ended };
  /// Spawns the sequence's next child (for `process`, asynchronously) and hands it to
  /// `init_child`.
  step start_step(const std::shared_ptr<start_sequence>& seq);
  /// Links the spawned child and runs its init handshake; `first_run` is the child's first
  /// run if it is ours to run (a task child). An `initialized` child (a `process` child whose
  /// init its provider ran) is only linked.
  step init_child(const std::shared_ptr<start_sequence>& seq, caf::expected<caf::actor> hdl,
                  caf::resumable* first_run, bool initialized = false);
  /// Bookkeeping once the sequence's next child, `hdl`, answered its init: it runs.
  step child_running(const std::shared_ptr<start_sequence>& seq, const caf::actor& hdl);
  /// Ends the sequence: its next child failed to start with `reason`.
  void start_failed(const std::shared_ptr<start_sequence>& seq, const caf::error& reason);

  // -- serialisation: one operation at a time --------------------------------------------
  void run_or_defer(std::function<void()> fun);
  void run_or_defer_first(std::function<void()> fun);
  void finish_operation();
  void answer_deferred();

  // -- bookkeeping -------------------------------------------------------------------------
  child* find(uint64_t key);
  child* find_id(const std::string& id);
  uint64_t add_child(child_spec spec);
  /// The entry of running child `x` in running_ (end() for none): by its control block, or,
  /// for an actor in another process, by its node and id, as CAF compares handles. One
  /// remote actor can have several proxies over time (its down drops one; a handle decoded
  /// after that makes another), and its exit can come through another than its start named.
  running_map::const_iterator find_running(const caf::actor_addr& x) const;
  /// Adds `child` → `key` to running_, in a spare node if there is one.
  void add_running(const caf::actor_control_block* child, uint64_t key);
  /// Keeps a node taken out of running_ as a spare (nothing if it is empty).
  void forget_running(running_map::node_type node);
  void erase(uint64_t key);
  std::vector<uint64_t> keys_in_order() const;
  std::vector<uint64_t> running_keys_reversed() const;
  size_t significant_running() const;
  bool simple() const noexcept {
    return spec_.strategy == strategy::simple_one_for_one;
  }
  shutdown_spec effective_shutdown(const child& c) const;
  bool events_listened() const noexcept; // whether an event would reach anyone
  // `actor` is the child's actor the event names (supervision_event::actor), if any; a raw
  // block, so that nothing is counted when nobody listens.
  void emit(event_kind kind, const child* c, const caf::error& reason,
            caf::actor_control_block* actor = nullptr);
  void emit(event_kind kind, const child* c, const std::string& reason,
            caf::actor_control_block* actor = nullptr);

  std::function<supervisor_spec()> make_spec_;
  supervisor_spec spec_;
  const strata::config* cfg_ = nullptr;
  // Whether the system accepts faults (`strata.observer.faults`).
  bool faults_ = false;
  // Whether workers are spawned wrapped (factory::spawn_injectable): to take faults, or to
  // count their mailbox for an observer (docs/design/observer.md).
  bool wrap_workers_ = false;
  std::string path_;
  caf::actor_addr parent_;
  caf::group events_;
  // `events_` as strata's channel (null for another kind of group), to ask whether anyone
  // listens before building an event.
  const events_channel* events_channel_ = nullptr;
  std::optional<restart_intensity> intensity_;
  std::map<uint64_t, child> children_; // by key; keys grow, so this is start order
  uint64_t last_found_key_ = 0; // keys start at 1
  child* last_found_ = nullptr; // children_[last_found_key_], for `find`
  running_map running_; // child -> key
  // Nodes taken out of running_, kept for the next child that runs: a restart of n children
  // then allocates no map node (at most as many as children ever ran at once).
  std::vector<running_map::node_type> spare_running_;
  uint64_t next_key_ = 1;
  bool busy_ = false;
  bool draining_ = false;
  bool shutting_down_ = false;
  std::deque<std::function<void()>> deferred_;
  // The child whose init answer this supervisor awaits (init_child): linked, not yet
  // running. One that ends with its answer pending never sends it (CAF 0.17 drops an
  // unfulfilled response promise), so its exit fails the start.
  struct awaited_init {
    caf::actor_addr child;
    caf::message_id answer; // the id its answer comes with (response_handle::id)
    std::shared_ptr<start_sequence> seq;
  };
  std::optional<awaited_init> awaiting_;
  // Children that failed to start, and `process` children that ended, most recent last (at
  // most `ended_kept`), by node and actor id: an exit from one that carries `kill` must not be
  // fatal either. A child in another process can be heard of twice (its exit from its node,
  // then node_down as its node ends and our proxy of it dies), and from a new proxy.
  static constexpr size_t ended_kept = 32;
  std::deque<std::pair<caf::node_id, caf::actor_id>> ended_;
  // Set while another process starts a child for us (start_step): the exits carrying `kill`
  // from unknown actors of other processes that came meanwhile, kept until its answer names
  // the child.
  std::optional<std::vector<caf::exit_msg>> early_kills_;
  std::unordered_map<caf::actor_addr, pending_stop> stopping_;
  // Shutdown deadlines of the children in `stopping_` that have a timeout. One CAF timer is
  // armed, for the earliest (`armed_`): CAF's clock wakes its thread for every timer set,
  // which cost ~10 µs per child stopped before (docs/design/supervision.md).
  std::set<std::pair<clock::time_point, caf::actor_addr>> deadlines_;
  std::optional<clock::time_point> armed_;
  std::map<uint64_t, std::vector<uint64_t>> backoff_pending_; // failed key -> keys to start
  std::vector<caf::typed_response_promise<ok_atom>> stop_waiters_;
  std::minstd_rand rng_;
};

} // namespace strata::internal
