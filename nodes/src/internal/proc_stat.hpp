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

} // namespace strata::nodes::internal
