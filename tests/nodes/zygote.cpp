// The zygote: forking nodes, warm spares, exit reports, and taking the cluster down.

#include "strata/nodes/zygote.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>

#include "strata/nodes/error.hpp"
#include "strata/nodes/pidfd.hpp"

#include "error_of.hpp"
#include "internal/proc_stat.hpp"
#include "read_file.hpp"

using strata::test::error_of;
using strata::test::read_file;

using namespace strata::nodes;
using namespace std::chrono_literals;

namespace {

// A pipe the nodes inherit (it exists before the zygote forks) to tell the test what they do.
struct pipe_pair {
  int read_end = -1;
  int write_end = -1;
  pipe_pair() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    read_end = fds[0];
    write_end = fds[1];
  }
  ~pipe_pair() {
    ::close(read_end);
    ::close(write_end);
  }
};

// Options that let the nodes keep the pipe's write end (the zygote closes every other
// descriptor it inherited).
zygote_options keeping(const pipe_pair& p, zygote_options opts = {}) {
  opts.keep_fds.push_back(p.write_end);
  return opts;
}

// Writes one line (atomically: short writes to a pipe are).
void say(int fd, const std::string& line) {
  auto text = line + "\n";
  [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
}

// Reads one line, failing the test after `timeout`.
std::string hear(int fd, std::chrono::milliseconds timeout = 10s) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      FAIL("nothing heard within " << timeout.count() << " ms");
    char c;
    if (::read(fd, &c, 1) != 1)
      FAIL("pipe closed");
    if (c == '\n')
      return line;
    line += c;
  }
}

// Waits until the process behind `pidfd` is gone.
bool gone_within(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// Node entries used below: each reports on `out`.
node_entry reporting_entry(int out) {
  return [out](node_context& ctx) {
    say(out, "ready " + std::to_string(::getpid()));
    auto a = ctx.await_assignment();
    if (!a)
      return 3;
    say(out, "assigned " + std::to_string(a->slot) + " " + a->payload);
    // Serve until the zygote goes (EOF on the control socket) or a signal ends us.
    char c;
    while (::read(ctx.control_fd(), &c, 1) > 0) {
    }
    return 0;
  };
}

// A node that maps a memfd called `name` (shown in /proc/<pid>/maps as "/memfd:<name>"),
// keeping no descriptor for it, says "mapped" and waits to be killed.
node_entry mapping_entry(int out, std::string name) {
  return [out, name](node_context& ctx) {
    if (!ctx.await_assignment())
      return 1;
    auto fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, 1 << 16) != 0)
      return 2;
    auto mem = ::mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (mem == MAP_FAILED)
      return 3;
    std::memset(mem, 1, 1 << 16);
    say(out, "mapped");
    for (;;)
      ::pause();
  };
}

