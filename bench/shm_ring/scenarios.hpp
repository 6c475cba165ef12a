#pragma once

// The scenarios of bench_shm_ring, each run between two processes (forked).

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace strata::bench {

/// Size of every message, bytes.
constexpr size_t message_size = 64;

/// How the receiving side waits for a message.
enum class wait_mode {
  spin, ///< try_receive in a loop
  adaptive, ///< inbox::receive with the default wait_policy
  sleep, ///< inbox::receive with max_spin 0: a futex wake-up every hop
};

/// A label for `mode`.
const char* name_of(wait_mode mode);

/// Prints `what` and exits with status 1.
[[noreturn]] void die(const std::string& what);

/// Waits for child `pid`; returns its exit code or 128 + the signal that killed it.
int wait_for(pid_t pid);

/// Round trips over two shm rings (one each way); one sample per round trip, in ns.
std::vector<double> shm_ping_pong(wait_mode mode, uint64_t round_trips);

/// One-way messages per second through one shm ring.
double shm_throughput(wait_mode mode, uint64_t messages);

/// Round trips over two pipes with blocking read/write, in ns.
std::vector<double> pipe_ping_pong(uint64_t round_trips);

/// Round trips over two Boost.Interprocess message_queues, in ns.
std::vector<double> message_queue_ping_pong(uint64_t round_trips);

} // namespace strata::bench
