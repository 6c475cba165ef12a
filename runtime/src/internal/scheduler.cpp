#include "internal/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/logger.hpp>
#include <caf/policy/profiled.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/ref_counted.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
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
// at the old one, finds nothing due and waits again. So no cancellation wakes it. Cancelled
// entries are destroyed under the lock, which is safe: only an entry's own actor cancels it,
// and that actor is alive while it does, so the reference the entry drops is never the last
// (a last one would destroy the actor, whose cleanup calls back into this clock).

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

// -- workers and coordinator ----------------------------------------------------------------

namespace {

template <class Policy>
class coordinator;

/// CAF's work stealing with a "run next" slot per worker, as in Go's scheduler: the job a
/// worker's running job makes runnable (a message to an idle actor) goes into the slot, not
/// the stealable queue, and runs as soon as the current job yields, on the same thread. In
/// CAF's policy an idle thief takes it from the queue at once, so an exchange between two
/// actors (a supervisor and the child it stops or starts, a request and its answer)
/// bounces from thread to thread, paying cache misses on each hop: a one_for_all restart of
/// 1,000 took 11 ms on 4 threads against 6.5 ms on one. A slot that keeps the same job for
/// `stale_after` is fair game for thieves, so a long-running job cannot strand it.
class stealing : public caf::policy::work_stealing {
public:
  using super = caf::policy::work_stealing;

  /// How long a job waits in a busy worker's slot before a thief may take it.
  static constexpr auto stale_after = std::chrono::microseconds{5};

  struct worker_data : super::worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator* p) : super::worker_data(p) {
      // nop
    }

    worker_data(const worker_data& other) : super::worker_data(other) {
      // nop: a fresh slot
    }

    std::atomic<caf::resumable*> next{nullptr};
    std::atomic<uint64_t> next_serial{0}; // counts jobs put into `next`
    // What this worker, as a thief, last saw in a victim's slot.
    size_t seen_victim = 0;
    uint64_t seen_serial = 0;
    std::chrono::steady_clock::time_point seen_at;
  };

  /// CAF's, but the sleeping worker is notified after the lock is released: notified under
  /// it, a worker woken on this CPU preempts the enqueuer and blocks on the lock at once,
  /// which costs two more context switches and a wake-up system call per enqueue.
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    auto& data = d(self);
    data.queue.append(job);
    bool wake = false;
    {
      std::lock_guard<std::mutex> guard{data.waitdata.lock};
      // The worker tests the queue under this lock before it waits: it either finds the
      // job, or it set `sleeping` before we looked.
      wake = data.waitdata.sleeping && !data.queue.empty();
    }
    if (wake)
      data.waitdata.cv.notify_one();
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    auto& data = d(self);
    data.next_serial.fetch_add(1, std::memory_order_relaxed);
    if (auto prev = data.next.exchange(job, std::memory_order_acq_rel))
      data.queue.prepend(prev);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& data = d(self);
    if (auto job = data.next.exchange(nullptr, std::memory_order_acq_rel))
      return job;
    // CAF's idle loop (work_stealing::dequeue), with `steal` for `try_steal`. The slot
    // stays empty meanwhile: only this worker's jobs fill it.
    auto& strategies = data.strategies;
    for (size_t k = 0; k < 2; ++k) {
      for (size_t i = 0; i < strategies[k].attempts; i += strategies[k].step_size) {
        if (auto job = data.queue.take_head())
          return job;
        if ((i % strategies[k].steal_interval) == 0)
          if (auto job = steal(self))
            return job;
        if (strategies[k].sleep_duration.count() > 0)
          std::this_thread::sleep_for(strategies[k].sleep_duration);
      }
    }
    auto& relaxed = strategies[2];
    for (size_t i = 1;; ++i) {
      bool timed_out = false;
      {
        std::unique_lock<std::mutex> guard{data.waitdata.lock};
        data.waitdata.sleeping = true;
        timed_out = !data.waitdata.cv.wait_for(guard, relaxed.sleep_duration,
                                               [&] { return !data.queue.empty(); });
        data.waitdata.sleeping = false;
      }
      if (!timed_out) {
        if (auto job = data.queue.take_head())
          return job;
      } else if ((i % relaxed.steal_interval) == 0) {
        if (auto job = steal(self))
          return job;
      }
    }
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker* self, UnaryFunction f) {
    if (auto job = d(self).next.exchange(nullptr))
      f(job);
    super::foreach_resumable(self, f);
  }

