#include "strata/nodes/zygote.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <caf/detail/set_thread_name.hpp>

#include "strata/nodes/error.hpp"
#include "strata/nodes/pidfd.hpp"

#include "internal/zygote_wire.hpp"

namespace strata::nodes {

using internal::zygote_header;
using internal::zygote_msg;

namespace {

// What the zygote's epoll events carry: its root's socket is readable, or a watched child's
// pidfd (which child does not matter: reap() collects every child that ended).
constexpr uint64_t root_event = 0;
constexpr uint64_t pidfd_event = 1;

// How long after letting holders go the zygote reaps them (they exit as they see EOF,
// and freeing their node's memory takes a millisecond or two).
constexpr auto holder_sweep_delay = std::chrono::milliseconds{50};
// Looks again at doubling delays while a holder let go is still there, up to this one (about
// 6 s in all).
constexpr auto holder_sweep_limit = std::chrono::milliseconds{3200};

caf::error os_error(const char* call) {
  return make_error(error::system_error, std::string{call}, std::string{std::strerror(errno)});
}

// Counts the threads of this process (entries of /proc/self/task).
size_t thread_count() {
  size_t n = 0;
  if (auto dir = ::opendir("/proc/self/task")) {
    while (auto entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        ++n;
    ::closedir(dir);
  }
  return n;
}

// Gives this (freshly forked) process default signal dispositions and an empty signal mask:
// the zygote and the nodes must not run handlers the root installed for itself. SIGINT is
// ignored: a terminal's Ctrl-C goes to its whole foreground process group, the zygote and
// the nodes included, and the root decides what becomes of them (it stops its nodes, or it
// dies and the zygote stops them).
void reset_signals() {
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::signal(sig, sig == SIGINT ? SIG_IGN : SIG_DFL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// -- a dead node's address space, kept for a moment ----------------------------------------
//
// The kernel frees a killed process's memory in its last thread's exit, and that walk of its
// page tables holds a CPU for 1-2 ms here (more for a bigger node), without preemption on a
// PREEMPT_NONE kernel: on two CPUs, half the machine, just when the dead node's child is being
// restarted. So each node starts a *holder*, a process that shares the node's address space
// (CLONE_VM) and does nothing else. While it lives the address space outlives the node: the
// node's threads exit (its liveness token, its pidfd and the zygote's report come as before)
// without freeing it. The zygote lets the holder go `teardown_delay` after the node's exit, by
// closing the pipe it waits on; the holder's own exit then frees the memory, once the restart
// is done.

// The holder's stack. It shares the node's memory, so this is the node's copy of it, which
// the node never uses.
alignas(64) char holder_stack[16 * 1024];

// The holder: waits for EOF on `read_end`, then exits. It runs on the TLS of the node's thread
// that cloned it, so it makes raw system calls only (no sanitizer interceptors, no errno but
// on failure, when it exits anyway).
__attribute__((no_sanitize("address", "thread", "undefined"))) int holder_main(void* arg) {
  auto fd = static_cast<long>(reinterpret_cast<intptr_t>(arg));
  ::syscall(SYS_prctl, PR_SET_NAME, "strata.hold", 0, 0, 0);
  // Hold nothing but the pipe: not the node's control socket, nor a copy of any other.
  if (fd > 0)
    ::syscall(SYS_close_range, 0U, static_cast<unsigned>(fd) - 1, 0U);
  ::syscall(SYS_close_range, static_cast<unsigned>(fd) + 1, ~0U, 0U);
  static char byte;
  while (::syscall(SYS_read, fd, &byte, 1) > 0) {
  }
  ::syscall(SYS_exit, 0);
  return 0;
}

// Starts this node's holder, a child of the zygote (CLONE_PARENT) reading `read_end`. Without
// one (clone failed), the node works the same and its memory is freed as it dies.
void start_holder(int read_end) {
  ::clone(holder_main, holder_stack + sizeof(holder_stack), CLONE_VM | CLONE_PARENT,
          reinterpret_cast<void*>(static_cast<intptr_t>(read_end)));
  ::close(read_end);
}

// -- the zygote process ---------------------------------------------------------------------

// One process forked by the zygote: a spare until assigned, then a node.
struct child_proc {
  pid_t pid = 0;
  int pidfd = -1;
  int control = -1; // the zygote's end of the node's control socket
  bool assigned = false;
  uint32_t slot = 0;
  int hold = -1; // the write end of its holder's pipe
  bool watched = false; // its pidfd is in the epoll set (not handed over to the root)
};

// A holder to let go: its pipe's write end, closed at `due`.
struct held_memory {
  std::chrono::steady_clock::time_point due;
  int hold;
};

class zygote_process {
public:
  zygote_process(int root_fd, node_entry entry, zygote_options opts)
    : root_(root_fd), entry_(std::move(entry)), opts_(std::move(opts)) {
    // nop
  }

  [[noreturn]] void run() {
    // Keep none of the root's descriptors (sockets, pipes, files it opened before the
    // system started): a node holding a copy of the root's listening socket or of a pipe's
    // write end would keep them alive after the root closed them.
    close_inherited();
    reset_signals();
    ::signal(SIGPIPE, SIG_IGN); // a dead spare's socket must not kill the zygote
    // A child's death wakes the zygote through the child's pidfd, while the zygote watches it
    // (a spare; a node until the root takes it over, see zygote::hand_over). SIGCHLD stays
    // blocked and unwatched (its signalfd serves the shutdown only): a node's death must not
    // wake the zygote just when its child is being restarted. Holders are reaped in sweeps.
    sigset_t chld;
    ::sigemptyset(&chld);
    ::sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    sigchld_ = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0 || sigchld_ < 0)
      ::_exit(70);
    watch(root_, root_event);
    for (;;) {
      // A new spare builds an actor system: milliseconds of CPU that would compete with the
      // node just assigned, whose start someone is waiting for. Replace spares once quiet.
      int timeout = -1;
      auto now = std::chrono::steady_clock::now();
      if (now >= quiet_until_)
        keep_spares();
      else if (spares_ready() < opts_.spares)
        timeout = until(quiet_until_, now);
      if (release_held(now)) {
        sweep_delay_ = holder_sweep_delay;
        sweep_at_ = now + sweep_delay_;
      }
      if (sweep_at_ && now >= *sweep_at_) {
        sweep_at_.reset();
        reap();
        // A holder can exit later than that under load (its address space is a dead node's
        // to free): look again, less and less often, until each one let go is reaped, or
        // give up on it (a node whose holder did not start counts one too many).
        if (letting_go_ > 0 && sweep_delay_ < holder_sweep_limit) {
          sweep_delay_ *= 2;
          sweep_at_ = now + sweep_delay_;
        } else {
          letting_go_ = 0;
        }
      }
      auto wake_at = [&](std::chrono::steady_clock::time_point t) {
        timeout = timeout < 0 ? until(t, now) : std::min(timeout, until(t, now));
      };
      if (!held_.empty())
        wake_at(held_.front().due);
      if (sweep_at_)
        wake_at(*sweep_at_);
      epoll_event events[16];
      auto n = ::epoll_wait(epoll_, events, 16, timeout);
      if (n < 0 && errno != EINTR)
        ::_exit(71);
      bool ended = false;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == root_event)
          serve_root();
        else
          ended = true; // a watched child's pidfd: it has ended
      }
      if (ended)
        reap();
    }
  }

private:
  void close_inherited() {
    auto keep = opts_.keep_fds;
    keep.push_back(root_);
    std::sort(keep.begin(), keep.end());
    unsigned from = 3;
    for (int fd : keep) {
      if (fd < 0 || static_cast<unsigned>(fd) < from)
        continue;
      if (static_cast<unsigned>(fd) > from)
        ::close_range(from, static_cast<unsigned>(fd) - 1, 0);
      from = static_cast<unsigned>(fd) + 1;
    }
    ::close_range(from, ~0U, 0);
  }

  // Milliseconds from `now` to `t`, rounded up, at least 0: an epoll_wait timeout.
  static int until(std::chrono::steady_clock::time_point t,
                   std::chrono::steady_clock::time_point now) {
    return static_cast<int>(
      std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(t - now).count()));
  }

