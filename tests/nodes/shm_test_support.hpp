#pragma once

// Helpers shared by the tests of strata::nodes: fresh tokens, checksummed test messages, a raw
// second mapping of a segment (to play the peer that writes garbage), forked children that
// are always reaped, and waiting for an event with a deadline (never sleeping as a
// synchronisation).

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "strata/nodes/cluster_token.hpp"
#include "strata/nodes/error.hpp"
#include "strata/nodes/inbox.hpp"
#include "strata/nodes/outbox.hpp"
#include "strata/nodes/pidfd.hpp"
#include "strata/nodes/segments.hpp"

namespace strata::nodes::test {

using namespace std::chrono_literals;

inline cluster_token fresh_token() {
  auto token = make_cluster_token();
  REQUIRE(token);
  return *token;
}

/// Names in /dev/shm that belong to the cluster of `token`.
inline std::vector<std::string> segments_of(const cluster_token& token) {
  auto prefix = "strata-" + to_hex(token) + "-";
  std::vector<std::string> result;
  for (auto& entry : std::filesystem::directory_iterator{"/dev/shm"}) {
    auto name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0)
      result.push_back(name);
  }
  return result;
}

/// Renders an error for test output.
inline std::string text(const caf::error& err) {
  return to_text(err);
}

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

/// An inbox and an outbox writing into its slot 0, in this process.
struct ring_pair {
  inbox box;
  outbox out;
};

/// Inbox options for tests: a fresh token, `rings` rings of `capacity` bytes.
inline inbox_options test_inbox_options(uint64_t capacity, uint32_t rings = 1,
                                        uint64_t max_message = default_max_message_size) {
  inbox_options opts;
  opts.token = fresh_token();
  opts.ring_count = rings;
  opts.ring_capacity = capacity;
  opts.max_message_size = max_message;
  return opts;
}

/// Outbox options for slot `slot` of the inbox made from `opts`.
inline outbox_options test_outbox_options(const inbox_options& opts, uint32_t slot = 0) {
  outbox_options out;
  out.token = opts.token;
  out.node_index = opts.node_index;
  out.slot = slot;
  return out;
}

inline ring_pair open_pair(const inbox_options& opts) {
  auto box = inbox::create(opts);
  REQUIRE(box);
  auto out = outbox::open(test_outbox_options(opts));
  REQUIRE(out);
  return {std::move(*box), std::move(*out)};
}

inline ring_pair open_pair(uint64_t capacity, uint64_t max_message = default_max_message_size) {
  return open_pair(test_inbox_options(capacity, 1, max_message));
}

/// Reads one message that must be there now.
inline std::vector<char> read_now(inbox& box) {
  std::vector<char> buf;
  auto r = box.try_receive(buf);
  INFO(text(r.error));
  REQUIRE(r.status == receive_status::message);
  return buf;
}

/// A message of `size` bytes whose content depends on `seed`.
inline std::vector<char> pattern(size_t size, uint64_t seed) {
  std::vector<char> out(size);
  for (size_t i = 0; i < size; ++i)
    out[i] = static_cast<char>(splitmix64(seed + i / 8) >> (8 * (i % 8)));
  return out;
}

// -- checksummed messages ---------------------------------------------------------------

inline uint64_t fnv1a(const char* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325;
  for (size_t i = 0; i < size; ++i)
    h = (h ^ static_cast<uint8_t>(data[i])) * 0x100000001b3;
  return h;
}

/// Size of test message `seq`: mostly 0..255 bytes of payload, every 64th up to 4 KiB, and
/// every 1024th up to `large` bytes (fragmented in small rings).
inline size_t message_size(uint64_t seq, size_t large) {
  auto r = splitmix64(seq);
  if (seq % 1024 == 1023)
    return r % (large + 1);
  if (seq % 64 == 63)
    return r % 4097;
  return r % 256;
}

