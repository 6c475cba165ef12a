#include "internal/supervisor_actor.hpp"

#include <algorithm>
#include <csignal>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/logger.hpp>

#include "strata/detail/guarded_init.hpp"
#include "strata/detail/inline_run.hpp"
#include "strata/error.hpp"
#include "strata/events.hpp"

#include "internal/events_channel.hpp"

namespace strata {

namespace detail {

caf::actor spawn_supervisor(caf::actor_config& cfg, std::function<supervisor_spec()> make_spec) {
  return cfg.host->system().spawn_class<internal::supervisor_actor, caf::no_spawn_options>(
    cfg, std::move(make_spec));
}

} // namespace detail

namespace internal {

namespace {

// OTP's default shutdown for workers.
constexpr auto default_worker_shutdown = std::chrono::seconds(5);

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

supervisor_actor::supervisor_actor(caf::actor_config& cfg,
                                   std::function<supervisor_spec()> make_spec)
  : caf::event_based_actor(cfg),
    make_spec_(std::move(make_spec)),
    rng_(static_cast<std::minstd_rand::result_type>(steady_ns())) {
  // nop
}

caf::behavior supervisor_actor::make_behavior() {
  set_exit_handler([this](caf::exit_msg& msg) { on_exit(msg); });
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  return {
    [this](init_atom, const caf::actor& parent, const std::string& path) {
      return init(parent, path);
    },
    [this](start_child_atom, child_spec& spec) { return api_start_child(std::move(spec)); },
    [this](start_child_atom, caf::message& extra) { return api_start_dynamic(std::move(extra)); },
    [this](terminate_child_atom, const std::string& id) { return api_terminate_child(id); },
    [this](terminate_child_atom, const caf::actor& hdl) { return api_terminate_dynamic(hdl); },
    [this](restart_child_atom, const std::string& id) { return api_restart_child(id); },
    [this](delete_child_atom, const std::string& id) { return api_delete_child(id); },
    [this](which_children_atom) { return api_which_children(); },
    [this](count_children_atom) { return api_count_children(); },
    [this](get_spec_atom, const std::string& id) { return api_get_spec(id); },
    [this](stop_atom) { return api_stop(); },
    [this](observe_atom) { return api_observe(); },
    [this](inject_fault_atom, const fault_request& req) { return api_inject_fault(req); },
    [this](fault_resume_atom, const caf::actor& hdl) {
      // The end of a `hang` of a process child whose node the heartbeat did not kill.
      if (auto provider = cfg_->provider())
        (void)provider->signal_process(hdl, SIGCONT);
    },
    [this](try_again_atom, uint64_t key) {
      run_or_defer([this, key] {
        auto c = find(key);
        if (!shutting_down_ && c != nullptr && c->status == child_status::restarting)
          restart(key);
      });
    },
    [this](backoff_done_atom, uint64_t key) {
      run_or_defer([this, key] {
        auto i = backoff_pending_.find(key);
        if (i == backoff_pending_.end())
          return;
        auto keys = std::move(i->second);
        backoff_pending_.erase(i);
        // Start those still waiting; terminate_child or delete_child may have taken some.
        keys.erase(std::remove_if(keys.begin(), keys.end(),
                                  [this](uint64_t k) {
                                    auto c = find(k);
                                    return c == nullptr || c->status != child_status::restarting;
                                  }),
                   keys.end());
        if (!shutting_down_ && !keys.empty()) {
          busy_ = true;
          start_restarts(std::move(keys));
        }
      });
    },
    [this](kill_timeout_atom, int64_t armed_for) {
      if (armed_ && armed_->time_since_epoch().count() == armed_for)
        armed_.reset();
      kill_overdue();
    },
  };
}

// -- reacting to exits ----------------------------------------------------------------------

caf::invoke_message_result supervisor_actor::consume(caf::mailbox_element& x) {
  // A child that was killed (`exit_reason::kill`, e.g. `anon_send_exit(child, kill)`) passes
  // `kill` on to its links, and CAF makes an exit_msg with `kill` fatal even to an actor that
  // traps exits: the supervisor would die with its child. Erlang turns a propagated `kill`
  // into `killed`, which a supervisor traps like any other reason; so here an exit_msg with
  // `kill` from one of our children (running, stopping, starting, or ended lately: see
  // from_child) goes to our exit handling, as CAF's would go for any other reason. A `kill`
  // from anyone else (the parent, a user), or one a child sent us itself (OTP's
  // `exit(Sup, kill)`, which no process can trap), stays fatal.
  auto& content = x.content();
  if (faults_ && content.type_token() == detail::fault_token
      && content.get_as<caf::atom_value>(0) == detail::fault_atom::value) {
    // A supervisor child fails from inside as a worker does (detail::fault_injectable).
    detail::carry_out_fault(content.get_as<uint8_t>(1), content.get_as<int64_t>(2));
    return caf::invoke_message_result::consumed;
  }
  if (content.match_elements<caf::exit_msg>()) {
    auto& em = content.get_as<caf::exit_msg>(0);
    if (em.reason == caf::exit_reason::kill) {
      if (from_child(em.source) && !sent_by_live_actor(em.source)) {
        auto msg = em;
        take_kill(msg);
        return caf::invoke_message_result::consumed;
      }
      if (early_kills_ && in_other_process(em.source)) {
        // Perhaps from the child that another process is starting for us: its node links
        // it to us before answering, so a child that ended at once is heard of before its
        // handle. Decided once the answer names the child (take_kill).
        early_kills_->push_back(em);
        return caf::invoke_message_result::consumed;
      }
      // Fatal, as CAF makes it, but without CAF's unlink from the source first: a child
      // that kills its supervisor (OTP's exit(Sup, kill)) goes down with it through their
      // link, as in OTP, rather than live on, orphaned.
      quit(caf::exit_reason::kill);
      return caf::invoke_message_result::consumed;
    }
  }
  return caf::event_based_actor::consume(x);
}

bool supervisor_actor::from_child(const caf::actor_addr& source) const {
  return find_running(source) != running_.end() || stopping_.count(source) > 0
         || (awaiting_ && awaiting_->child == source) || ended_recently(source);
}

bool supervisor_actor::sent_by_live_actor(const caf::actor_addr& source) const {
  // A child's own exit reaches its links from its cleanup, after CAF has marked it cleaned up
  // (monitorable_actor::cleanup): a `kill` from a child not so marked was sent by the child
  // itself. A proxy hears of its actor's end apart from the exit, in either order, so for a
  // child in another process its node tells: the proxy there forwards a kill from a live
  // actor with us as its source (strata::nodes, remote_proxy), so one that names the child
  // is its exit.
  if (in_other_process(source))
    return false;
  auto sender = caf::actor_cast<caf::strong_actor_ptr>(source);
  return sender != nullptr && !sender->get()->getf(caf::abstract_actor::is_cleaned_up_flag);
}

bool supervisor_actor::in_other_process(const caf::actor_addr& x) const {
  // Node ids compared in place: copying one costs two atomic operations.
  auto* block = block_of(x);
  return block != nullptr && block->node() != home_system().node();
}

void supervisor_actor::remember_ended(const caf::actor_addr& child) {
  if (ended_.size() == ended_kept)
    ended_.pop_front();
  ended_.emplace_back(child.node(), child.id());
}

bool supervisor_actor::ended_recently(const caf::actor_addr& source) const {
  if (ended_.empty() || !source)
    return false;
  auto key = std::make_pair(source.node(), source.id());
  return std::find(ended_.begin(), ended_.end(), key) != ended_.end();
}

bool supervisor_actor::take_kill(caf::exit_msg& msg) {
  if (!from_child(msg.source)) {
    quit(caf::exit_reason::kill); // what CAF does with a `kill` from anyone else
    return false;
  }
  unlink_from(msg.source);
  on_exit(msg);
  return true;
}

void supervisor_actor::on_exit(caf::exit_msg& msg) {
  if (parent_ && msg.source == parent_) {
    // OTP: an exit from the parent stops the supervisor with the parent's reason. It goes
    // before every other waiting event: nothing else matters once the tree goes down.
    auto reason = msg.reason;
    run_or_defer_first([this, reason] { shutdown(reason); });
    return;
  }
  if (start_ended(msg))
    return;
  // Exits from actors that are not (or no longer) our children are ignored, as in OTP.
  auto source = msg.source;
  auto reason = msg.reason;
  run_or_defer([this, source, reason] { child_exited(source, reason); });
}

bool supervisor_actor::start_ended(const caf::exit_msg& msg) {
  if (!awaiting_ || awaiting_->child != msg.source)
    return false;
  // Its answer will not come: the start fails with the reason it ended with, as OTP's
  // start_link returns `{error, Reason}` when the child exits before its init_ack. Not
  // deferred: this start is the operation under way, and it waits for nothing else.
  auto awaited = std::move(*awaiting_);
  awaiting_.reset();
  remember_ended(msg.source);
  multiplexed_responses_.erase(awaited.answer);
  start_failed(awaited.seq, msg.reason);
  return true;
}

void supervisor_actor::on_down(caf::down_msg& msg) {
  // We monitor children only while stopping them.
  auto i = stopping_.find(msg.source);
  if (i == stopping_.end())
    return;
  auto key = i->second.key;
  auto done = std::move(i->second.done);
  if (i->second.deadline)
    deadlines_.erase({*i->second.deadline, msg.source});
  stopping_.erase(i);
  if (in_other_process(msg.source))
    remember_ended(msg.source);
  child_stopped(key, caf::actor_cast<caf::actor_control_block*>(msg.source), msg.reason);
  done();
}

void supervisor_actor::child_exited(const caf::actor_addr& source, const caf::error& reason) {
  if (shutting_down_)
    return;
  auto i = find_running(source);
  if (i == running_.end())
    return; // a child we already stopped or replaced
  auto key = i->second;
  forget_running(running_.extract(i));
  if (in_other_process(source))
    remember_ended(source);
  auto c = find(key);
  c->handle = nullptr;
  c->status = child_status::stopped;
  c->last_exit = reason;
  emit(event_kind::exited, c, reason, caf::actor_cast<caf::actor_control_block*>(source));
  if (should_restart(c->spec.restart, classify(reason))) {
    restart(key);
    return;
  }
  // Not restarted: temporary children go, and so do dynamic ones (OTP's dyn_erase).
  bool significant = c->spec.significant;
  if (c->spec.restart == restart_type::temporary || simple())
    erase(key);
  if (auto_shutdown_triggered(spec_.auto_shutdown, significant, significant_running()))
    shutdown(caf::exit_reason::user_shutdown);
}

void supervisor_actor::restart(uint64_t key) {
  auto c = find(key);
  if (!intensity_->add_restart(clock::now())) {
    emit(event_kind::intensity_reached, c,
         "more than " + std::to_string(spec_.intensity) + " restarts within "
           + std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(spec_.period).count())
           + " ms");
    shutdown(caf::exit_reason::user_shutdown);
    return;
  }
  // Backoff bookkeeping: restarts in a row, reset once the child stayed up long enough.
  auto now = clock::now();
  auto reset_after = c->spec.backoff.reset_after.count() > 0 ? c->spec.backoff.reset_after
                                                             : c->spec.backoff.max;
  if (c->consecutive == 0 || now - c->started_at >= reset_after)
    c->consecutive = 1;
  else
    ++c->consecutive;
  std::vector<uint64_t> stop;
  std::vector<uint64_t> start;
  if (simple()) {
    start.push_back(key);
  } else {
    auto keys = keys_in_order();
    auto pos = static_cast<size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin());
    auto plan = plan_restart(spec_.strategy, keys.size(), pos);
    for (auto i : plan.stop)
      stop.push_back(keys[i]);
    for (auto i : plan.start)
      start.push_back(keys[i]);
  }
  if (!c->fault.empty())
    for (auto k : start)
      find(k)->fault = c->fault; // the siblings it takes along go down for the same fault
  auto delay = backoff_delay(c->spec.backoff, c->consecutive,
                             std::uniform_real_distribution<double>{0.0, 1.0}(rng_));
  busy_ = true;
  c->status = child_status::restarting;
  stop_in_order(std::move(stop), [this, key, start = std::move(start), delay]() mutable {
    // Temporary siblings were removed when stopped; the rest wait for their restart.
    start.erase(std::remove_if(start.begin(), start.end(),
                               [this](uint64_t k) { return find(k) == nullptr; }),
                start.end());
    for (auto k : start)
      find(k)->status = child_status::restarting;
    if (delay.count() > 0) {
      backoff_pending_[key] = std::move(start);
      delayed_send(this, delay, backoff_done_atom::value, key);
      finish_operation();
      return;
    }
    start_restarts(std::move(start));
  });
}

void supervisor_actor::start_restarts(std::vector<uint64_t> keys) {
  start_in_order(std::move(keys), 0, true, [this](caf::error err, uint64_t failed) {
    if (err) {
      // OTP's try_again_restart: ask ourselves again, so a shutdown can come first.
      if (auto c = find(failed))
        c->status = child_status::restarting;
      send(this, try_again_atom::value, failed);
    }
    finish_operation();
  });
}

void supervisor_actor::shutdown(caf::error reason) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  busy_ = true;
  auto keys = running_keys_reversed();
  auto finish = [this, reason] {
    emit(event_kind::shutdown, nullptr, reason);
    answer_deferred();
    for (auto& rp : stop_waiters_)
      rp.deliver(ok_atom::value);
    stop_waiters_.clear();
    quit(reason);
  };
  if (simple())
    stop_all_at_once(std::move(keys), std::move(finish));
  else
    stop_in_order(std::move(keys), std::move(finish));
}

