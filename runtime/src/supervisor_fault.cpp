// Fault injection by a supervisor (fault.hpp, docs/design/chaos.md).

#include <csignal>
#include <unistd.h>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "strata/error.hpp"

#include "internal/supervisor_actor.hpp"

namespace strata::internal {

namespace {

// The longest hang asked for: a fault is for a study, not for stopping a system for good.
constexpr int64_t max_hang_ms = 10 * 60 * 1000;

int signal_of(fault_kind kind) {
  switch (kind) {
    case fault_kind::kill: return SIGKILL;
    case fault_kind::segv: return SIGSEGV;
    case fault_kind::abort: return SIGABRT;
    case fault_kind::hang: return SIGSTOP;
    case fault_kind::exception: break;
  }
  return 0;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGSTOP: return "SIGSTOP";
    default: return "a signal";
  }
}

caf::error refuse(const std::string& child, const std::string& why) {
  return make_error(error::fault_refused, child, why);
}

} // namespace

// Answered at once, not behind a running operation: injecting only sends a message or a
// signal, and a study wants faults to land in the middle of restarts too.
caf::result<std::string> supervisor_actor::api_inject_fault(const fault_request& req) {
  if (!faults_)
    return make_error(error::fault_refused, req.child,
                      "this system does not accept faults (strata.observer.faults is off)");
  child* c = nullptr;
  for (auto& entry : children_)
    if (entry.second.display_id == req.child)
      c = &entry.second;
  if (c == nullptr)
    return make_error(error::not_found, req.child);
  if (shutting_down_ || !c->handle || c->status != child_status::running)
    return refuse(c->display_id, std::string{"not running ("} + to_string(c->status) + ")");
  if (req.kind == fault_kind::hang && (req.hang_ms <= 0 || req.hang_ms > max_hang_ms))
    return refuse(c->display_id, "a hang lasts from 1 to " + std::to_string(max_hang_ms) + " ms");
  auto hdl = c->handle;
  auto what = to_string(req.kind);
  auto send_fault = [&] {
    send(hdl, detail::fault_atom::value, static_cast<uint8_t>(req.kind), req.hang_ms);
  };
  std::string done;
  if (c->where == placement::process && req.kind != fault_kind::exception) {
    auto provider = cfg_->provider();
    if (provider == nullptr)
      return refuse(c->display_id, "no placement provider to signal its process");
    auto sig = signal_of(req.kind);
    auto pid = provider->signal_process(hdl, sig);
    if (!pid)
      return refuse(c->display_id, to_text(pid.error()));
    done = std::string{signal_name(sig)} + " sent to its node, pid " + std::to_string(*pid);
    if (req.kind == fault_kind::hang) {
      // If the heartbeat does not kill the stopped node first (or is off), it goes on.
      delayed_send(this, std::chrono::milliseconds(req.hang_ms), fault_resume_atom::value, hdl);
      done += "; SIGCONT in " + std::to_string(req.hang_ms) + " ms unless its heartbeat kills it";
    }
  } else if (req.kind == fault_kind::kill) {
    // Anonymous: an actor unlinks from the sender of the exit it receives, and then we would
    // never learn that it died.
    caf::anon_send_exit(hdl, caf::exit_reason::kill);
    done = "exit_reason::kill sent (SIGKILL would take down this whole OS process)";
  } else if (req.kind == fault_kind::segv || req.kind == fault_kind::abort) {
    if (!req.allow_process_exit)
      return refuse(c->display_id,
                    "a " + what + " in a " + to_string(c->where)
                      + " child takes down its whole OS process, pid " + std::to_string(::getpid())
                      + ", which runs this supervisor: allow_process_exit is required");
    send_fault();
    done = what + " raised inside it: OS process " + std::to_string(::getpid()) + " goes down";
  } else {
    send_fault();
    done = req.kind == fault_kind::exception
             ? std::string{"exception thrown inside it"}
             : "blocked inside a handler for " + std::to_string(req.hang_ms) + " ms";
  }
  c->fault = req.tag.empty() ? what : req.tag;
  return done;
}

} // namespace strata::internal
