// bench_shm_ring: the strata::nodes scenarios (see main.cpp).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

#include "strata/nodes/error.hpp"
#include "strata/nodes/inbox.hpp"
#include "strata/nodes/outbox.hpp"

#include "scenarios.hpp"

using namespace strata::nodes;
using clock_type = std::chrono::steady_clock;

namespace strata::bench {

const char* name_of(wait_mode mode) {
  switch (mode) {
    case wait_mode::spin: return "busy-spinning receivers";
    case wait_mode::adaptive: return "receive(), default wait policy";
    default: return "sleeping receivers (max_spin 0)";
  }
}

void die(const std::string& what) {
  std::fprintf(stderr, "bench_shm_ring: %s\n", what.c_str());
  // Single-threaded program: std::exit's thread-unsafety (concurrency-mt-unsafe) is moot.
  std::exit(1); // NOLINT(concurrency-mt-unsafe)
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

wait_policy policy_for(wait_mode mode) {
  wait_policy p;
  if (mode == wait_mode::sleep)
    p.max_spin = p.min_spin = std::chrono::nanoseconds{0};
  return p;
}

// Receives one message; false on a corrupt ring or 10 s without a message.
bool receive_one(inbox& box, std::vector<char>& buf, wait_mode mode) {
  if (mode == wait_mode::spin) {
    auto start = clock_type::now();
    for (uint64_t i = 1;; ++i) {
      auto r = box.try_receive(buf);
      if (r.status == receive_status::message)
        return true;
      if (r.status == receive_status::corrupt)
        return false;
      if (i % 1'000'000 == 0 && clock_type::now() - start > std::chrono::seconds{10})
        return false;
    }
  }
  auto r = box.receive(buf, std::chrono::seconds{10});
  return r.status == receive_status::message;
}

inbox_options inbox_opts(const cluster_token& token, uint32_t index, uint64_t capacity,
                         wait_mode mode) {
  inbox_options o;
  o.token = token;
  o.node_index = index;
  o.ring_count = 1;
  o.ring_capacity = capacity;
  o.wait = policy_for(mode);
  return o;
}

outbox_options outbox_opts(const cluster_token& token, uint32_t index, wait_mode mode) {
  outbox_options o;
  o.token = token;
  o.node_index = index;
  o.slot = 0;
  o.wait = policy_for(mode);
  return o;
}

auto far_deadline() {
  return clock_type::now() + std::chrono::seconds{10};
}

// -- shm ping-pong ------------------------------------------------------------------------

// The echo process: its own inbox (node 1), then echoes `count` messages back to node 0.
int echo(const cluster_token& token, wait_mode mode, uint64_t count, int ready_fd) {
  auto mine = inbox::create(inbox_opts(token, 1, uint64_t{1} << 16, mode));
  if (!mine)
    return 2;
  char c = 'r';
  if (::write(ready_fd, &c, 1) != 1)
    return 3;
  auto out = outbox::open(outbox_opts(token, 0, mode));
  if (!out)
    return 4;
  std::vector<char> buf;
  for (uint64_t i = 0; i < count; ++i) {
    if (!receive_one(*mine, buf, mode))
      return 5;
    if (out->write(buf, far_deadline()))
      return 6;
  }
  return 0;
}

} // namespace

std::vector<double> shm_ping_pong(wait_mode mode, uint64_t n) {
  const uint64_t warmup = n / 10;
  auto token = make_cluster_token();
  if (!token)
    die(to_text(token.error()));
  auto box = inbox::create(inbox_opts(*token, 0, uint64_t{1} << 16, mode));
  if (!box)
    die(to_text(box.error()));
  int ready[2];
  if (::pipe(ready) != 0)
    die("pipe");
  auto pid = ::fork();
  if (pid == 0)
    ::_exit(echo(*token, mode, n + warmup, ready[1]));
  char c = 0;
  if (::read(ready[0], &c, 1) != 1)
    die("echo process did not start");
  ::close(ready[0]);
  ::close(ready[1]);
  auto out = outbox::open(outbox_opts(*token, 1, mode));
  if (!out)
    die(to_text(out.error()));
  std::vector<char> msg(message_size, 'x');
  std::vector<char> buf;
  std::vector<double> samples;
  samples.reserve(n);
  for (uint64_t i = 0; i < n + warmup; ++i) {
    std::memcpy(msg.data(), &i, sizeof(i));
    auto t0 = clock_type::now();
    if (auto err = out->write(msg, far_deadline()))
      die(to_text(err));
    if (!receive_one(*box, buf, mode) || buf != msg)
      die("ping-pong: lost or wrong reply");
    auto t1 = clock_type::now();
    if (i >= warmup)
      samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  if (auto rc = wait_for(pid); rc != 0)
    die("echo process exited with " + std::to_string(rc));
  return samples;
}

// -- shm throughput -----------------------------------------------------------------------

double shm_throughput(wait_mode mode, uint64_t n) {
  auto token = make_cluster_token();
  if (!token)
    die(to_text(token.error()));
  auto box = inbox::create(inbox_opts(*token, 0, uint64_t{1} << 20, mode));
  if (!box)
    die(to_text(box.error()));
  auto pid = ::fork();
  if (pid == 0) {
    auto rc = [&] {
      auto out = outbox::open(outbox_opts(*token, 0, mode));
      if (!out)
        return 2;
      std::vector<char> msg(message_size, 'y');
      for (uint64_t i = 0; i < n; ++i) {
        std::memcpy(msg.data(), &i, sizeof(i));
        if (out->write(msg, far_deadline()))
          return 3;
      }
      return 0;
    }();
    ::_exit(rc);
  }
  std::vector<char> buf;
  clock_type::time_point first;
  for (uint64_t i = 0; i < n; ++i) {
    if (!receive_one(*box, buf, mode))
      die("throughput: no message for 10 s");
    uint64_t seq = 0;
    std::memcpy(&seq, buf.data(), sizeof(seq));
    if (seq != i || buf.size() != message_size)
      die("throughput: message out of order");
    if (i == 0)
      first = clock_type::now();
  }
  auto last = clock_type::now();
  if (auto rc = wait_for(pid); rc != 0)
    die("writer process exited with " + std::to_string(rc));
  return static_cast<double>(n - 1) / std::chrono::duration<double>(last - first).count();
}

} // namespace strata::bench
