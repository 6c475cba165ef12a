// bench_shm_ring: strata::nodes' shared-memory rings between two processes, next to a pipe
// and Boost.Interprocess message_queue measured in the same run.
//
//   bench_shm_ring [--runs=N] [--round-trips=N] [--messages=N] [--json=FILE] [--only=TEXT]
//
// - ping-pong: a 64-byte message goes to a forked echo process and back, over one ring each
//   way; per round trip latency, median and p99 per run. Receivers either busy-spin
//   (try_receive in a loop), use inbox::receive with the default adaptive wait policy, or
//   sleep at once (max_spin 0: every message pays a futex wake-up).
// - throughput: a forked writer sends 64-byte messages one way as fast as the ring takes them.
// Each scenario runs --runs times (a fresh pair of processes each); the table shows the median
// of the runs and their spread (min-max). A benchmark, not a test: it never fails on numbers.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "scenarios.hpp"

using namespace strata::bench;

namespace {

struct options {
  int runs = 5;
  uint64_t round_trips = 200'000; // per run; sleeping scenarios use a tenth
  uint64_t messages = 5'000'000; // per throughput run
  std::string json;
  std::string only; // run only the lines whose name contains this
};

// -- reporting ------------------------------------------------------------------------------

double percentile(std::vector<double>& xs, double p) {
  std::sort(xs.begin(), xs.end());
  return xs[static_cast<size_t>(p * static_cast<double>(xs.size() - 1))];
}

struct summary {
  double median; // of the runs
  double min;
  double max;
};

summary summarise(std::vector<double> xs) {
  auto med = percentile(xs, 0.5);
  return {med, xs.front(), xs.back()};
}

std::ofstream json_out;

bool selected(const std::string& name, const options& opts) {
  return opts.only.empty() || name.find(opts.only) != std::string::npos;
}

template <class F>
void latency(const std::string& name, const options& opts, uint64_t n, F run) {
  if (!selected(name, opts))
    return;
  std::vector<double> medians;
  std::vector<double> p99s;
  for (int r = 0; r < opts.runs; ++r) {
    auto samples = run(n);
    medians.push_back(percentile(samples, 0.5));
    p99s.push_back(percentile(samples, 0.99));
  }
  auto m = summarise(medians);
  auto p = summarise(p99s);
  std::printf("%-52s median %8.2f us (%.2f-%.2f)   p99 %8.2f us (%.2f-%.2f)\n", name.c_str(),
              m.median / 1e3, m.min / 1e3, m.max / 1e3, p.median / 1e3, p.min / 1e3, p.max / 1e3);
  std::fflush(stdout);
  if (json_out.is_open())
    json_out << R"({"bench":"round_trip","name":")" << name << R"(","runs":)" << opts.runs
             << R"(,"round_trips":)" << n << R"(,"median_ns":)" << m.median
             << R"(,"median_min_ns":)" << m.min << R"(,"median_max_ns":)" << m.max
             << R"(,"p99_ns":)" << p.median << R"(,"p99_min_ns":)" << p.min << R"(,"p99_max_ns":)"
             << p.max << "}\n";
}

void throughput(const std::string& name, const options& opts, wait_mode mode) {
  if (!selected(name, opts))
    return;
  std::vector<double> rates;
  for (int r = 0; r < opts.runs; ++r)
    rates.push_back(shm_throughput(mode, opts.messages));
  auto s = summarise(rates);
  std::printf("%-52s %8.2f M msg/s (%.2f-%.2f)\n", name.c_str(), s.median / 1e6, s.min / 1e6,
              s.max / 1e6);
  std::fflush(stdout);
  if (json_out.is_open())
    json_out << R"({"bench":"throughput","name":")" << name << R"(","runs":)" << opts.runs
             << R"(,"messages":)" << opts.messages << R"(,"msg_per_s":)" << s.median << R"(,"min":)"
             << s.min << R"(,"max":)" << s.max << "}\n";
}

options parse(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* key) -> const char* {
      auto k = std::string{key} + "=";
      return arg.compare(0, k.size(), k) == 0 ? argv[i] + k.size() : nullptr;
    };
    if (auto v = value("--runs"))
      opts.runs = std::max(1, std::atoi(v));
    else if (auto v = value("--round-trips"))
      opts.round_trips = std::max<uint64_t>(10, std::strtoull(v, nullptr, 10));
    else if (auto v = value("--messages"))
      opts.messages = std::max<uint64_t>(2, std::strtoull(v, nullptr, 10));
    else if (auto v = value("--json"))
      opts.json = v;
    else if (auto v = value("--only"))
      opts.only = v;
    else
      die("usage: bench_shm_ring [--runs=N] [--round-trips=N] [--messages=N] [--json=FILE] "
          "[--only=TEXT]");
  }
  return opts;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (!opts.json.empty()) {
    json_out.open(opts.json, std::ios::app);
    if (!json_out)
      die("cannot open " + opts.json);
  }
  std::printf("two processes, %zu-byte messages, %d runs per line: median of runs (min-max)\n",
              message_size, opts.runs);
  auto n = opts.round_trips;
  for (auto mode : {wait_mode::spin, wait_mode::adaptive, wait_mode::sleep}) {
    auto count = mode == wait_mode::sleep ? n / 10 : n;
    latency(std::string{"shm ping-pong, "} + name_of(mode), opts, count,
            [mode](uint64_t k) { return shm_ping_pong(mode, k); });
  }
  latency("pipe ping-pong (blocking read/write)", opts, n / 10, pipe_ping_pong);
  latency("Boost message_queue ping-pong", opts, n / 10, message_queue_ping_pong);
  throughput("shm one-way throughput, busy-spinning receiver", opts, wait_mode::spin);
  throughput("shm one-way throughput, receive()", opts, wait_mode::adaptive);
  return 0;
}