  // Lets go of the holders due by `now`: each exits, freeing its dead node's memory.
  // @returns whether it let any go.
  bool release_held(std::chrono::steady_clock::time_point now) {
    bool any = false;
    while (!held_.empty() && held_.front().due <= now) {
      ::close(held_.front().hold);
      held_.pop_front();
      ++letting_go_;
      any = true;
    }
    return any;
  }

  // Adds `fd` to the epoll set; events carry `tag`.
  void watch(int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  // Starts or stops watching child `c`'s pidfd. (Closing a pidfd would not take it out of
  // the set: the root holds a copy of the same open file.)
  void set_watched(child_proc& c, bool on) {
    if (c.watched == on)
      return;
    if (on)
      watch(c.pidfd, pidfd_event);
    else
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.pidfd, nullptr);
    c.watched = on;
  }

  size_t spares_ready() const {
    size_t n = 0;
    for (auto& [child_pid, c] : children_)
      if (!c.assigned)
        ++n;
    return n;
  }

  void keep_spares() {
    // A failed fork leaves fewer spares; the next spawn forks on demand and reports errors.
    while (spares_ready() < opts_.spares)
      if (!fork_spare())
        return;
  }

  bool fork_spare() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
      return false;
    // The holder's pipe: none with a zero teardown_delay, nor without a descriptor to spare
    // (the node works the same, its memory freed as it dies).
    int hold[2] = {-1, -1};
    if (opts_.teardown_delay.count() > 0 && ::pipe2(hold, O_CLOEXEC) != 0)
      hold[0] = hold[1] = -1;
    auto self = ::getpid();
    auto pid = ::fork();
    if (pid < 0) {
      ::close(sv[0]);
      ::close(sv[1]);
      ::close(hold[0]);
      ::close(hold[1]);
      return false;
    }
    if (pid == 0) {
      // The node: keep nothing of the zygote's but its own control socket, so the root and
      // the zygote see EOF when the other goes, whatever the nodes hold.
      ::close(sv[0]);
      ::close(hold[1]);
      ::close(root_);
      ::close(epoll_);
      ::close(sigchld_);
      for (auto& [child_pid, c] : children_) {
        ::close(c.pidfd);
        ::close(c.control);
        ::close(c.hold);
      }
      for (auto& h : held_)
        ::close(h.hold);
      // If the zygote dies, the node hears SIGTERM: it cleans up (its segment) and exits.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != self)
        ::_exit(72);
      reset_signals();
      if (hold[0] >= 0)
        start_holder(hold[0]);
      node_context ctx{sv[1]};
      auto rc = entry_(ctx);
      ::_exit(rc);
    }
    ::close(sv[1]);
    ::close(hold[0]);
    auto pidfd = open_pidfd(pid);
    if (pidfd < 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ::close(sv[0]);
      ::close(hold[1]); // its holder, if it started, exits (the next SIGCHLD reaps it)
      return false;
    }
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    auto& c = children_[pid];
    c = child_proc{pid, pidfd, sv[0], false, 0, hold[1]};
    set_watched(c, true);
    return true;
  }

