#include "internal/scheduler.hpp"

#include <memory>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/policy/profiled.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/profiled_coordinator.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/settings.hpp>

namespace strata::internal {

// -- locked_clock ---------------------------------------------------------------------------

void locked_clock::added(std::unique_lock<std::mutex>& guard) {
  auto wake = waiting_
              && (!waiting_until_
                  || (!schedule_.empty() && schedule_.begin()->first < *waiting_until_));
  guard.unlock();
  if (wake)
    cv_.notify_one();
}

void locked_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                        caf::atom_value type, uint64_t id) {
  std::unique_lock<std::mutex> guard{mtx_};
  base::set_ordinary_timeout(t, self, type, id);
  added(guard);
}

void locked_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                       caf::message_id id) {
  std::unique_lock<std::mutex> guard{mtx_};
  base::set_request_timeout(t, self, id);
  added(guard);
}

void locked_clock::set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                                     uint64_t id) {
  std::unique_lock<std::mutex> guard{mtx_};
  base::set_multi_timeout(t, self, type, id);
  added(guard);
}

void locked_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                    caf::mailbox_element_ptr content) {
  std::unique_lock<std::mutex> guard{mtx_};
  base::schedule_message(t, std::move(receiver), std::move(content));
  added(guard);
}

void locked_clock::schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                                    caf::message content) {
  std::unique_lock<std::mutex> guard{mtx_};
  base::schedule_message(t, std::move(target), std::move(sender), std::move(content));
  added(guard);
}

// A cancellation only ever makes the earliest due time later: the thread, if it waits, wakes
// at the old one, finds nothing due and waits again. So no cancellation wakes it. The
// cancelled entries are destroyed outside the lock: an entry holds a strong reference to its
// actor, whose destruction calls back into this clock.

void locked_clock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_ordinary_timeout(self, type);
}

void locked_clock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_request_timeout(self, id);
}

void locked_clock::cancel_timeouts(caf::abstract_actor* self) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_timeouts(self);
}

void locked_clock::cancel_all() {
  schedule_map dropped;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    actor_lookup_.clear();
    dropped.swap(schedule_);
  }
}

void locked_clock::run() {
  std::vector<std::unique_ptr<delayed_event>> due;
  std::unique_lock<std::mutex> guard{mtx_};
  while (!stopped_) {
    auto t = now();
    while (!schedule_.empty() && schedule_.begin()->first <= t) {
      auto i = schedule_.begin();
      auto ptr = std::move(i->second);
      if (ptr->backlink != actor_lookup_.end())
        actor_lookup_.erase(ptr->backlink);
      schedule_.erase(i);
      due.push_back(std::move(ptr));
    }
    if (!due.empty()) {
      // Shipping enqueues to actors, and dropping an entry may destroy one, which cancels
      // its timeouts here: both without the lock.
      guard.unlock();
      for (auto& x : due)
        ship(*x);
      due.clear();
      guard.lock();
      continue;
    }
    waiting_ = true;
    if (schedule_.empty()) {
      waiting_until_.reset();
      cv_.wait(guard);
    } else {
      waiting_until_ = schedule_.begin()->first;
      cv_.wait_until(guard, *waiting_until_);
    }
    waiting_ = false;
  }
}

void locked_clock::stop() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopped_ = true;
  }
  cv_.notify_one();
  cancel_all();
}

// -- the coordinator ------------------------------------------------------------------------

namespace {

/// CAF's coordinator with `Policy`, and a `locked_clock` on a thread of its own. (CAF's own
/// clock thread still starts, and idles: `coordinator` runs it unconditionally.)
template <class Policy>
class coordinator final : public caf::scheduler::coordinator<Policy> {
public:
  using super = caf::scheduler::coordinator<Policy>;

  explicit coordinator(caf::actor_system& sys) : super(sys) {
    // nop
  }

  locked_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    thread_ = std::thread{[this] {
      caf::detail::set_thread_name("strata.clock");
      this->system().thread_started();
      clock_.run();
      this->system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    // As CAF's: the workers first, then the clock.
    super::stop();
    clock_.stop();
    thread_.join();
  }

private:
  locked_clock clock_;
  std::thread thread_;
};

} // namespace

caf::actor_system::module* make_scheduler(caf::actor_system& sys) {
  using caf::policy::work_sharing;
  using caf::policy::work_stealing;
  const auto& cfg = sys.config();
  auto policy = caf::get_or(cfg, "scheduler.policy", caf::defaults::scheduler::policy);
  auto sharing = policy == caf::atom("sharing");
  if (policy == caf::atom("testing"))
    return new caf::scheduler::test_coordinator(sys);
  if (caf::get_or(cfg, "scheduler.enable-profiling", false)) {
    if (sharing)
      return new caf::scheduler::profiled_coordinator<caf::policy::profiled<work_sharing>>(sys);
    return new caf::scheduler::profiled_coordinator<caf::policy::profiled<work_stealing>>(sys);
  }
  if (caf::get_or(cfg, "strata.scheduler.stock-clock", false)) {
    if (sharing)
      return new caf::scheduler::coordinator<work_sharing>(sys);
    return new caf::scheduler::coordinator<work_stealing>(sys);
  }
  // Any other policy name falls back to stealing, as in CAF.
  if (sharing)
    return new coordinator<work_sharing>(sys);
  return new coordinator<work_stealing>(sys);
}

} // namespace strata::internal
