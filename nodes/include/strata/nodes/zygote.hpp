#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace strata::nodes {

/// What a node is told when a spare becomes a real node: the cluster slot it serves and an
/// opaque payload (the transport's start-up data).
struct assignment {
  uint32_t slot = 0;
  std::string payload;
};

/// A node process's link to its zygote. Owner: the node's main thread.
class node_context {
public:
  explicit node_context(int control_fd) noexcept : fd_(control_fd) {
    // nop
  }

  /// Blocks until the zygote assigns this node a slot: a spare calls it once it has built its
  /// actor system. @returns `error::zygote_gone` if the zygote died first (the node should
  /// then clean up and exit).
  [[nodiscard]] caf::expected<assignment> await_assignment();

  /// The control socket; EOF on it means the zygote is gone.
  int control_fd() const noexcept {
    return fd_;
  }

private:
  int fd_;
};

/// The code a node process runs, in a process freshly forked from the zygote; its result is
/// the process's exit code. It builds its actor system, then calls `await_assignment`.
using node_entry = std::function<int(node_context&)>;

/// How a node process ended, as `waitid` reported it to the zygote.
struct node_exit {
  pid_t pid = 0;
  uint32_t slot = 0;
  /// Killed by a signal (`code` is the signal number), else exited (`code` is the exit code).
  bool signaled = false;
  int code = 0;
};

/// "exited with code 1", "killed by signal 9 (SIGKILL)".
std::string to_string(const node_exit& x);

/// A node process started by the zygote.
struct node_process {
  pid_t pid = 0;
  uint32_t slot = 0;
  /// A pidfd for the node (owned by the caller: close it), readable once the node is gone.
  int pidfd = -1;
};

/// Tuning of a zygote.
struct zygote_options {
  /// Warm spares kept ready: forked processes that have built their actor system and wait for
  /// an assignment, so a node starts without paying for fork and CAF start-up.
  size_t spares = 1;
  /// How long after assigning a spare the zygote waits before forking its replacement, so
  /// that the new spare's start-up does not compete for CPU with the node just assigned.
  std::chrono::milliseconds spare_delay{5};
  /// How long a dead node's memory is kept before the kernel frees it. Freeing a process's
  /// memory occupies a CPU for milliseconds (for a small node: ~1.5 ms on a 2-vCPU VM), at
  /// once when it dies, without preemption on many kernels: just when its child is being
  /// restarted. So each node has a *holder* (`strata.hold` in `ps`), a process sharing its
  /// address space and nothing else, child of the zygote, that keeps the memory past the
  /// node's exit; the zygote lets it go this long after the node's exit. Zero: no holders,
  /// memory freed as a node dies.
  std::chrono::milliseconds teardown_delay{5};
  /// Descriptors (besides 0, 1 and 2) that the zygote and the nodes keep. It closes every
  /// other one it inherited from the root, so that no node holds a copy of the root's
  /// sockets or pipe ends after the root closed them.
  std::vector<int> keep_fds;
  /// When the root goes: time between SIGTERM and SIGKILL for nodes still alive.
  std::chrono::milliseconds grace{2000};
  /// Runs in the zygote after every node is gone because the root went (e.g. removes the
  /// cluster's segments). Must not use threads.
  std::function<void()> on_cluster_exit;
};

/// The node process factory: a process forked from the root while it is single-threaded,
/// which forks node processes (same binary, code and configuration already loaded) on request
/// and reports how they end. It lives as long as this object, or until the root dies, and
/// then takes every node with it.
class zygote {
public:
  /// Forks the zygote; `entry` is what every node runs.
  /// @returns `error::invalid_argument` if the process already has more than one thread
  /// (forking then could copy a lock held by another thread), `error::system_error` if a
  /// system call fails.
  [[nodiscard]] static caf::expected<std::unique_ptr<zygote>> start(node_entry entry,
                                                                    zygote_options opts = {});

  zygote(const zygote&) = delete;
  zygote& operator=(const zygote&) = delete;

  /// Closes the zygote's socket, which stops every node (SIGTERM, then SIGKILL after the
  /// grace period), and waits for the zygote to exit.
  ~zygote();

  /// Starts a node for `slot`, from a warm spare when one is ready, and passes it `payload`.
  /// @returns `error::zygote_gone` if the zygote died, `error::system_error` if it could not
  /// fork. @threadsafe
  [[nodiscard]] caf::expected<node_process> spawn(uint32_t slot, std::string payload = {});

  /// The result of an asynchronous `spawn`.
  using spawn_handler = std::function<void(caf::expected<node_process>)>;

  /// Same, without waiting: `done` gets the result on the zygote's reader thread (where it
  /// must not wait for another spawn). Errors as above; an oversized payload or a zygote
  /// already gone is reported by calling `done` at once, on the caller's thread. @threadsafe
  void spawn(uint32_t slot, std::string payload, spawn_handler done);

  /// Sets the function called, on an internal thread, for each started node that ends.
  /// Set it before the first `spawn`. @threadsafe
  void on_exit(std::function<void(const node_exit&)> handler);

  /// The caller now learns by itself when node `pid` dies (a node's liveness token does): the
  /// zygote stops watching it, and reports its end only once asked with `collect`. A watched
  /// node's death wakes the zygote at once, which then takes a CPU, on a small machine half
  /// of it, just when the death sets off work elsewhere (restarting the node's child).
  /// A node that ended already, or a pid that is not one of this zygote's nodes, is left as
  /// it is. @threadsafe
  void hand_over(pid_t pid);

  /// Asks for the report of node `pid`, handed over earlier: sent at once if it has ended,
  /// else when it does. A node never handed over is reported anyway. @threadsafe
  void collect(pid_t pid);

  /// The zygote's pid.
  pid_t pid() const noexcept {
    return pid_;
  }

private:
  zygote(pid_t pid, int fd);
  void read_loop();
  void tell(uint32_t kind, pid_t pid);

  pid_t pid_;
  int fd_; // our end of the zygote's socket
  std::mutex mtx_; // guards pending_, exit_handler_, gone_; spawn requests are
                   // sent and queued in order under it (the zygote answers in order)
  std::deque<spawn_handler> pending_;
  std::function<void(const node_exit&)> exit_handler_;
  bool gone_ = false;
  std::thread reader_; // reads replies and exit reports from the zygote
};

} // namespace strata::nodes