  void serve_root() {
    zygote_header h;
    std::string payload;
    auto rc = internal::recv_msg(root_, h, payload, nullptr);
    if (rc == 0 || (rc < 0 && errno != EBADMSG))
      shutdown_cluster(); // the root is gone, or closed the socket: take every node down
    if (rc < 0)
      return;
    if (h.kind == static_cast<uint32_t>(zygote_msg::hand_over)
        || h.kind == static_cast<uint32_t>(zygote_msg::collect)) {
      // Only an assigned node is handed over: a spare's death is the zygote's own business.
      auto i = children_.find(h.pid);
      if (i != children_.end() && i->second.assigned)
        set_watched(i->second, h.kind == static_cast<uint32_t>(zygote_msg::collect));
      return; // a node reaped already was reported already
    }
    if (h.kind != static_cast<uint32_t>(zygote_msg::spawn))
      return; // the root sends nothing else; ignore rather than act on garbage
    // The oldest spare first; fork one if none is ready (or all died meanwhile).
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto spare = oldest_spare();
      if (spare == nullptr && fork_spare())
        spare = oldest_spare();
      if (spare == nullptr)
        break;
      zygote_header assign;
      assign.kind = static_cast<uint32_t>(zygote_msg::assign);
      assign.slot = h.slot;
      assign.payload_size = h.payload_size;
      if (!internal::send_msg(spare->control, assign, payload)) {
        // That spare died before it could be assigned: drop it, SIGCHLD reaps it.
        spare->assigned = true;
        spare->slot = UINT32_MAX;
        continue;
      }
      spare->assigned = true;
      spare->slot = h.slot;
      quiet_until_ = std::chrono::steady_clock::now() + opts_.spare_delay;
      zygote_header reply;
      reply.kind = static_cast<uint32_t>(zygote_msg::spawned);
      reply.slot = h.slot;
      reply.pid = spare->pid;
      internal::send_msg(root_, reply, {}, spare->pidfd);
      return;
    }
    zygote_header reply;
    reply.kind = static_cast<uint32_t>(zygote_msg::spawn_failed);
    reply.slot = h.slot;
    reply.value = errno != 0 ? errno : EAGAIN;
    internal::send_msg(root_, reply, {});
  }

  child_proc* oldest_spare() {
    child_proc* result = nullptr;
    for (auto& [child_pid, c] : children_)
      if (!c.assigned && (result == nullptr || c.pid < result->pid))
        result = &c;
    return result;
  }

  // Reaps every child that has exited. A node is reported to the root (a spare is not: keep_spares
  // replaces it), and its holder let go `teardown_delay` later; a holder is only reaped.
  void reap() {
    for (;;) {
      siginfo_t info{};
      if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | __WALL) != 0 || info.si_pid == 0)
        return;
      auto i = children_.find(info.si_pid);
      if (i == children_.end()) {
        if (letting_go_ > 0)
          --letting_go_; // a holder
        continue;
      }
      set_watched(i->second, false);
      auto c = i->second;
      ::close(c.pidfd);
      ::close(c.control);
      children_.erase(i);
      if (c.hold >= 0)
        held_.push_back({std::chrono::steady_clock::now() + opts_.teardown_delay, c.hold});
      if (!c.assigned || c.slot == UINT32_MAX)
        continue;
      zygote_header report;
      report.kind = static_cast<uint32_t>(zygote_msg::exited);
      report.slot = c.slot;
      report.pid = c.pid;
      report.value = info.si_status;
      report.flags = info.si_code == CLD_EXITED ? 0 : 1;
      internal::send_msg(root_, report, {});
    }
  }

  // Waits up to `deadline` for SIGCHLD, then reaps.
  void reap_until(std::chrono::steady_clock::time_point deadline) {
    auto left = until(deadline, std::chrono::steady_clock::now());
    pollfd p{sigchld_, POLLIN, 0};
    if (left > 0)
      ::poll(&p, 1, left);
    signalfd_siginfo si;
    while (::read(sigchld_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      // drained: a SIGCHLD after this makes it readable again
    }
    reap();
  }

  [[noreturn]] void shutdown_cluster() {
    for (auto& [child_pid, c] : children_)
      ::kill(c.pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + opts_.grace;
    while (!children_.empty() && std::chrono::steady_clock::now() < deadline)
      reap_until(deadline);
    for (auto& [child_pid, c] : children_) {
      ::kill(c.pid, SIGKILL);
      siginfo_t info{};
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd), &info, WEXITED);
      ::close(c.hold);
    }
    // Let every holder go now, and reap them (each frees its node's memory as it exits): a
    // holder left to a parent that does not reap would stay a zombie.
    for (auto& h : held_)
      ::close(h.hold);
    held_.clear();
    deadline = std::chrono::steady_clock::now() + opts_.grace;
    siginfo_t info{};
    while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0
           && std::chrono::steady_clock::now() < deadline)
      reap_until(deadline);
    if (opts_.on_cluster_exit)
      opts_.on_cluster_exit();
    ::_exit(0);
  }

  int root_;
  int epoll_ = -1;
  node_entry entry_;
  zygote_options opts_;
  std::map<pid_t, child_proc> children_; // by pid
  std::chrono::steady_clock::time_point quiet_until_{}; // no new spare before
  std::optional<std::chrono::steady_clock::time_point> sweep_at_; // reap holders then
  std::chrono::milliseconds sweep_delay_ = holder_sweep_delay; // since the last sweep
  size_t letting_go_ = 0; // holders let go and not reaped yet
  int sigchld_ = -1;
  std::deque<held_memory> held_; // by due time
};

} // namespace