// -- operations: stopping and starting children ---------------------------------------------

shutdown_spec supervisor_actor::effective_shutdown(const child& c) const {
  if (c.spec.shutdown.how != shutdown_spec::kind::type_default)
    return c.spec.shutdown;
  return c.type == child_type::supervisor ? shutdown_spec::infinity()
                                          : shutdown_spec::after(default_worker_shutdown);
}

void supervisor_actor::stop_one(uint64_t key, done_fn done) {
  if (auto hdl = begin_stop(key))
    await_stop(key, std::move(hdl), std::move(done));
  else
    done();
}

caf::actor supervisor_actor::begin_stop(uint64_t key) {
  auto c = find(key);
  if (c == nullptr || !c->handle) {
    if (c != nullptr)
      c->status = child_status::stopped;
    return nullptr;
  }
  auto hdl = std::move(c->handle);
  c->handle = nullptr;
  c->status = child_status::stopped;
  forget_running(running_.extract(block_of(hdl)));
  // OTP's shutdown/2 unlinks first, so the exit it causes is not taken for a crash; here
  // that holds without it: the child is no longer in `running_`, so its exit_msg, if any, is
  // ignored, and a CAF actor removes the link itself when our exit reaches it. Unlinking
  // first would make that removal search our whole list of links in vain: O(children) per
  // child stopped, measured as 20% of a one_for_all restart of 1,000.
  auto reason = effective_shutdown(*c).how == shutdown_spec::kind::brutal_kill
                  ? caf::exit_reason::kill
                  : caf::exit_reason::user_shutdown;
  if (c->where != placement::task) {
    send_exit(hdl, reason);
    return hdl;
  }
  auto gone = exit_inline(hdl, reason);
  if (gone == nullptr)
    return hdl;
  // Ours to read: the child has terminated, and `hdl` keeps it in memory.
  child_stopped(key, caf::actor_cast<caf::actor_control_block*>(hdl), gone->fail_state());
  return nullptr;
}

