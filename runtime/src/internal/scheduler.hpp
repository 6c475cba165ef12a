#pragma once

// strata's scheduler module: CAF's own policies (work stealing, sharing) and queues, run by
// workers that skip CAF's per-resume logging work, with a clock whose cancellations do not
// wake its thread (docs/design/scheduler.md).

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/detail/simple_actor_clock.hpp>

namespace strata::internal {

/// CAF 0.17's clock with its schedule under a mutex. CAF's own `thread_safe_actor_clock`
/// passes every call through a queue to its thread and wakes that thread for each, even
/// `cancel_timeouts`, which every actor calls when it terminates: a thread wake-up (~10 µs on
/// these VMs) per actor that ends, and per message to a behavior with a timeout. Here callers
/// change the schedule themselves and wake the thread only when the earliest due time moves
/// up.
class locked_clock final : public caf::detail::simple_actor_clock {
public:
  using base = caf::detail::simple_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override;
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override;
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override;
  void cancel_all() override;

  /// Ships due events until `stop`; runs on the clock's thread.
  void run();

  /// Ends `run`.
  void stop();

private:
  /// Wakes the clock's thread if an entry was added before what it waits for.
  void added(std::unique_lock<std::mutex>& guard);

  std::mutex mtx_;
  std::condition_variable cv_;
  bool waiting_ = false; // the thread waits on cv_
  std::optional<time_point> waiting_until_; // ... until then (none: until notified)
  bool stopped_ = false;
};

/// Returns the scheduler module for `sys`: strata's workers and `locked_clock` with CAF's
/// policy for `scheduler.policy` (stealing or sharing), or CAF's own scheduler when
/// `strata.scheduler.stock` is set (or for CAF's testing and profiling schedulers).
caf::actor_system::module* make_scheduler(caf::actor_system& sys);

} // namespace strata::internal
