#pragma once

#include <cstdint>
#include <optional>
#include <sys/types.h>

namespace strata::nodes::internal {

/// What `/proc/<pid>/stat` tells about a process (proc(5)).
struct proc_stat {
  /// Field 4: the parent's pid.
  pid_t parent = 0;
  /// Field 22: when the process started, in clock ticks after boot. With the pid, it names
  /// one process: a pid reused by another process comes with another start time.
  uint64_t start_time = 0;
  /// Field 52: the exit status in waitpid(2)'s form, set as the process begins to exit (0 for
  /// a running process, and for one exiting with code 0).
  int exit_code = 0;
};

/// Reads `/proc/<pid>/stat`. @returns nothing if the process is gone (reaped) or the file
/// does not parse. @threadsafe
std::optional<proc_stat> read_proc_stat(pid_t pid);

/// Opens `/proc/<pid>/stat` for `read_proc_stat_fd`: one system call instead of three per
/// read, and the descriptor stays bound to that process (once it is reaped, reads fail; a
/// reused pid is another process). @returns -1 on failure.
int open_proc_stat(pid_t pid);

/// Reads the file `open_proc_stat` opened, from its start. @threadsafe
std::optional<proc_stat> read_proc_stat_fd(int fd);

} // namespace strata::nodes::internal