caf::scheduled_actor* supervisor_actor::exit_inline(const caf::actor& hdl,
                                                    caf::exit_reason reason) {
  // Enqueued through `unit`, the exit makes an idle child hand its run to us. If it does not
  // trap exits (or is killed), the exit ends it with no code of its own to run (CAF's
  // default handler), so we run that here, at once: the stop is over when this returns, with
  // no message back (the child unlinks from us on our exit, and nobody monitors it), where
  // through the scheduler it took two actor switches, a monitor and a down_msg. A child that
  // traps exits runs its handler through the scheduler as before: that handler is user code,
  // which may take its shutdown time. A child that is running or queued gets the exit as any
  // message.
  detail::inline_unit unit{context()};
  caf::actor_cast<caf::abstract_actor*>(hdl)->enqueue(
    caf::make_mailbox_element(ctrl(), caf::make_message_id(), {},
                              caf::exit_msg{address(), caf::error{reason}}),
    &unit);
  auto job = unit.take();
  if (job == nullptr)
    return nullptr;
  // Only a scheduled actor hands itself over (a task child; `thread` and `process` children
  // never come here).
  auto child = static_cast<caf::scheduled_actor*>(job);
  if (reason != caf::exit_reason::kill && !detail::has_default_exit_handler(child)) {
    context()->exec_later(job);
    return nullptr;
  }
  if (detail::run_inline(job, context()) != caf::resumable::done)
    return nullptr; // another message came first: the child goes on, and we wait
  return child;
}

