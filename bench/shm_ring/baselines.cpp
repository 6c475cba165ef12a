// bench_shm_ring: baselines measured in the same run (see main.cpp).

#include <chrono>
#include <string>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>

#include "scenarios.hpp"

namespace bip = boost::interprocess;
using clock_type = std::chrono::steady_clock;

namespace strata::bench {

std::vector<double> pipe_ping_pong(uint64_t n) {
  int to_child[2];
  int to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0)
    die("pipe");
  auto pid = ::fork();
  if (pid == 0) {
    ::close(to_child[1]); // so that the parent's close is our end of file
    ::close(to_parent[0]);
    char buf[message_size];
    for (;;) {
      if (::read(to_child[0], buf, sizeof(buf)) != static_cast<ssize_t>(sizeof(buf)))
        ::_exit(0);
      if (::write(to_parent[1], buf, sizeof(buf)) != static_cast<ssize_t>(sizeof(buf)))
        ::_exit(2);
    }
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  char msg[message_size] = {};
  std::vector<double> samples;
  for (uint64_t i = 0; i < n + n / 10; ++i) {
    auto t0 = clock_type::now();
    if (::write(to_child[1], msg, sizeof(msg)) != static_cast<ssize_t>(sizeof(msg))
        || ::read(to_parent[0], msg, sizeof(msg)) != static_cast<ssize_t>(sizeof(msg)))
      die("pipe ping-pong");
    if (i >= n / 10)
      samples.push_back(std::chrono::duration<double, std::nano>(clock_type::now() - t0).count());
  }
  ::close(to_child[1]);
  ::close(to_parent[0]);
  wait_for(pid);
  return samples;
}

std::vector<double> message_queue_ping_pong(uint64_t n) {
  auto suffix = std::to_string(::getpid());
  auto ping = "strata-bench-mq-ping-" + suffix;
  auto pong = "strata-bench-mq-pong-" + suffix;
  std::vector<double> samples;
  try {
    bip::message_queue::remove(ping.c_str());
    bip::message_queue::remove(pong.c_str());
    bip::message_queue to_child{bip::create_only, ping.c_str(), 16, message_size};
    bip::message_queue to_parent{bip::create_only, pong.c_str(), 16, message_size};
    auto total = n + n / 10;
    auto pid = ::fork();
    if (pid == 0) {
      char buf[message_size];
      size_t got = 0;
      unsigned prio = 0;
      for (uint64_t i = 0; i < total; ++i) {
        to_child.receive(buf, sizeof(buf), got, prio);
        to_parent.send(buf, got, 0);
      }
      ::_exit(0);
    }
    char msg[message_size] = {};
    size_t got = 0;
    unsigned prio = 0;
    for (uint64_t i = 0; i < total; ++i) {
      auto t0 = clock_type::now();
      to_child.send(msg, sizeof(msg), 0);
      to_parent.receive(msg, sizeof(msg), got, prio);
      if (i >= n / 10)
        samples.push_back(std::chrono::duration<double, std::nano>(clock_type::now() - t0).count());
    }
    wait_for(pid);
  } catch (const bip::interprocess_exception& e) {
    die(std::string{"message_queue: "} + e.what());
  }
  bip::message_queue::remove(ping.c_str());
  bip::message_queue::remove(pong.c_str());
  return samples;
}

} // namespace strata::bench