private:
  // The oldest job in a random victim's queue; failing that, the job in its slot if that
  // slot has held it since this thief last looked, `stale_after` ago or more.
  template <class Worker>
  caf::resumable* steal(Worker* self) {
    auto p = self->parent();
    if (p->num_workers() < 2)
      return nullptr;
    auto& data = d(self);
    auto victim = data.uniform(data.rengine);
    if (victim == self->id())
      victim = p->num_workers() - 1;
    auto& vdata = d(p->worker_by_id(victim));
    if (auto job = vdata.queue.take_tail())
      return job;
    auto serial = vdata.next_serial.load(std::memory_order_relaxed);
    auto job = vdata.next.load(std::memory_order_acquire);
    if (job == nullptr)
      return nullptr;
    auto now = std::chrono::steady_clock::now();
    if (data.seen_victim != victim || data.seen_serial != serial) {
      data.seen_victim = victim;
      data.seen_serial = serial;
      data.seen_at = now;
      return nullptr;
    }
    if (now - data.seen_at < stale_after)
      return nullptr;
    if (vdata.next.compare_exchange_strong(job, nullptr, std::memory_order_acq_rel))
      return job;
    return nullptr;
  }
};

/// CAF's work sharing (one queue for all workers, its data, its dequeue), but an enqueue
/// notifies the condition variable after releasing the queue's lock. CAF's notifies under
/// it: a worker woken on the enqueuer's CPU preempts it and blocks on the lock at once,
/// which costs two more context switches and a system call per enqueue. (With no worker
/// waiting, glibc's notify makes no system call.) CAF's enqueue paths all call its own
/// `enqueue`, so each is replaced here.
class sharing : public caf::policy::work_sharing {
public:
  template <class Coordinator>
  void enqueue(Coordinator* self, caf::resumable* job) {
    auto& data = d(self);
    {
      std::lock_guard<std::mutex> guard{data.lock};
      data.queue.push_back(job);
    }
    data.cv.notify_one();
  }

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    enqueue(self, job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    enqueue(self->parent(), job);
  }
};

/// A worker thread running CAF's `Policy` (work stealing or sharing), like CAF's
/// `scheduler::worker` but without what CAF 0.17's does around every resume for its logger:
/// a `dynamic_cast` from the job to its actor (a cross-cast that compares type names,
/// `strcmp`, at each level of the actor's class hierarchy), and recording the actor's id in
/// a hash map under a spinlock, both even when nothing is logged (Debian builds CAF with
/// `CAF_LOG_LEVEL_QUIET`). Together ~35% of a ping-pong's time.
template <class Policy>
class worker final : public caf::execution_unit {
public:
  using policy_data = typename Policy::worker_data;

  worker(size_t id, coordinator<Policy>* parent, const policy_data& init, size_t throughput)
    : caf::execution_unit(&parent->system()),
      max_throughput_(throughput),
      id_(id),
      parent_(parent),
      data_(init) {
    // nop
  }

  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  void start() {
    thread_ = std::thread{[this] {
      caf::detail::set_thread_name("strata.worker");
      system().thread_started();
      run();
      system().thread_terminates();
    }};
  }

  /// Enqueues `job` from another thread.
  void external_enqueue(caf::resumable* job) {
    policy_.external_enqueue(this, job);
  }

  /// Enqueues `job` from a job this worker runs.
  void exec_later(caf::resumable* job) override {
    policy_.internal_enqueue(this, job);
  }

  coordinator<Policy>* parent() {
    return parent_;
  }

  size_t id() const {
    return id_;
  }

  std::thread& get_thread() {
    return thread_;
  }

  policy_data& data() {
    return data_;
  }