/// Test message `seq`: [u64 seq][payload of message_size(seq) bytes][u64 FNV-1a of both].
inline void make_message(uint64_t seq, size_t large, std::vector<char>& out) {
  auto payload = message_size(seq, large);
  out.resize(16 + payload);
  std::memcpy(out.data(), &seq, 8);
  auto state = splitmix64(seq ^ 0x5eed);
  for (size_t i = 0; i < payload; ++i) {
    if (i % 8 == 0)
      state = splitmix64(state);
    out[8 + i] = static_cast<char>(state >> (8 * (i % 8)));
  }
  auto sum = fnv1a(out.data(), 8 + payload);
  std::memcpy(out.data() + 8 + payload, &sum, 8);
}

/// Checks a received message against `make_message(seq)`; returns what is wrong, or "".
inline std::string check_message(const std::vector<char>& msg, uint64_t seq, size_t large) {
  if (msg.size() < 16)
    return "message of " + std::to_string(msg.size()) + " bytes";
  uint64_t got_seq = 0;
  std::memcpy(&got_seq, msg.data(), 8);
  if (got_seq != seq)
    return "sequence " + std::to_string(got_seq) + ", expected " + std::to_string(seq);
  if (msg.size() != 16 + message_size(seq, large))
    return "size " + std::to_string(msg.size()) + " for sequence " + std::to_string(seq);
  uint64_t sum = 0;
  std::memcpy(&sum, msg.data() + msg.size() - 8, 8);
  if (sum != fnv1a(msg.data(), msg.size() - 8))
    return "bad checksum for sequence " + std::to_string(seq);
  return {};
}

// -- a second, raw mapping of a segment ---------------------------------------------------

/// Maps segment `name` read-write with plain shm_open + mmap, as a misbehaving peer would.
class raw_mapping {
public:
  explicit raw_mapping(const std::string& name) {
    fd_ = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
    REQUIRE(fd_ >= 0);
    struct stat st {};
    REQUIRE(::fstat(fd_, &st) == 0);
    size_ = static_cast<size_t>(st.st_size);
    base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    REQUIRE(base_ != MAP_FAILED);
  }

  raw_mapping(const raw_mapping&) = delete;
  raw_mapping& operator=(const raw_mapping&) = delete;

  ~raw_mapping() {
    ::munmap(base_, size_);
    ::close(fd_);
  }

  char* base() const {
    return static_cast<char*>(base_);
  }

  size_t size() const {
    return size_;
  }

private:
  int fd_ = -1;
  void* base_ = nullptr;
  size_t size_ = 0;
};

// -- child processes ----------------------------------------------------------------------

/// Forks a child that runs `body` (returning its exit code) and `_exit`s: it never returns into
/// Catch2. Call only while this process has no other thread.
template <class F>
pid_t fork_child(F body) {
  auto pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 90;
    try {
      rc = body();
    } catch (...) {
      rc = 91;
    }
    ::_exit(rc);
  }
  return pid;
}

/// Waits up to `patience` for `pid`; returns its exit code, or 128 + the signal that killed
/// it. A child still running then is SIGKILLed and reaped (the result says so): a hung child
/// fails the test instead of hanging it.
inline int wait_child(pid_t pid, std::chrono::seconds patience = std::chrono::seconds{30}) {
  int status = 0;
  int fd = strata::nodes::open_pidfd(pid);
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    int ready = 0;
    while ((ready = ::poll(&p, 1, static_cast<int>(patience.count() * 1000))) < 0
           && errno == EINTR) {
    }
    ::close(fd);
    if (ready == 0) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return 200; // "hung": no exit code or signal number is this
    }
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

/// Kills and reaps a child if the test ends (e.g. fails) before it was waited for.
class child_guard {
public:
  explicit child_guard(pid_t pid) : pid_(pid) {}

  child_guard(const child_guard&) = delete;
  child_guard& operator=(const child_guard&) = delete;

  ~child_guard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_child(pid_);
    }
  }

  /// Waits for the child to exit; returns as wait_child.
  int wait() {
    auto rc = wait_child(pid_);
    pid_ = -1;
    return rc;
  }

  /// Kills the child with SIGKILL and reaps it.
  void kill() {
    ::kill(pid_, SIGKILL);
    wait();
  }

private:
  pid_t pid_;
};

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. Yields
/// between polls: this waits for an event, it does not sleep for one.
template <class F>
bool wait_until(F condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::yield();
  }
  return true;
}

} // namespace strata::nodes::test