void supervisor_actor::await_stop(uint64_t key, caf::actor hdl, done_fn done) {
  // OTP's shutdown/2 watches with a monitor: a child that died meanwhile, even before this
  // monitor, is noticed at once (monitoring a dead actor yields a down_msg right away).
  monitor(hdl);
  auto how = effective_shutdown(*find(key));
  auto& entry = stopping_[hdl.address()];
  entry.handle = hdl;
  entry.key = key;
  entry.done = std::move(done);
  switch (how.how) {
    case shutdown_spec::kind::brutal_kill: entry.killed = true; break;
    case shutdown_spec::kind::timeout: {
      auto deadline = clock::now() + how.timeout;
      entry.deadline = deadline;
      deadlines_.emplace(deadline, hdl.address());
      arm_shutdown_timer();
      break;
    }
    default: break;
  }
}

void supervisor_actor::child_stopped(uint64_t key, caf::actor_control_block* source,
                                     const caf::error& reason) {
  if (auto c = find(key)) {
    c->last_exit = reason;
    emit(event_kind::exited, c, reason, source);
    if (c->spec.restart == restart_type::temporary)
      erase(key);
  }
}

void supervisor_actor::arm_shutdown_timer() {
  if (deadlines_.empty())
    return;
  auto earliest = deadlines_.begin()->first;
  if (armed_ && *armed_ <= earliest)
    return; // the armed timer comes first; it arms the next one
  armed_ = earliest;
  auto delay = std::max(clock::duration::zero(), earliest - clock::now());
  delayed_send(this, delay, kill_timeout_atom::value,
               static_cast<int64_t>(earliest.time_since_epoch().count()));
}

