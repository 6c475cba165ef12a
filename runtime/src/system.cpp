#include "strata/system.hpp"

#include <algorithm>
#include <iostream>
#include <utility>

#include <caf/scoped_actor.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "strata/detail/mailbox_counter.hpp"
#include "strata/events.hpp"
#include "strata/names.hpp"
#include "strata/supervisor.hpp"

#include "internal/blocking_call.hpp"
#include "internal/observer.hpp"

namespace strata {

namespace {

// Stands in for a provider whose start failed: every `process` start fails with its reason.
class failed_provider : public placement_provider {
public:
  explicit failed_provider(caf::error reason) : reason_(std::move(reason)) {
    // nop
  }

  caf::expected<caf::actor> spawn(caf::actor_system&, const child_spec&, child_type) override {
    return make_error(error::placement_unavailable,
                      "the process placement provider failed to start", to_text(reason_));
  }

private:
  caf::error reason_;
};

// Runs the provider's hook that must come before any CAF thread exists; a provider that
// fails is replaced by one that reports why on every start.
caf::error start_provider(config& cfg) {
  auto provider = cfg.provider();
  if (provider == nullptr)
    return caf::none;
  auto err = provider->before_start(cfg);
  if (err)
    cfg.set_placement_provider(std::make_shared<failed_provider>(err));
  return err;
}

} // namespace

system::system(config& cfg) : cfg_(cfg), provider_error_(start_provider(cfg)), sys_(cfg) {
  detail::start_name_server(sys_);
  if (auto provider = cfg_.provider(); provider != nullptr && !provider_error_)
    provider->started(sys_);
  if (auto path = cfg_.event_log_path(); !path.empty()) {
    if (auto log = start_event_log(sys_, path))
      event_log_ = std::move(*log);
    else
      event_log_error_ = std::move(log.error());
  }
  start_observer();
}

void system::start_observer() {
  // Workers started from now on count their mailbox, for /tree and the live page (without
  // an observer, messaging pays nothing for it). Before the first supervisor starts.
  if (cfg_.observed())
    detail::count_worker_mailboxes().store(true, std::memory_order_relaxed);
  auto listen = cfg_.observer_listen();
  if (listen.empty())
    return; // none here (a node's tree is shown by its root's)
  observer_ = std::make_unique<internal::observer>(
    sys_,
    [this] {
      std::lock_guard<std::mutex> guard{roots_mtx_};
      return roots_;
    },
    cfg_.observer_faults());
  auto port = observer_->start(listen);
  if (!port) {
    observer_error_ = std::move(port.error());
    observer_.reset();
    std::clog << "strata: observer not started: " << to_text(observer_error_) << std::endl;
    return;
  }
  observer_port_ = *port;
  // For a person: where to look. Programs ask observer_port().
  std::clog << "strata: observer on port " << observer_port_ << " (" << listen
            << "): the live page at /, GET /tree, /metrics"
            << (cfg_.observer_faults() ? ", POST /fault" : "") << std::endl;
}

system::~system() {
  shutdown();
  // Every subscriber has ended by now; drop the references while the actor system lives.
  cfg_.stop_events();
}

caf::expected<caf::actor> system::start_supervisor(std::string name, supervisor_spec spec,
                                                   placement where) {
  if (auto err = validate(spec))
    return err;
  if (where == placement::process)
    return make_error(error::placement_unavailable,
                      "a top-level supervisor runs in the process that starts it");
  caf::scoped_execution_unit host{&sys_};
  caf::actor_config acfg{&host};
  if (where == placement::thread)
    acfg.flags |= caf::abstract_actor::is_detached_flag;
  auto sup = detail::spawn_supervisor(acfg, [spec = std::move(spec)] { return spec; });
  // Killed during its start, it ends the wait too.
  auto started = internal::blocking_call<ok_atom>(sup, call_timeout{}, "start_supervisor",
                                                  init_atom::value, caf::actor{}, name);
  if (!started)
    return std::move(started.error());
  std::lock_guard<std::mutex> guard{roots_mtx_};
  roots_.push_back(sup);
  return sup;
}

void system::shutdown() {
  // First, so that no page asks a tree that is going down (and its thread is gone before
  // the actor system).
  if (observer_)
    observer_->stop();
  std::vector<caf::actor> roots;
  {
    std::lock_guard<std::mutex> guard{roots_mtx_};
    roots.swap(roots_);
  }
  // Newest first, each waited for: a tree's thread-placed children are all gone before the
  // CAF system starts its own teardown (the CAF 0.17 hang, upstream issue #1196).
  for (auto i = roots.rbegin(); i != roots.rend(); ++i)
    static_cast<void>(stop(*i)); // a root that already gave up answers with an error
  sys_.await_all_actors_done();
  bool first_stop = false;
  {
    std::lock_guard<std::mutex> guard{roots_mtx_};
    first_stop = !std::exchange(stopped_, true);
  }
  if (auto provider = cfg_.provider(); first_stop && provider != nullptr && !provider_error_)
    provider->stopping(sys_);
  if (first_stop)
    detail::stop_name_server(sys_);
  if (event_log_) {
    // The log is hidden, so await_all_actors_done does not wait for it; a request behind the
    // last events makes sure they are written before the system goes.
    caf::scoped_actor self{sys_};
    self->request(event_log_, caf::infinite, stop_atom::value)
      .receive([](ok_atom) {}, [](caf::error&) {});
    event_log_ = nullptr;
  }
}

} // namespace strata