// -- node side ------------------------------------------------------------------------------

caf::expected<assignment> node_context::await_assignment() {
  for (;;) {
    zygote_header h;
    std::string payload;
    auto rc = internal::recv_msg(fd_, h, payload, nullptr);
    if (rc == 0)
      return make_error(error::zygote_gone, "the zygote closed the control socket");
    if (rc < 0)
      return os_error("recvmsg");
    if (h.kind == static_cast<uint32_t>(zygote_msg::assign))
      return assignment{h.slot, std::move(payload)};
  }
}

std::string to_string(const node_exit& x) {
  if (!x.signaled)
    return "exited with code " + std::to_string(x.code);
  auto name = ::sigabbrev_np(x.code);
  return "killed by signal " + std::to_string(x.code)
         + (name != nullptr ? std::string{" (SIG"} + name + ")" : std::string{});
}

// -- root side ------------------------------------------------------------------------------

caf::expected<std::unique_ptr<zygote>> zygote::start(node_entry entry, zygote_options opts) {
  // Threads of an actor system that was just destroyed may still be in their last
  // instructions (CAF counts a detached actor's thread as done before it returns): give them
  // a moment to leave /proc/self/task before refusing.
  auto n = thread_count();
  for (int i = 0; n != 1 && i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
    n = thread_count();
  }
  if (n != 1)
    return make_error(error::invalid_argument, "zygote::start",
                      "the process has " + std::to_string(n)
                        + " threads; start the zygote before any thread (before the actor "
                          "system)");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return os_error("socketpair");
  std::fflush(nullptr); // or buffered output would be written twice
  auto pid = ::fork();
  if (pid < 0) {
    auto err = os_error("fork");
    ::close(sv[0]);
    ::close(sv[1]);
    return err;
  }
  if (pid == 0) {
    ::close(sv[0]);
    zygote_process proc{sv[1], std::move(entry), std::move(opts)};
    proc.run();
  }
  ::close(sv[1]);
  return std::unique_ptr<zygote>{new zygote(pid, sv[0])};
}