void supervisor_actor::kill_overdue() {
  auto now = clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto addr = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto i = stopping_.find(addr);
    if (i != stopping_.end() && !i->second.killed) {
      i->second.killed = true;
      i->second.deadline.reset();
      send_exit(i->second.handle, caf::exit_reason::kill);
    }
  }
  arm_shutdown_timer();
}

void supervisor_actor::stop_in_order(std::vector<uint64_t> keys, done_fn done) {
  auto seq = std::make_shared<stop_sequence>();
  seq->keys = std::move(keys);
  seq->done = std::move(done);
  continue_stop(std::move(seq));
}

// A child that is gone at once (not running, or stopped on our thread) continues this loop,
// not a callback: a long sequence does not nest calls. Callbacks hold the sequence, shared,
// not copied: a copy per step made a restart of n children O(n^2).
void supervisor_actor::continue_stop(std::shared_ptr<stop_sequence> seq) {
  while (seq->next < seq->keys.size()) {
    auto key = seq->keys[seq->next++];
    if (auto hdl = begin_stop(key)) {
      await_stop(key, std::move(hdl), [this, seq]() mutable { continue_stop(std::move(seq)); });
      return;
    }
  }
  auto done = std::move(seq->done);
  done();
}

void supervisor_actor::stop_all_at_once(std::vector<uint64_t> keys, done_fn done) {
  if (keys.empty()) {
    done();
    return;
  }
  auto left = std::make_shared<size_t>(keys.size());
  auto shared_done = std::make_shared<done_fn>(std::move(done));
  for (auto key : keys)
    stop_one(key, [left, shared_done] {
      if (--*left == 0)
        (*shared_done)();
    });
}

void supervisor_actor::start_one(uint64_t key, bool is_restart,
                                 std::function<void(caf::error)> done) {
  start_in_order({key}, 0, is_restart,
                 [done = std::move(done)](caf::error err, uint64_t) { done(std::move(err)); });
}

