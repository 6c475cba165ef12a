#pragma once

// Running a child's next step on the supervisor's own thread, at once, instead of through the
// scheduler (docs/design/supervisor.md, "Starting and stopping without a scheduler hop").

#include <utility>

#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduled_actor.hpp>

#include "strata/detail/guarded_init.hpp"

namespace strata::detail {

/// An execution unit that keeps the last job handed to it instead of scheduling it, passing
/// any earlier one on to the real unit. An actor hands itself to the unit that enqueued to it
/// when the enqueue finds it idle (`unblocked_reader`), and to its spawner's unit when it is
/// launched; given as that unit, this one receives the job, which its owner may then run at
/// once (`run_inline`) or schedule (`forward`). Owner thread only (a stack object of the
/// actor running on `real`).
class inline_unit final : public caf::execution_unit {
public:
  explicit inline_unit(caf::execution_unit* real)
    : caf::execution_unit(&real->system()), real_(real) {
    proxies_ = real->proxy_registry_ptr();
  }

  inline_unit(const inline_unit&) = delete;
  inline_unit& operator=(const inline_unit&) = delete;

  ~inline_unit() override {
    forward();
  }

  void exec_later(caf::resumable* job) override {
    // Anything made runnable before (e.g. by a constructor that sends) goes to the
    // scheduler as usual; only the last job is kept.
    if (job_ != nullptr)
      real_->exec_later(job_);
    job_ = job;
  }

  /// Returns the kept job (its scheduling reference included) and forgets it.
  caf::resumable* take() noexcept {
    return std::exchange(job_, nullptr);
  }

  /// Schedules the kept job, if any, through the real unit.
  void forward() {
    if (auto job = take())
      real_->exec_later(job);
  }

private:
  caf::execution_unit* real_;
  caf::resumable* job_ = nullptr;
};

/// Runs `job`, handed over by an `inline_unit`, for at most one message on `ctx` (the unit the
/// caller runs on), then does what a worker does with the result: the job is rescheduled if
/// more messages wait, else its scheduling reference is dropped. One message bounds the time
/// the caller lends its thread: the rest of the job's mailbox is the scheduler's business.
/// Returns what the run returned (`done`: the actor terminated).
inline caf::resumable::resume_result run_inline(caf::resumable* job, caf::execution_unit* ctx) {
  auto result = job->resume(ctx, 1);
  switch (result) {
    case caf::resumable::resume_later: ctx->exec_later(job); break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message: intrusive_ptr_release(job); break;
    case caf::resumable::shutdown_execution_unit: break; // never from an actor
  }
  return result;
}

/// Runs a worker's first run, `job` (taken from an `inline_unit`), on `ctx` as `run_inline`
/// does, its init reporting to the result (`first_behavior`): `done` and `error` as the init
/// ran; not `done` if the actor's first behavior waits for the init request instead (an
/// actor that is not a strata worker).
inline inline_init_outcome run_init_inline(caf::resumable* job, caf::execution_unit* ctx) {
  inline_init_outcome outcome;
  inline_init_slot() = &outcome;
  run_inline(job, ctx);
  inline_init_slot() = nullptr; // first_behavior took it, unless the job was no worker
  return outcome;
}

/// Whether `self` reacts to an exit_msg with CAF's default handler (it does not trap exits:
/// any reason but `normal` ends it at once, running no handler of its own). Call only while
/// owning the actor's execution (a job taken from an `inline_unit`, not yet run).
bool has_default_exit_handler(caf::scheduled_actor* self);

} // namespace strata::detail
