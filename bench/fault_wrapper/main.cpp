// bench_fault_wrapper: what detail::fault_injectable (strata/fault.hpp) costs a worker's
// messages. Ping-pong between two event-based actors on one scheduler thread, as plain
// caf::event_based_actor and as fault_injectable<caf::event_based_actor>, interleaved in
// rotating order; prints per repetition the ns per round trip of each, then the medians and
// the median of the paired differences. docs/design/chaos.md has the figures.
//
//   bench_fault_wrapper [round trips per run, default 500000] [repetitions, default 21]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <caf/all.hpp>

#include "strata/fault.hpp"

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

template <class Base>
class pinger : public Base {
public:
  pinger(caf::actor_config& cfg, caf::actor peer, int n, caf::actor done)
    : Base(cfg), peer_(std::move(peer)), left_(n), done_(std::move(done)) {
    // nop
  }

  caf::behavior make_behavior() override {
    this->send(peer_, ping_atom::value, left_);
    return {[this](ping_atom, int) {
      if (--left_ == 0) {
        this->send(done_, ping_atom::value, 0);
        this->quit();
        return;
      }
      this->send(peer_, ping_atom::value, left_);
    }};
  }

private:
  caf::actor peer_;
  int left_;
  caf::actor done_;
};

template <class Base>
class ponger : public Base {
public:
  using Base::Base;

  caf::behavior make_behavior() override {
    return {[](ping_atom, int x) { return caf::make_message(ping_atom::value, x); }};
  }
};

// Nanoseconds per round trip of `n` round trips between two actors of class `Base`.
template <class Base>
double round_trip_ns(caf::actor_system& sys, int n) {
  caf::scoped_actor self{sys};
  auto pong = sys.spawn<ponger<Base>>();
  auto t0 = std::chrono::steady_clock::now();
  sys.spawn<pinger<Base>>(pong, n, caf::actor{self});
  self->receive([](ping_atom, int) {});
  auto elapsed = std::chrono::steady_clock::now() - t0;
  caf::anon_send_exit(pong, caf::exit_reason::kill);
  return std::chrono::duration<double, std::nano>(elapsed).count() / n;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 500000;
  int reps = argc > 2 ? std::atoi(argv[2]) : 21;
  if (n < 1 || reps < 1) {
    std::fprintf(stderr, "usage: bench_fault_wrapper [round trips >= 1] [repetitions >= 1]\n");
    return 64;
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  std::vector<double> plain;
  std::vector<double> wrapped;
  std::vector<double> diff;
  for (int rep = 0; rep < reps; ++rep) {
    double p = 0;
    double w = 0;
    // Alternating which runs first, so that a warm-up or a drift favours neither.
    if (rep % 2 == 0) {
      p = round_trip_ns<caf::event_based_actor>(sys, n);
      w = round_trip_ns<strata::detail::fault_injectable<caf::event_based_actor>>(sys, n);
    } else {
      w = round_trip_ns<strata::detail::fault_injectable<caf::event_based_actor>>(sys, n);
      p = round_trip_ns<caf::event_based_actor>(sys, n);
    }
    std::printf("rep %2d  plain %7.1f ns  fault_injectable %7.1f ns\n", rep, p, w);
    plain.push_back(p);
    wrapped.push_back(w);
    diff.push_back(w - p);
  }
  std::printf("median  plain %7.1f ns  fault_injectable %7.1f ns  paired difference %+.1f ns\n",
              median(plain), median(wrapped), median(diff));
}
