#pragma once

// A strata system with `process` placement on, for the tests of process children: a test
// worker that reports its pid and crashes on request in the ways a process can die, and
// helpers to wait for supervision events.

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "strata/events.hpp"
#include "strata/names.hpp"
#include "strata/nodes/error.hpp"
#include "strata/nodes/provider.hpp"
#include "strata/strata.hpp"

namespace strata::nodes::test {

using pid_atom = caf::atom_constant<caf::atom("t_pid")>;
using add_atom = caf::atom_constant<caf::atom("t_add")>;
using fault_atom = caf::atom_constant<caf::atom("t_fault")>;
using reg_atom = caf::atom_constant<caf::atom("t_reg")>;
using ask_atom = caf::atom_constant<caf::atom("t_ask")>;
using watch_atom = caf::atom_constant<caf::atom("t_watch")>;
using flood_atom = caf::atom_constant<caf::atom("t_flood")>;
using relay_atom = caf::atom_constant<caf::atom("t_relay")>;

/// How a test makes a node die.
enum class fault : int { sigkill = 1, sigsegv, abort, exit1, exception, hang };

inline const char* name_of(fault f) {
  switch (f) {
    case fault::sigkill: return "SIGKILL";
    case fault::sigsegv: return "SIGSEGV";
    case fault::abort: return "abort()";
    default: return "exit(1)";
  }
}

/// What the supervisor must see as the exit reason of a node that died of `f`.
inline std::string expected_reason(fault f) {
  switch (f) {
    case fault::sigkill: return "killed by signal 9 (SIGKILL)";
    case fault::sigsegv: return "killed by signal 11 (SIGSEGV)";
    case fault::abort: return "killed by signal 6 (SIGABRT)";
    default: return "exited with code 1";
  }
}

/// The worker every test starts: answers its pid and sums, dies or hangs as asked, registers
/// itself under a name, asks the actor registered under a name (or a given actor) for a sum,
/// floods an actor.
inline caf::behavior victim(caf::event_based_actor* self, int) {
  // Reports the exit reason of every actor it monitors, as text, to the actor registered as
  // "observer".
  self->set_down_handler([self](caf::down_msg& msg) {
    auto text = nodes::to_text(msg.reason);
    self
      ->request(name_server(self->system()), std::chrono::seconds{10}, whereis_atom::value,
                std::string{"observer"})
      .then([self, text](const caf::actor& observer) { self->send(observer, text); },
            [](caf::error&) {});
  });
  return {
    [self](watch_atom, const std::string& name) -> caf::result<ok_atom> {
      auto rp = self->make_response_promise<ok_atom>();
      self
        ->request(name_server(self->system()), std::chrono::seconds{10}, whereis_atom::value, name)
        .then(
          [self, rp](const caf::actor& who) mutable {
            self->monitor(who);
            rp.deliver(ok_atom::value);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](reg_atom, const std::string& name) -> caf::result<ok_atom> {
      auto rp = self->make_response_promise<ok_atom>();
      self
        ->request(name_server(self->system()), std::chrono::seconds{10}, register_name_atom::value,
                  name, caf::actor{self})
        .then([rp](ok_atom x) mutable { rp.deliver(x); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](ask_atom, const std::string& name, int a, int b) -> caf::result<int> {
      auto rp = self->make_response_promise<int>();
      self
        ->request(name_server(self->system()), std::chrono::seconds{10}, whereis_atom::value, name)
        .then(
          [self, rp, a, b](const caf::actor& who) mutable {
            self->request(who, std::chrono::seconds{10}, add_atom::value, a, b)
              .then([rp](int sum) mutable { rp.deliver(sum); },
                    [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    // Asks `who` for the sum of a and b, and answers it.
    [self](relay_atom, const caf::actor& who, int a, int b) -> caf::result<int> {
      auto rp = self->make_response_promise<int>();
      self->request(who, std::chrono::seconds{10}, add_atom::value, a, b)
        .then([rp](int sum) mutable { rp.deliver(sum); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [](pid_atom) { return static_cast<int>(::getpid()); },
    [](add_atom, int a, int b) { return a + b; },
    // Sends 0 .. n-1 to `dst` in one handler, then answers n.
    [self](flood_atom, const caf::actor& dst, int n) {
      for (int i = 0; i < n; ++i)
        self->send(dst, i);
      return n;
    },
    [](fault_atom, int how) {
      switch (static_cast<fault>(how)) {
        case fault::sigsegv: ::raise(SIGSEGV); break;
        case fault::abort: std::abort();
        case fault::exit1: std::exit(1);
        case fault::exception: throw std::runtime_error{"crash requested"};
        case fault::hang:
          for (;;)
            ::pause(); // stuck in a handler: an exit message is never read
        default: ::raise(SIGKILL);
      }
    },
  };
}

/// Whether process `pid` is gone (reaped) within `patience`.
inline bool gone_within(pid_t pid, std::chrono::seconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// `child`, placed in a node of its own.
inline child_spec in_process(child_spec child) {
  child.placement = placement::process;
  return child;
}

/// A system with the test worker and `process` placement, and a subscriber to its events.
/// Built while the test process is single-threaded (the zygote forks then).
struct cluster {
  /// `customize` may change `cfg` (e.g. turn the observer on) before the system starts.
  explicit cluster(node_options opts = {}, std::function<void(config&)> customize = nullptr) {
    cfg.add_worker("victim", victim);
    // A subtree for a node: two workers under one_for_one.
    cfg.add_supervisor("team", [](int size) {
      supervisor_spec spec;
      spec.intensity = 10;
      for (int i = 1; i <= size; ++i)
        spec.children.push_back(child_spec{"member" + std::to_string(i), start("victim", i)});
      return spec;
    });
    cfg.set("scheduler.max-threads", 2);
    install(cfg, opts);
    if (customize)
      customize(cfg);
    sys = std::make_unique<strata::system>(cfg);
    if (auto& err = sys->provider_error())
      FAIL("process placement unavailable: " << nodes::to_text(err));
    self = std::make_unique<caf::scoped_actor>(sys->actors());
    subscribe(self->ptr());
  }

  ~cluster() {
    self.reset();
    sys.reset();
  }

  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Waits up to `patience` for an event of `kind` about a child whose id starts with
  /// `child`; fails the test otherwise.
  supervision_event wait_for(event_kind kind, const std::string& child,
                             std::chrono::seconds patience = std::chrono::seconds{20}) {
    auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        FAIL("no " << to_string(kind) << " event for " << child);
      std::optional<supervision_event> got;
      (*self)->receive([&](supervision_event& ev) { got = std::move(ev); },
                       caf::after(left) >> [] {});
      if (got && got->kind == kind && got->child.rfind(child, 0) == 0)
        return *got;
    }
  }

  /// Requests `xs...` from `hdl` and returns its answer of type T, failing the test on an
  /// error or after 10 s.
  template <class T, class... Ts>
  T call(const caf::actor& hdl, Ts&&... xs) {
    T result{};
    (*self)
      ->request(hdl, std::chrono::seconds{10}, std::forward<Ts>(xs)...)
      .receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { FAIL("request failed: " << nodes::to_text(err)); });
    return result;
  }

  /// Starts the top-level supervisor "root" from `spec`; fails the test if it does not start.
  caf::actor start_root(supervisor_spec spec) {
    auto sup = sys->start_supervisor("root", std::move(spec));
    REQUIRE(sup);
    return *sup;
  }

  /// Whether a spare node is ready (`cluster_status::spares`) within 10 s, polling.
  bool spare_ready() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (status(cfg)->spares.empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    return !status(cfg)->spares.empty();
  }

  /// The pid of the process running `hdl`.
  int pid_of(const caf::actor& hdl) {
    return call<int>(hdl, pid_atom::value);
  }

  /// The handle of child `id` of `sup` (the first whose id starts with `id`).
  caf::actor child_of(const caf::actor& sup, const std::string& id) {
    auto children = which_children(sup);
    REQUIRE(children);
    for (auto& c : *children)
      if (c.id.rfind(id, 0) == 0)
        return c.handle;
    FAIL("no child " << id);
    return {};
  }

  strata::config cfg;
  std::unique_ptr<strata::system> sys;
  std::unique_ptr<caf::scoped_actor> self;
};

} // namespace strata::nodes::test