// Processes whose address space maps a memfd called `name`, by pid.
std::vector<pid_t> mapping(const std::string& name) {
  std::vector<pid_t> result;
  if (auto dir = ::opendir("/proc")) {
    while (auto entry = ::readdir(dir)) {
      auto pid = std::atoi(entry->d_name);
      if (pid > 0
          && read_file("/proc/" + std::to_string(pid) + "/maps").find("/memfd:" + name + " ")
               != std::string::npos)
        result.push_back(pid);
    }
    ::closedir(dir);
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::string comm_of(pid_t pid) {
  auto s = read_file("/proc/" + std::to_string(pid) + "/comm");
  return s.empty() ? s : s.substr(0, s.size() - 1);
}

size_t open_fds_of(pid_t pid) {
  size_t n = 0;
  if (auto dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (auto entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    ::closedir(dir);
  }
  return n;
}

// The children of a single-threaded process, zombies included.
std::string children_of(pid_t pid) {
  auto p = std::to_string(pid);
  return read_file("/proc/" + p + "/task/" + p + "/children");
}

// The exit reports of a zygote's nodes, as they come.
struct exit_log {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<node_exit> exits; // guarded by mtx

  zygote& z;

  explicit exit_log(zygote& of) : z(of) {
    z.on_exit([this](const node_exit& x) {
      std::lock_guard<std::mutex> guard{mtx};
      exits.push_back(x);
      cv.notify_all();
    });
  }

  ~exit_log() {
    z.on_exit(nullptr); // the zygote, going after us, reports the nodes it takes down
  }

  // Waits up to `timeout` for the `n`th report.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, timeout, [&] { return exits.size() >= n; });
  }
};

} // namespace

TEST_CASE("a node runs its entry, gets its slot and payload, from a warm spare") {
  pipe_pair p;
  auto z = zygote::start(reporting_entry(p.write_end), keeping(p));
  REQUIRE(z);
  // The spare is up before anyone asks for a node: the fork and start-up are paid ahead.
  auto ready = hear(p.read_end);
  REQUIRE(ready.rfind("ready ", 0) == 0);
  auto spare_pid = std::stoi(ready.substr(6));
  auto node = (*z)->spawn(7, "hello");
  REQUIRE(node);
  CHECK(node->pid == spare_pid);
  CHECK(node->slot == 7);
  CHECK(hear(p.read_end) == "assigned 7 hello");
  // A new spare replaces the one that was used.
  CHECK(hear(p.read_end).rfind("ready ", 0) == 0);
  ::close(node->pidfd);
}

TEST_CASE("a node's exit code and killing signal are reported, and its pidfd fires") {
  pipe_pair p;
  auto z = zygote::start(
    [out = p.write_end](node_context& ctx) {
      auto a = ctx.await_assignment();
      if (!a)
        return 99;
      if (a->payload == "exit")
        return static_cast<int>(a->slot);
      say(out, "waiting");
      ::pause(); // until killed
      return 0;
    },
    keeping(p));
  REQUIRE(z);
  exit_log log{**z};
  auto& exits = log.exits;
  auto quitter = (*z)->spawn(3, "exit");
  REQUIRE(quitter);
  auto victim = (*z)->spawn(4, "wait");
  REQUIRE(victim);
  CHECK(hear(p.read_end) == "waiting");
  REQUIRE(::kill(victim->pid, SIGKILL) == 0);
  CHECK(gone_within(victim->pidfd, 10s));
  REQUIRE(log.wait_for(2, 10s));
  std::lock_guard<std::mutex> guard{log.mtx};
  for (auto& x : exits) {
    if (x.slot == 3) {
      CHECK(x.pid == quitter->pid);
      CHECK_FALSE(x.signaled);
      CHECK(x.code == 3);
      CHECK(to_string(x) == "exited with code 3");
    } else {
      CHECK(x.slot == 4);
      CHECK(x.signaled);
      CHECK(x.code == SIGKILL);
      CHECK(to_string(x) == "killed by signal 9 (SIGKILL)");
    }
  }
  ::close(quitter->pidfd);
  ::close(victim->pidfd);
}

TEST_CASE("a node handed over is reported only once collected: at once if it ended, else as "
          "it ends") {
  pipe_pair p;
  auto z = zygote::start(
    [out = p.write_end](node_context& ctx) {
      if (!ctx.await_assignment())
        return 99;
      say(out, "waiting");
      for (;;)
        ::pause(); // until killed
    },
    keeping(p));
  REQUIRE(z);
  exit_log log{**z};
  auto& exits = log.exits;
  auto early = (*z)->spawn(1);
  REQUIRE(early);
  auto late = (*z)->spawn(2);
  REQUIRE(late);
  CHECK(hear(p.read_end) == "waiting");
  CHECK(hear(p.read_end) == "waiting");
  (*z)->hand_over(early->pid);
  (*z)->hand_over(late->pid);
  // The zygote answers in order: once this one is answered, it has read the hand-overs.
  auto marker = (*z)->spawn(3);
  REQUIRE(marker);
  CHECK(hear(p.read_end) == "waiting");
  REQUIRE(::kill(early->pid, SIGKILL) == 0);
  REQUIRE(gone_within(early->pidfd, 10s));
  // Ended, but the zygote neither woke for it nor reaped it: a zombie, unreported.
  CHECK_FALSE(log.wait_for(1, 300ms));
  CHECK(children_of((*z)->pid()).find(std::to_string(early->pid)) != std::string::npos);
  (*z)->collect(early->pid);
  REQUIRE(log.wait_for(1, 10s));
  std::unique_lock<std::mutex> guard{log.mtx};
  CHECK(exits[0].pid == early->pid);
  CHECK(exits[0].slot == 1);
  CHECK(exits[0].signaled);
  CHECK(exits[0].code == SIGKILL);
  guard.unlock();
  // Collected while it runs: reported when it ends.
  (*z)->collect(late->pid);
  REQUIRE(::kill(late->pid, SIGTERM) == 0);
  REQUIRE(log.wait_for(2, 10s));
  guard.lock();
  CHECK(exits[1].pid == late->pid);
  CHECK(exits[1].signaled);
  CHECK(exits[1].code == SIGTERM);
  for (auto* n : {&*early, &*late, &*marker})
    ::close(n->pidfd);
}

TEST_CASE("destroying the zygote stops every node, killing those that ignore SIGTERM") {
  pipe_pair p;
  zygote_options opts;
  opts.grace = 200ms;
  std::vector<node_process> nodes;
  {
    auto z = zygote::start(
      [out = p.write_end](node_context& ctx) {
        auto a = ctx.await_assignment();
        if (!a)
          return 1;
        if (a->payload == "stubborn")
          ::signal(SIGTERM, SIG_IGN);
        say(out, "up");
        for (;;)
          ::pause();
      },
      keeping(p, opts));
    REQUIRE(z);
    for (auto kind : {"polite", "stubborn", "polite"}) {
      auto node = (*z)->spawn(static_cast<uint32_t>(nodes.size()), kind);
      REQUIRE(node);
      nodes.push_back(*node);
      CHECK(hear(p.read_end) == "up");
    }
  }
  for (auto& node : nodes) {
    CHECK(gone_within(node.pidfd, 100ms)); // the destructor waited for all of them
    ::close(node.pidfd);
  }
}

TEST_CASE("when the root is killed, the zygote takes every node down and cleans up") {
  pipe_pair p;
  auto root = ::fork();
  REQUIRE(root >= 0);
  if (root == 0) {
    // A stand-in root: single-threaded here, as a real one is when it forks its zygote.
    zygote_options opts;
    opts.grace = 200ms;
    opts.on_cluster_exit = [out = p.write_end] { say(out, "cleaned up"); };
    auto z = zygote::start(
      [out = p.write_end](node_context& ctx) {
        if (!ctx.await_assignment())
          return 1;
        for (;;)
          ::pause();
      },
      keeping(p, opts));
    if (!z)
      ::_exit(1);
    for (uint32_t slot = 0; slot < 3; ++slot)
      if (auto node = (*z)->spawn(slot))
        say(p.write_end, "node " + std::to_string(node->pid));
    say(p.write_end, "zygote " + std::to_string((*z)->pid()));
    for (;;)
      ::pause();
  }
  std::vector<int> pidfds;
  for (int i = 0; i < 3; ++i) {
    auto line = hear(p.read_end);
    REQUIRE(line.rfind("node ", 0) == 0);
    pidfds.push_back(open_pidfd(std::stoi(line.substr(5))));
    REQUIRE(pidfds.back() >= 0);
  }
  auto line = hear(p.read_end);
  REQUIRE(line.rfind("zygote ", 0) == 0);
  auto zygote_pidfd = open_pidfd(std::stoi(line.substr(7)));
  REQUIRE(::kill(root, SIGKILL) == 0);
  REQUIRE(::waitpid(root, nullptr, 0) == root);
  CHECK(hear(p.read_end) == "cleaned up");
  for (auto fd : pidfds) {
    CHECK(gone_within(fd, 10s));
    ::close(fd);
  }
  CHECK(gone_within(zygote_pidfd, 10s));
  ::close(zygote_pidfd);
}

TEST_CASE("when the zygote dies, its nodes get SIGTERM and spawn reports the loss") {
  pipe_pair p;
  auto z = zygote::start(
    [out = p.write_end](node_context& ctx) {
      // A real node removes its segment on SIGTERM, then exits; this one just exits.
      ::signal(SIGTERM, [](int) { ::_exit(15); });
      if (!ctx.await_assignment())
        return 1;
      say(out, "up");
      for (;;)
        ::pause();
    },
    keeping(p));
  REQUIRE(z);
  auto node = (*z)->spawn(0);
  REQUIRE(node);
  CHECK(hear(p.read_end) == "up");
  REQUIRE(::kill((*z)->pid(), SIGKILL) == 0);
  CHECK(gone_within(node->pidfd, 10s));
  ::close(node->pidfd);
  auto again = (*z)->spawn(1);
  REQUIRE_FALSE(again);
  CHECK(is(error_of(again), error::zygote_gone));
}

TEST_CASE("the zygote refuses to start once the process has threads") {
  std::atomic<bool> stop{false};
  std::thread busy{[&] {
    while (!stop)
      std::this_thread::yield();
  }};
  auto z = zygote::start([](node_context&) { return 0; });
  stop = true;
  busy.join();
  REQUIRE_FALSE(z);
  CHECK(is(error_of(z), error::invalid_argument));
}

// A zygote without spares whose nodes map a memfd named after `prefix` (`mapping_entry`).
struct mapping_cluster {
  pipe_pair p;
  std::string name;
  std::unique_ptr<zygote> z;

  mapping_cluster(const std::string& prefix, std::chrono::milliseconds teardown_delay)
    : name(prefix + "-" + std::to_string(::getpid())) {
    zygote_options opts;
    opts.spares = 0;
    opts.grace = 200ms;
    opts.teardown_delay = teardown_delay;
    auto started = zygote::start(mapping_entry(p.write_end, name), keeping(p, opts));
    REQUIRE(started);
    z = std::move(*started);
  }

  // Starts a node and waits until it mapped the memfd.
  node_process spawn(uint32_t slot) {
    auto node = z->spawn(slot);
    REQUIRE(node);
    REQUIRE(hear(p.read_end) == "mapped");
    return *node;
  }
};

TEST_CASE("a dead node's memory outlives it by teardown_delay, in a holder that holds nothing "
          "else") {
  mapping_cluster c{"strata-held", 1s};
  auto node = c.spawn(1);
  auto both = mapping(c.name);
  REQUIRE(both.size() == 2);
  auto holder = both[0] == node.pid ? both[1] : both[0];
  CHECK(comm_of(holder) == "strata.hold");
  CHECK(internal::proc_stat_file{holder}.read().value_or(internal::proc_stat{}).parent
        == c.z->pid());
  CHECK(open_fds_of(holder) == 1); // its pipe: not the node's socket, nor the test's pipe
  auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(node.pid, SIGKILL) == 0);
  // The node's exit does not wait for its memory...
  CHECK(gone_within(node.pidfd, 10s));
  ::close(node.pidfd);
  if (std::chrono::steady_clock::now() - killed < 900ms)
    CHECK(mapping(c.name) == std::vector<pid_t>{holder});
  // ...which is freed teardown_delay after the zygote saw the exit, and the holder reaped.
  auto deadline = killed + 20s;
  while ((!mapping(c.name).empty() || !children_of(c.z->pid()).empty())
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(std::chrono::steady_clock::now() - killed >= 1s);
  CHECK(mapping(c.name).empty());
  CHECK(children_of(c.z->pid()).empty());
}

TEST_CASE("a holder that exits late after it was let go is still reaped") {
  // Under load a holder can take longer to exit than the zygote's first look for it (its
  // address space is the dead node's to free). Stopped here while it is let go, it exits
  // only when continued, after that look.
  mapping_cluster c{"strata-late", 300ms};
  auto node = c.spawn(1);
  auto both = mapping(c.name);
  REQUIRE(both.size() == 2);
  auto holder = both[0] == node.pid ? both[1] : both[0];
  REQUIRE(::kill(holder, SIGSTOP) == 0);
  auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(node.pid, SIGKILL) == 0);
  CHECK(gone_within(node.pidfd, 10s));
  ::close(node.pidfd);
  std::this_thread::sleep_until(killed + 300ms + 500ms); // let go, and looked for once
  REQUIRE(::kill(holder, SIGCONT) == 0);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((!mapping(c.name).empty() || !children_of(c.z->pid()).empty())
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(mapping(c.name).empty());
  CHECK(children_of(c.z->pid()).empty()); // no zombie holder
}

TEST_CASE("with a zero teardown_delay a node has no holder") {
  mapping_cluster c{"strata-unheld", 0ms};
  auto node = c.spawn(1);
  CHECK(mapping(c.name) == std::vector<pid_t>{node.pid});
  CHECK(children_of(c.z->pid()) == std::to_string(node.pid) + " ");
  REQUIRE(::kill(node.pid, SIGKILL) == 0);
  CHECK(gone_within(node.pidfd, 10s));
  ::close(node.pidfd);
  CHECK(mapping(c.name).empty());
}

TEST_CASE("destroying the zygote lets every holder go and reaps it") {
  mapping_cluster c{"strata-shutdown", 1h}; // only the shutdown lets them go
  auto dead = c.spawn(1);
  auto alive = c.spawn(2);
  REQUIRE(mapping(c.name).size() == 4);
  std::vector<pid_t> holders;
  for (auto pid : mapping(c.name))
    if (pid != dead.pid && pid != alive.pid)
      holders.push_back(pid);
  REQUIRE(::kill(dead.pid, SIGKILL) == 0);
  CHECK(gone_within(dead.pidfd, 10s));
  CHECK(mapping(c.name).size() == 3); // its holder keeps its memory
  ::close(dead.pidfd);
  ::close(alive.pidfd);
  c.z.reset();
  // The destructor waited for the zygote, which reaped every holder before it exited.
  CHECK(mapping(c.name).empty());
  for (auto pid : holders)
    CHECK(comm_of(pid) != "strata.hold");
}

TEST_CASE("a node forked after another keeps no end of the other's holder pipe") {
  mapping_cluster c{"strata-sibling", 200ms};
  auto first = c.spawn(1);
  auto second = c.spawn(2); // forked while the first's holder pipe was open in the zygote
  REQUIRE(mapping(c.name).size() == 4);
  auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(first.pid, SIGKILL) == 0);
  CHECK(gone_within(first.pidfd, 10s));
  ::close(first.pidfd);
  // The first's holder goes once the zygote closes its end, though the second node lives.
  while (mapping(c.name).size() > 2 && std::chrono::steady_clock::now() < killed + 20s)
    std::this_thread::sleep_for(10ms);
  CHECK(mapping(c.name).size() == 2); // the second node and its holder
  CHECK(::kill(second.pid, 0) == 0);
  ::close(second.pidfd);
}