  size_t max_throughput() {
    return max_throughput_;
  }

private:
  void run() {
    for (;;) {
      auto job = policy_.dequeue(this);
      // Spawning an actor sets the thread's logger, which makes CAF's `resume` record ids.
      caf::logger::set_current_actor_system(nullptr);
      policy_.before_resume(this, job);
      auto res = job->resume(this, max_throughput_);
      policy_.after_resume(this, job);
      switch (res) {
        case caf::resumable::resume_later: policy_.resume_job_later(this, job); break;
        case caf::resumable::done:
          policy_.after_completion(this, job);
          intrusive_ptr_release(job);
          break;
        case caf::resumable::awaiting_message: intrusive_ptr_release(job); break;
        case caf::resumable::shutdown_execution_unit:
          policy_.after_completion(this, job);
          policy_.before_shutdown(this);
          return;
      }
    }
  }

  size_t max_throughput_;
  std::thread thread_;
  size_t id_;
  coordinator<Policy>* parent_;
  policy_data data_;
  Policy policy_;
};

/// CAF's scheduler interface over `worker`s and a `locked_clock`, started and stopped as
/// CAF's `scheduler::coordinator` does.
template <class Policy>
class coordinator final : public caf::scheduler::abstract_coordinator {
public:
  using super = caf::scheduler::abstract_coordinator;
  using policy_data = typename Policy::coordinator_data;

  explicit coordinator(caf::actor_system& sys) : super(sys), data_(this) {
    // nop
  }

  worker<Policy>* worker_by_id(size_t x) {
    return workers_[x].get();
  }

  policy_data& data() {
    return data_;
  }

  caf::actor_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    typename worker<Policy>::policy_data init{this};
    auto num = num_workers();
    workers_.reserve(num);
    for (size_t i = 0; i < num; ++i)
      workers_.emplace_back(new worker<Policy>(i, this, init, max_throughput_));
    for (auto& w : workers_)
      w->start();
    clock_thread_ = std::thread{[this] {
      caf::detail::set_thread_name("strata.clock");
      system().thread_started();
      clock_.run();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    // Each worker runs a job that ends its loop; a job can be stolen, so one is sent until
    // every worker has taken one.
    struct shutdown_job final : caf::resumable, caf::ref_counted {
      resume_result resume(caf::execution_unit* unit, size_t) override {
        std::lock_guard<std::mutex> guard{mtx};
        last = unit;
        cv.notify_all();
        return resumable::shutdown_execution_unit;
      }
      void intrusive_ptr_add_ref_impl() override {
        intrusive_ptr_add_ref(this);
      }
      void intrusive_ptr_release_impl() override {
        intrusive_ptr_release(this);
      }
      std::mutex mtx;
      std::condition_variable cv;
      caf::execution_unit* last = nullptr;
    };
    shutdown_job job;
    std::set<worker<Policy>*> alive;
    for (auto& w : workers_) {
      alive.insert(w.get());
      job.ref(); // the workers release it; it lives on this stack
    }
    while (!alive.empty()) {
      (*alive.begin())->external_enqueue(&job);
      std::unique_lock<std::mutex> guard{job.mtx};
      job.cv.wait(guard, [&] { return job.last != nullptr; });
      alive.erase(static_cast<worker<Policy>*>(job.last));
      job.last = nullptr;
    }
    stop_actors();
    for (auto& w : workers_)
      w->get_thread().join();
    auto release = &abstract_coordinator::cleanup_and_release;
    for (auto& w : workers_)
      policy_.foreach_resumable(w.get(), release);
    policy_.foreach_central_resumable(this, release);
    // As CAF's: the clock after the workers.
    clock_.stop();
    clock_thread_.join();
  }

  void enqueue(caf::resumable* job) override {
    policy_.central_enqueue(this, job);
  }

private:
  locked_clock clock_;
  std::thread clock_thread_;
  std::vector<std::unique_ptr<worker<Policy>>> workers_;
  policy_data data_;
  Policy policy_;
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
  if (caf::get_or(cfg, "strata.scheduler.stock", false)) {
    if (sharing)
      return new caf::scheduler::coordinator<work_sharing>(sys);
    return new caf::scheduler::coordinator<work_stealing>(sys);
  }
  // Any other policy name falls back to stealing, as in CAF.
  if (sharing)
    return new coordinator<internal::sharing>(sys);
  return new coordinator<stealing>(sys);
}

} // namespace strata::internal
