#pragma once

// bench_nodes' `boost-mq` peer: the same cross-process work as strata's `process` placement
// and CAF's TCP remote actors, done by two OS processes through Boost.Interprocess
// `message_queue`s, one per direction. Both sides are plain blocking loops: message_queue is
// a blocking API (a process-shared mutex and condition variables in the segment), and that
// is how it is meant to be used.

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>

#include <boost/interprocess/ipc/message_queue.hpp>

namespace strata::bench {

/// The forked peer and the root's ends of its two queues. Owner thread only.
class mq_peer {
public:
  mq_peer();
  ~mq_peer();

  mq_peer(const mq_peer&) = delete;
  mq_peer& operator=(const mq_peer&) = delete;

  /// Creates two queues named after this process's pid and a random number (removing any
  /// left under those names) and forks the peer. Call it while the process is
  /// single-threaded: the peer is a fork. @returns false after printing why on failure.
  bool start();

  /// Median microseconds per request, `n` requests `(add, 1, 2)` in sequence, each waiting
  /// for its answer. Exits with status 3 (`WRONG RESULT:`) if a sum is wrong, 2 if the peer
  /// does not answer within 10 s.
  double round_trip(int n);

  /// Messages per second: `n` ints sent one way as fast as the queue takes them, then the
  /// peer's count, which it sends once it has them all. Exits with status 3 if the count is
  /// wrong, 2 if the peer does not answer within 30 s.
  double throughput(int n);

private:
  using queue = boost::interprocess::message_queue;

  void send(int64_t kind, int64_t a, int64_t b);
  int64_t receive(int seconds);

  std::string to_peer_name_;
  std::string from_peer_name_;
  std::unique_ptr<queue> to_peer_;
  std::unique_ptr<queue> from_peer_;
  pid_t pid_ = 0;
  int64_t counted_ = 0; // ints the peer has counted so far, over all runs
};

} // namespace strata::bench