zygote::zygote(pid_t pid, int fd) : pid_(pid), fd_(fd) {
  reader_ = std::thread{[this] {
    caf::detail::set_thread_name("strata.zygote");
    read_loop();
  }};
}

zygote::~zygote() {
  // Closing our end tells the zygote to take the cluster down; the reader sees EOF.
  ::shutdown(fd_, SHUT_RDWR);
  reader_.join();
  ::close(fd_);
  ::waitpid(pid_, nullptr, 0);
}

void zygote::on_exit(std::function<void(const node_exit&)> handler) {
  std::lock_guard<std::mutex> guard{mtx_};
  exit_handler_ = std::move(handler);
}

caf::expected<node_process> zygote::spawn(uint32_t slot, std::string payload) {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<caf::expected<node_process>> result;
  spawn(slot, std::move(payload), [&](caf::expected<node_process> x) {
    std::lock_guard<std::mutex> guard{mtx};
    result = std::move(x);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> guard{mtx};
  cv.wait(guard, [&] { return result.has_value(); });
  return std::move(*result);
}

void zygote::spawn(uint32_t slot, std::string payload, spawn_handler done) {
  if (payload.size() > internal::max_zygote_payload) {
    done(make_error(error::invalid_argument, "payload", std::to_string(payload.size()) + " bytes"));
    return;
  }
  std::unique_lock<std::mutex> guard{mtx_};
  if (gone_) {
    guard.unlock();
    done(make_error(error::zygote_gone, "the zygote is gone"));
    return;
  }
  zygote_header h;
  h.kind = static_cast<uint32_t>(zygote_msg::spawn);
  h.slot = slot;
  h.payload_size = static_cast<uint32_t>(payload.size());
  if (!internal::send_msg(fd_, h, payload)) {
    auto err = make_error(error::zygote_gone, std::string{std::strerror(errno)});
    guard.unlock();
    done(std::move(err));
    return;
  }
  // The zygote answers requests in order, so replies match the queue's order.
  pending_.push_back(std::move(done));
}

void zygote::hand_over(pid_t pid) {
  tell(static_cast<uint32_t>(zygote_msg::hand_over), pid);
}

void zygote::collect(pid_t pid) {
  tell(static_cast<uint32_t>(zygote_msg::collect), pid);
}

void zygote::tell(uint32_t kind, pid_t pid) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (gone_)
    return;
  zygote_header h;
  h.kind = kind;
  h.pid = pid;
  (void)internal::send_msg(fd_, h, {}); // a zygote gone takes its nodes and reports with it
}

void zygote::read_loop() {
  for (;;) {
    zygote_header h;
    std::string payload;
    int fd = -1;
    auto rc = internal::recv_msg(fd_, h, payload, &fd);
    if (rc <= 0 && !(rc < 0 && errno == EBADMSG))
      break;
    if (rc < 0)
      continue;
    auto kind = static_cast<zygote_msg>(h.kind);
    std::unique_lock<std::mutex> guard{mtx_};
    if (kind == zygote_msg::exited) {
      auto handler = exit_handler_;
      guard.unlock();
      if (handler)
        handler(node_exit{h.pid, h.slot, h.flags != 0, h.value});
      continue;
    }
    if (pending_.empty()) {
      if (fd >= 0)
        ::close(fd);
      continue;
    }
    auto done = std::move(pending_.front());
    pending_.pop_front();
    guard.unlock();
    if (kind == zygote_msg::spawned && fd >= 0)
      done(node_process{h.pid, h.slot, fd});
    else
      done(make_error(error::system_error, "spawn node", std::string{std::strerror(h.value)}));
  }
  std::deque<spawn_handler> orphans;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    gone_ = true;
    orphans.swap(pending_);
  }
  for (auto& done : orphans)
    done(make_error(error::zygote_gone, "the zygote is gone"));
}

} // namespace strata::nodes