void supervisor_actor::start_in_order(std::vector<uint64_t> keys, size_t pos, bool is_restart,
                                      start_done_fn done) {
  auto seq = std::make_shared<start_sequence>();
  seq->keys = std::move(keys);
  seq->next = pos;
  seq->is_restart = is_restart;
  seq->done = std::move(done);
  continue_start(std::move(seq));
}

// A child that started at once (its init ran on our thread) continues this loop, not a
// callback: a long sequence does not nest calls.
void supervisor_actor::continue_start(std::shared_ptr<start_sequence> seq) {
  for (;;) {
    while (seq->next < seq->keys.size() && find(seq->keys[seq->next]) == nullptr)
      ++seq->next;
    if (seq->next == seq->keys.size()) {
      auto done = std::move(seq->done);
      done(caf::none, 0);
      return;
    }
    if (start_step(seq) != step::started)
      return;
    ++seq->next;
  }
}

supervisor_actor::step supervisor_actor::start_step(const std::shared_ptr<start_sequence>& seq) {
  auto& c = *find(seq->keys[seq->next]);
  if (!c.resolved_where)
    c.resolved_where = cfg_->placement_for(c.spec.id, c.spec.placement);
  const auto& where = *c.resolved_where;
  if (!where) {
    start_failed(seq, where.error());
    return step::ended;
  }
  c.where = *where;
  if (c.start_with == nullptr)
    c.start_with = cfg_->factories().find(c.spec.start.name);
  auto f = c.start_with;
  if (f == nullptr) {
    start_failed(seq, make_error(error::unknown_factory, c.spec.start.name));
    return step::ended;
  }
  c.type = f->type;
  if (c.where == placement::process) {
    auto provider = cfg_->provider();
    if (provider == nullptr) {
      start_failed(seq, make_error(error::placement_unavailable,
                                   "process placement needs strata::nodes linked and installed"));
      return step::ended;
    }
    // Asynchronous: a supervisor never blocks, and the node's answer can then run this
    // supervisor on the thread that receives it.
    early_kills_.emplace();
    provider->start(this, c.spec, c.type,
                    [this, seq](caf::expected<caf::actor> hdl, bool initialized) mutable {
                      auto early = std::move(*early_kills_);
                      early_kills_.reset();
                      auto result = init_child(seq, std::move(hdl), nullptr, initialized);
                      for (auto& msg : early)
                        if (!take_kill(msg))
                          return; // killed by someone else meanwhile: we are ending
                      if (result == step::started) {
                        ++seq->next;
                        continue_start(std::move(seq));
                      }
                    });
    return step::pending;
  }
  // A task child launched through `unit` hands its first run to us instead of the
  // scheduler: init_child runs it once the init request is in its mailbox. (A `thread`
  // child's own thread runs it; it does not get `unit`, which ends with this call.)
  detail::inline_unit unit{context()};
  caf::actor_config acfg{c.where == placement::task ? &unit : context()};
  if (c.where == placement::thread)
    acfg.flags |= caf::abstract_actor::is_detached_flag;
  auto args = c.spec.start.args;
  caf::expected<caf::actor> hdl{caf::error{}};
  try {
    // A class-based actor's constructor runs here, on our thread; it may throw.
    hdl = f->spawner(wrap_workers_)(acfg, args);
  } catch (...) {
    hdl = detail::current_exception_error();
  }
  caf::resumable* first_run = nullptr;
  if (hdl && c.where == placement::task)
    first_run = unit.take(); // launching the actor is the last thing a spawn does
  unit.forward();
  // CAF's spawn gives this thread a logger, which makes every actor run record its id in a
  // map under a lock (docs/design/scheduler.md); our workers clear it after each job, and
  // so do we before running the child's init here.
  caf::logger::set_current_actor_system(nullptr);
  return init_child(seq, std::move(hdl), first_run);
}

