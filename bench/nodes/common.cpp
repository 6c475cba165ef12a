#include "common.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>
#include <unistd.h>

#include "strata/events.hpp"
#include "strata/nodes/provider.hpp"

namespace strata::bench {

namespace {

using clock_type = std::chrono::steady_clock;

// Read at run time, so the compiler cannot see the write below goes through null and turn it
// into a trap (SIGILL): the child must die of a real SIGSEGV.
volatile std::uintptr_t nowhere = 0;

std::ofstream json_out;

} // namespace

caf::behavior target(caf::stateful_actor<target_state>* self, int) {
  return {
    [](add_atom, int a, int b) { return a + b; },
    [self](int) {
      if (++self->state.received == self->state.expected)
        self->state.done.deliver(self->state.received);
    },
    [self](count_atom, int64_t expected) -> caf::result<int64_t> {
      self->state.expected = expected;
      if (self->state.received >= expected)
        return self->state.received;
      self->state.done = self->make_response_promise();
      return self->state.done;
    },
    [](pid_atom) { return static_cast<int>(::getpid()); },
    [](crash_atom) -> int { throw std::runtime_error{"crash requested"}; },
    [](segv_atom) -> int {
      *reinterpret_cast<volatile int*>(nowhere) = 1;
      return 0;
    },
  };
}

void tune(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", 2);
}

std::unique_ptr<strata::system> start_root(strata::config& cfg) {
  tune(cfg);
  cfg.add_worker("target", target);
  strata::nodes::install(cfg);
  auto sys = std::make_unique<strata::system>(cfg);
  if (sys->provider_error()) {
    std::fprintf(stderr, "process placement unavailable: %s\n",
                 strata::to_text(sys->provider_error()).c_str());
    std::exit(1);
  }
  return sys;
}

void open_json(const std::string& path) {
  json_out.open(path, std::ios::app);
}

void report(const std::string& suite, const std::string& system, const std::string& metric,
            const std::string& unit, std::vector<double> xs, bool lower_is_better) {
  std::sort(xs.begin(), xs.end());
  auto median = xs[xs.size() / 2];
  std::printf("%-12s %-14s %-22s %12.2f %-6s (min %.2f, max %.2f, %zu runs)\n", suite.c_str(),
              system.c_str(), metric.c_str(), median, unit.c_str(), xs.front(), xs.back(),
              xs.size());
  std::fflush(stdout);
  if (json_out.is_open())
    json_out << "{\"suite\":\"" << suite << "\",\"system\":\"" << system << "\",\"metric\":\""
             << metric << "\",\"unit\":\"" << unit << "\",\"median\":" << median
             << ",\"min\":" << xs.front() << ",\"max\":" << xs.back() << ",\"runs\":" << xs.size()
             << ",\"better\":\"" << (lower_is_better ? "lower" : "higher") << "\"}\n";
}

double median_of(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

// Median microseconds per request, `n` requests in sequence from an event-based actor.
double round_trip(caf::actor_system& sys, const caf::actor& remote, int n) {
  auto samples = std::make_shared<std::vector<double>>();
  samples->reserve(static_cast<size_t>(n));
  caf::scoped_actor self{sys};
  caf::actor observer{self};
  // (An unused argument: CAF 0.17 spawning a function actor with none binds a reference
  // through a null shared_ptr.)
  sys.spawn(
    [=](caf::event_based_actor* client, int) {
      // The step holds itself only weakly; each pending response holds it strongly, so it
      // goes away with the last response (a strong self-reference would leak).
      auto step = std::make_shared<std::function<void(int)>>();
      std::weak_ptr<std::function<void(int)>> weak = step;
      *step = [=](int left) {
        if (left == 0) {
          client->send(observer, true);
          return;
        }
        auto start = clock_type::now();
        client->request(remote, std::chrono::seconds{10}, add_atom::value, 1, 2)
          .then(
            [=, next = weak.lock()](int sum) {
              if (sum != 3) {
                client->send(observer, false);
                return;
              }
              samples->push_back(
                std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
              (*next)(left - 1);
            },
            [=](caf::error&) { client->send(observer, false); });
      };
      (*step)(n);
    },
    0);
  bool ok = false;
  self->receive([&](bool x) { ok = x; });
  if (!ok || samples->size() != static_cast<size_t>(n)) {
    std::fprintf(stderr, "round trip: a request failed or returned a wrong sum\n");
    std::exit(2);
  }
  return median_of(*samples);
}

// Messages per second: `n` ints sent one way, then the count confirmed by the receiver.
double throughput(caf::actor_system& sys, const caf::actor& remote, int n) {
  caf::scoped_actor self{sys};
  caf::actor observer{self};
  // The counter starts from its current value: ask it first.
  int64_t before = 0;
  self->request(remote, std::chrono::seconds{30}, count_atom::value, int64_t{0})
    .receive([&](int64_t x) { before = x; }, [](caf::error&) { std::exit(2); });
  auto start = clock_type::now();
  sys.spawn(
    [=](caf::event_based_actor* sender, int) {
      for (int i = 0; i < n; ++i)
        sender->send(remote, i);
      sender->request(remote, std::chrono::seconds{120}, count_atom::value, before + n)
        .then([=](int64_t got) { sender->send(observer, got); },
              [=](caf::error& err) {
                std::fprintf(stderr, "throughput: %s\n", caf::to_string(err).c_str());
                sender->send(observer, int64_t{-1});
              });
    },
    0);
  int64_t got = -1;
  self->receive([&](int64_t x) { got = x; });
  auto secs = std::chrono::duration<double>(clock_type::now() - start).count();
  if (got != before + n) {
    std::fprintf(stderr, "throughput: the receiver counted %lld of %lld\n",
                 static_cast<long long>(got), static_cast<long long>(before + n));
    std::exit(2);
  }
  return n / secs;
}

event_waiter::event_waiter(caf::actor_system& sys) : self(sys) {
  strata::subscribe(self.ptr());
}

void event_waiter::wait(strata::event_kind kind, const std::string& child) {
  for (;;) {
    bool done = false;
    self->receive(
      [&](const strata::supervision_event& ev) {
        done = ev.kind == kind && (child.empty() || ev.child == child);
      },
      caf::after(std::chrono::seconds{10}) >>
        [] {
          std::fprintf(stderr, "no supervision event within 10 s\n");
          std::exit(2);
        });
    if (done)
      return;
  }
}

caf::actor child_handle(const caf::actor& sup) {
  auto children = strata::which_children(sup);
  if (!children || children->empty())
    std::exit(2);
  return children->front().handle;
}

int pid_of(caf::scoped_actor& self, const caf::actor& hdl) {
  int pid = 0;
  self->request(hdl, std::chrono::seconds{10}, pid_atom::value)
    .receive([&](int x) { pid = x; }, [](caf::error&) { std::exit(2); });
  return pid;
}

// Median microseconds from a crash of the only child of a fresh supervisor (placed `where`)
// to its successor answering.
caf::actor start_only_child(strata::system& sys, const std::string& name, strata::placement where,
                            uint32_t intensity) {
  strata::supervisor_spec spec;
  spec.intensity = intensity;
  strata::child_spec c{"target", strata::start("target", 1)};
  c.placement = where;
  spec.children = {c};
  auto sup = sys.start_supervisor(name, spec);
  if (!sup)
    std::exit(2);
  return *sup;
}

namespace {

// Milliseconds from `since` until the cluster has a spare node ready again (polled every
// millisecond); exits with status 2 after 10 s without one.
double spare_ready_after(strata::system& sys, clock_type::time_point since) {
  for (;;) {
    auto st = strata::nodes::status(sys.cfg());
    if (st && !st->spares.empty())
      return std::chrono::duration<double, std::milli>(clock_type::now() - since).count();
    if (clock_type::now() - since > std::chrono::seconds{10}) {
      std::fprintf(stderr, "restart: no spare node ready within 10 s\n");
      std::exit(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

} // namespace

namespace {

// The restart's observer, an event-based actor subscribed to supervision events, as a user's
// actor would watch a tree: on supervisor `sup`'s `restarted`, it asks the successor the
// event names for its pid, and sends `report_to` the `clock_type` ticks at which the answer
// arrived, or -1 when the successor does not answer. `(get_atom)` answers true once it is
// subscribed.
caf::behavior restart_prober(caf::event_based_actor* self, std::string sup, caf::actor report_to) {
  strata::subscribe(self);
  return {
    [=](const strata::supervision_event& ev) {
      if (ev.kind != strata::event_kind::restarted || ev.supervisor != sup)
        return;
      auto again = caf::actor_cast<caf::actor>(ev.actor);
      if (!again) {
        self->send(report_to, int64_t{-1});
        return;
      }
      self->request(again, std::chrono::seconds{10}, pid_atom::value)
        .then(
          [=](int) {
            self->send(report_to, int64_t{clock_type::now().time_since_epoch().count()});
          },
          [=](caf::error&) { self->send(report_to, int64_t{-1}); });
    },
    [](caf::get_atom) { return true; },
  };
}

} // namespace

double restart_latency(strata::system& sys, strata::placement where, int n,
                       std::vector<double>* spare_ready_ms) {
  auto name = "bench-" + to_string(where);
  auto sup = start_only_child(sys, name, where, static_cast<uint32_t>(n) * 10);
  caf::scoped_actor self{sys.actors()};
  auto prober = sys.actors().spawn(restart_prober, name, caf::actor{self});
  self->request(prober, std::chrono::seconds{10}, caf::get_atom::value)
    .receive([](bool) {}, [](caf::error&) { std::exit(2); });
  std::vector<double> samples;
  std::vector<double> ready;
  // Crashes come one at a time into a settled cluster: the zygote has replaced the spare the
  // last restart used, and that spare has been ready for a few milliseconds (at least 20 ms
  // since the last crash). This measures one crash's repair, not a crash storm. A fixed
  // pause alone did not settle it: on a busy host a spare took more than 20 ms, and the next
  // restart waited for it. Returns when the spare was ready, in ms after `since`.
  auto settle = [&](clock_type::time_point since) {
    auto after = spare_ready_after(sys, since);
    std::this_thread::sleep_until(std::max(since + std::chrono::milliseconds{20},
                                           clock_type::now() + std::chrono::milliseconds{5}));
    return after;
  };
  bool process = where == strata::placement::process;
  if (process)
    (void)settle(clock_type::now()); // the cluster's first spare: not a replacement
  for (int i = 0; i < n; ++i) {
    auto hdl = child_handle(sup);
    auto pid = where == strata::placement::process ? pid_of(self, hdl) : 0;
    auto start = clock_type::now();
    if (where == strata::placement::process)
      ::kill(pid, SIGKILL);
    else
      caf::anon_send(hdl, crash_atom::value);
    int64_t answered = -1;
    self->receive([&](int64_t ticks) { answered = ticks; },
                  caf::after(std::chrono::seconds{10}) >>
                    [] {
                      std::fprintf(stderr, "restart: no restarted child answered within 10 s\n");
                      std::exit(2);
                    });
    if (answered < 0) {
      std::fprintf(stderr, "restart: the restarted child did not answer\n");
      std::exit(2);
    }
    auto at = clock_type::time_point{clock_type::duration{answered}};
    samples.push_back(std::chrono::duration<double, std::micro>(at - start).count());
    if (process)
      ready.push_back(settle(start));
  }
  self->send_exit(prober, caf::exit_reason::user_shutdown);
  (void)strata::stop(sup);
  if (spare_ready_ms != nullptr && !ready.empty())
    spare_ready_ms->push_back(median_of(ready));
  return median_of(samples);
}

} // namespace strata::bench
