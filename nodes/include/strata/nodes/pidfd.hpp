#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace strata::nodes {

/// `pidfd_open(2)`: a file descriptor that becomes readable when process `pid` ends.
/// (glibc 2.36's <sys/pidfd.h> declares it without C linkage, so C++ cannot link against it;
/// this calls the system call directly.) @returns -1 with errno set on failure.
inline int open_pidfd(pid_t pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

/// `pidfd_send_signal(2)`: sends `sig` to the process of `pidfd` (never to a process that
/// reused its pid). @returns -1 with errno set on failure.
inline int signal_pidfd(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U));
}

} // namespace strata::nodes