supervisor_actor::step supervisor_actor::init_child(const std::shared_ptr<start_sequence>& seq,
                                                    caf::expected<caf::actor> hdl,
                                                    caf::resumable* first_run, bool initialized) {
  if (!hdl) {
    start_failed(seq, hdl.error());
    return step::ended;
  }
  link_to(*hdl);
  auto& c = *find(seq->keys[seq->next]);
  if (c.path.empty())
    c.path = path_ + "/" + c.display_id;
  if (initialized)
    return child_running(seq, *hdl); // its provider ran its init where it runs
  if (first_run != nullptr && c.type == child_type::worker) {
    // OTP's start_link waits for the child's init_ack doing nothing else: the child's init
    // runs here, on our thread, as its first run initializes it. A strata worker's init
    // then reports to `outcome` (detail::first_behavior): no init message to send, no init
    // behavior to install and pop, no answer; the start is over when the run returns.
    // Through the scheduler it cost two actor switches per child, an init message, and
    // the answer a third message.
    auto outcome = detail::run_init_inline(std::exchange(first_run, nullptr), context());
    if (outcome.done) {
      if (!outcome.error)
        return child_running(seq, *hdl);
      // It has ended: its exit is on its way (with `kill`, say, if its init quit so).
      remember_ended(hdl->address());
      start_failed(seq, outcome.error);
      return step::ended;
    }
    // Initialized with a behavior that waits for the init message: sent below.
  }
  auto answer = request(*hdl, caf::infinite, init_atom::value, caf::actor_cast<caf::actor>(this),
                        c.path);
  // A supervisor child's init runs here too; it answers once its own children run.
  if (first_run != nullptr)
    detail::run_inline(first_run, context());
  awaiting_ = awaited_init{hdl->address(), answer.id(), seq};
  answer.then(
    [this, seq, hdl = *hdl](ok_atom) mutable {
      awaiting_.reset();
      child_running(seq, hdl);
      ++seq->next;
      continue_start(std::move(seq));
    },
    [this, seq, hdl = *hdl](caf::error& err) mutable {
      // The child has ended (with `err`) or is ending: its exit comes through the link.
      awaiting_.reset();
      remember_ended(hdl.address());
      start_failed(seq, err);
    });
  return step::pending;
}

supervisor_actor::step supervisor_actor::child_running(const std::shared_ptr<start_sequence>& seq,
                                                       const caf::actor& hdl) {
  auto key = seq->keys[seq->next];
  auto c = find(key);
  c->handle = hdl;
  c->status = child_status::running;
  if (c->spec.backoff.enabled())
    c->started_at = clock::now(); // only backoff asks how long a child ran
  add_running(block_of(hdl), key);
  if (seq->is_restart)
    ++c->restarts;
  emit(seq->is_restart ? event_kind::restarted : event_kind::started, c, std::string{},
       caf::actor_cast<caf::actor_control_block*>(hdl));
  c->fault.clear(); // it runs again: what follows is not the fault's doing
  return step::started;
}

void supervisor_actor::start_failed(const std::shared_ptr<start_sequence>& seq,
                                    const caf::error& reason) {
  auto key = seq->keys[seq->next];
  auto c = find(key);
  emit(event_kind::start_failed, c, reason);
  auto err = make_error(error::start_failed, c->display_id, to_text(reason));
  auto done = std::move(seq->done);
  done(std::move(err), key);
}

// -- serialisation --------------------------------------------------------------------------

void supervisor_actor::run_or_defer(std::function<void()> fun) {
  if (busy_ || draining_)
    deferred_.push_back(std::move(fun));
  else
    fun();
  if (!busy_)
    finish_operation();
}

void supervisor_actor::run_or_defer_first(std::function<void()> fun) {
  if (busy_ || draining_)
    deferred_.push_front(std::move(fun));
  else
    fun();
  if (!busy_)
    finish_operation();
}

void supervisor_actor::answer_deferred() {
  // With shutting_down_ set, every waiting step only answers: API calls fail with
  // request_receiver_down, the rest do nothing. No promise is dropped unanswered.
  busy_ = false;
  while (!deferred_.empty()) {
    auto fun = std::move(deferred_.front());
    deferred_.pop_front();
    fun();
  }
}

void supervisor_actor::finish_operation() {
  busy_ = false;
  if (draining_)
    return; // the loop below, further up the stack, goes on
  draining_ = true;
  while (!busy_ && !deferred_.empty()) {
    auto fun = std::move(deferred_.front());
    deferred_.pop_front();
    fun();
  }
  draining_ = false;
}

