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

/// `/proc/<pid>/stat`, kept open: each read is one system call instead of three, and the
/// file stays bound to that process (once it is reaped, reads fail; a reused pid is another
/// process, never misread as this one). Move-only; closes the file when destroyed.
class proc_stat_file {
public:
  proc_stat_file() = default;
  /// Opens the file of process `pid`; `is_open()` says whether that worked.
  explicit proc_stat_file(pid_t pid);
  proc_stat_file(proc_stat_file&& other) noexcept;
  proc_stat_file& operator=(proc_stat_file&& other) noexcept;
  ~proc_stat_file();

  bool is_open() const noexcept {
    return fd_ >= 0;
  }

  /// Reads the file from its start. @returns nothing if it is not open, its process was
  /// reaped, or it does not parse. @threadsafe
  std::optional<proc_stat> read() const;

private:
  int fd_ = -1;
};

} // namespace strata::nodes::internal
