#include "boost_mq.hpp"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <boost/date_time/posix_time/posix_time_types.hpp>

namespace strata::bench {

namespace {

namespace ipc = boost::interprocess;

// Every message, either way: the peer's half of the target actor of bench_nodes.
struct mq_message {
  int64_t kind = 0;
  int64_t a = 0;
  int64_t b = 0;
};

enum mq_kind : int64_t {
  add = 1, // answer a + b
  value = 2, // one counted int
  count = 3, // answer the count once it reaches a
  quit = 4,
};

// As many 24-byte messages as fit in the 256 KiB of one of strata's rings: a queue of the
// same depth, so that neither side gets more room to run ahead.
constexpr size_t queue_depth = (256 * 1024) / sizeof(mq_message);

constexpr const char* queue_prefix = "strata-bench-mq-";

// Removes the queues of bench runs that died without removing theirs (killed, say): each
// name holds its creator's pid, `strata-bench-mq-<pid>-<random>-<in|out>`, and boost's queues
// on Linux are POSIX shared memory, files in /dev/shm. A live process's queues are left.
void remove_stale_queues() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string prefix = queue_prefix;
  for (fs::directory_iterator it{"/dev/shm", ec}, end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0)
      continue;
    auto pid = std::atol(name.c_str() + prefix.size());
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      ipc::message_queue::remove(name.c_str());
  }
}

boost::posix_time::ptime deadline(int seconds) {
  return boost::posix_time::microsec_clock::universal_time() + boost::posix_time::seconds(seconds);
}

// The peer: counts, sums and answers until told to quit (or its parent dies).
int run_peer(const std::string& in_name, const std::string& out_name) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    ipc::message_queue in{ipc::open_only, in_name.c_str()};
    ipc::message_queue out{ipc::open_only, out_name.c_str()};
    int64_t received = 0;
    int64_t expected = -1; // a count asked for before all ints arrived
    auto answer = [&](int64_t x) { out.send(&x, sizeof(x), 0); };
    for (;;) {
      mq_message m;
      ipc::message_queue::size_type size = 0;
      unsigned prio = 0;
      in.receive(&m, sizeof(m), size, prio);
      if (size != sizeof(m))
        return 1;
      switch (m.kind) {
        case add: answer(m.a + m.b); break;
        case value:
          if (++received == expected) {
            answer(received);
            expected = -1;
          }
          break;
        case count:
          if (received >= m.a)
            answer(received);
          else
            expected = m.a;
          break;
        case quit: return 0;
        default: return 1;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "boost-mq peer: %s\n", e.what());
    return 1;
  }
}

} // namespace

mq_peer::mq_peer() = default;

mq_peer::~mq_peer() {
  if (pid_ > 0) {
    // Never blocks: a peer that cannot take its quit message is killed instead.
    mq_message m{quit, 0, 0};
    bool sent = false;
    try {
      sent = to_peer_->try_send(&m, sizeof(m), 0);
    } catch (const std::exception&) {
      sent = false;
    }
    if (!sent)
      ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  to_peer_.reset();
  from_peer_.reset();
  if (!to_peer_name_.empty()) {
    ipc::message_queue::remove(to_peer_name_.c_str());
    ipc::message_queue::remove(from_peer_name_.c_str());
  }
}

bool mq_peer::start() {
  remove_stale_queues();
  std::random_device rd;
  auto base = queue_prefix + std::to_string(::getpid()) + "-" + std::to_string(rd());
  to_peer_name_ = base + "-in";
  from_peer_name_ = base + "-out";
  try {
    ipc::message_queue::remove(to_peer_name_.c_str());
    ipc::message_queue::remove(from_peer_name_.c_str());
    to_peer_ = std::make_unique<queue>(ipc::create_only, to_peer_name_.c_str(), queue_depth,
                                       sizeof(mq_message));
    from_peer_ = std::make_unique<queue>(ipc::create_only, from_peer_name_.c_str(), queue_depth,
                                         sizeof(int64_t));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "boost-mq: cannot create the queues: %s\n", e.what());
    return false;
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    std::perror("boost-mq: fork");
    pid_ = 0;
    return false;
  }
  if (pid_ == 0)
    ::_exit(run_peer(to_peer_name_, from_peer_name_));
  return true;
}

void mq_peer::send(int64_t kind, int64_t a, int64_t b) {
  mq_message m{kind, a, b};
  // try_send costs what send costs; only a full queue pays for a deadline, so a dead peer
  // fails the run instead of hanging it.
  if (!to_peer_->try_send(&m, sizeof(m), 0)
      && !to_peer_->timed_send(&m, sizeof(m), 0, deadline(30))) {
    std::fprintf(stderr, "boost-mq: the peer took nothing for 30 s\n");
    std::exit(2);
  }
}

int64_t mq_peer::receive(int seconds) {
  int64_t x = 0;
  ipc::message_queue::size_type size = 0;
  unsigned prio = 0;
  // A plain blocking receive, as the peer's: a deadline only if nothing is there yet.
  if (!from_peer_->try_receive(&x, sizeof(x), size, prio)
      && !from_peer_->timed_receive(&x, sizeof(x), size, prio, deadline(seconds))) {
    std::fprintf(stderr, "boost-mq: no answer from the peer within %d s\n", seconds);
    std::exit(2);
  }
  return x;
}

double mq_peer::round_trip(int n) {
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto start = std::chrono::steady_clock::now();
    send(add, 1, 2);
    auto sum = receive(10);
    samples.push_back(
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (sum != 3) {
      std::fprintf(stderr, "WRONG RESULT: boost-mq round trip: 1 + 2 came back as %lld\n",
                   static_cast<long long>(sum));
      std::exit(3);
    }
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double mq_peer::throughput(int n) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    send(value, i, 0);
  send(count, counted_ + n, 0);
  auto got = receive(30);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (got != counted_ + n) {
    std::fprintf(stderr, "WRONG RESULT: boost-mq one-way: the peer counted %lld of %lld\n",
                 static_cast<long long>(got), static_cast<long long>(counted_ + n));
    std::exit(3);
  }
  counted_ = got;
  return n / secs;
}

} // namespace strata::bench