// -- bookkeeping ----------------------------------------------------------------------------

supervisor_actor::child* supervisor_actor::find(uint64_t key) {
  // A stop or start looks its child up several times in a row; a map's nodes stay where
  // they are until erased, so the last one found is remembered.
  if (key == last_found_key_)
    return last_found_;
  auto i = children_.find(key);
  if (i == children_.end())
    return nullptr;
  last_found_key_ = key;
  last_found_ = &i->second;
  return last_found_;
}

supervisor_actor::running_map::const_iterator
supervisor_actor::find_running(const caf::actor_addr& x) const {
  auto i = running_.find(block_of(x));
  if (i != running_.end() || !in_other_process(x))
    return i;
  // Rare (an exit through another proxy, or from a remote actor that is no child): a scan.
  auto id = x.id();
  const auto& node = block_of(x)->node();
  return std::find_if(running_.begin(), running_.end(), [id, &node](const auto& entry) {
    return entry.first->id() == id && entry.first->node() == node;
  });
}

void supervisor_actor::add_running(const caf::actor_control_block* child, uint64_t key) {
  if (spare_running_.empty()) {
    running_.emplace(child, key);
    return;
  }
  auto node = std::move(spare_running_.back());
  spare_running_.pop_back();
  node.key() = child;
  node.mapped() = key;
  running_.insert(std::move(node));
}

void supervisor_actor::forget_running(running_map::node_type node) {
  if (!node.empty())
    spare_running_.push_back(std::move(node));
}

supervisor_actor::child* supervisor_actor::find_id(const std::string& id) {
  for (auto& [key, c] : children_)
    if (c.spec.id == id)
      return &c;
  return nullptr;
}

uint64_t supervisor_actor::add_child(child_spec spec) {
  auto key = next_key_++;
  child c;
  c.key = key;
  c.display_id = simple() ? spec.id + "#" + std::to_string(key) : spec.id;
  c.where = spec.placement;
  if (auto f = cfg_->factories().find(spec.start.name))
    c.type = f->type;
  c.spec = std::move(spec);
  children_.emplace(key, std::move(c));
  return key;
}

void supervisor_actor::erase(uint64_t key) {
  auto i = children_.find(key);
  if (i == children_.end())
    return;
  if (i->second.handle)
    forget_running(running_.extract(block_of(i->second.handle)));
  if (key == last_found_key_) {
    last_found_key_ = 0;
    last_found_ = nullptr;
  }
  children_.erase(i);
}

std::vector<uint64_t> supervisor_actor::keys_in_order() const {
  std::vector<uint64_t> result;
  result.reserve(children_.size());
  for (const auto& entry : children_)
    result.push_back(entry.first);
  return result;
}

std::vector<uint64_t> supervisor_actor::running_keys_reversed() const {
  std::vector<uint64_t> result;
  for (auto i = children_.rbegin(); i != children_.rend(); ++i)
    if (i->second.handle)
      result.push_back(i->first);
  return result;
}

size_t supervisor_actor::significant_running() const {
  return static_cast<size_t>(std::count_if(children_.begin(), children_.end(), [](auto& e) {
    return e.second.spec.significant && e.second.handle;
  }));
}

bool supervisor_actor::events_listened() const noexcept {
  return events_channel_ == nullptr || events_channel_->wanted();
}

void supervisor_actor::emit(event_kind kind, const child* c, const caf::error& reason,
                            caf::actor_control_block* actor) {
  if (events_listened())
    emit(kind, c, to_text(reason), actor);
}

void supervisor_actor::emit(event_kind kind, const child* c, const std::string& reason,
                            caf::actor_control_block* actor) {
  if (!events_listened())
    return; // nobody listens: no strings, clock reads or message to build
  supervision_event ev;
  ev.kind = kind;
  ev.supervisor = path_;
  if (c != nullptr) {
    ev.child = c->display_id;
    ev.placement = c->where;
    ev.restarts = c->restarts;
    ev.fault = c->fault;
  }
  ev.reason = reason;
  ev.mono_ns = steady_ns();
  ev.wall_ms = wall_ms();
  if (actor != nullptr)
    ev.actor = actor->address();
  send(events_, std::move(ev));
}

} // namespace internal
} // namespace strata
