#pragma once

// The zygote's little protocol: one SOCK_SEQPACKET datagram per message, a fixed header and
// an optional payload, plus at most one file descriptor (SCM_RIGHTS). Sizes are checked on
// receipt: a truncated or oversized datagram is an error, never a partial read.

#include <cstdint>
#include <string>

namespace strata::nodes::internal {

enum class zygote_msg : uint32_t {
  /// root -> zygote: start a node for `slot`, payload = the node's assignment payload.
  spawn = 1,
  /// zygote -> root: the node's `pid`, with a pidfd attached.
  spawned,
  /// zygote -> root: could not start a node; `value` is the errno.
  spawn_failed,
  /// zygote -> root: a started node ended; `value` is the code or signal, `flags` 1 if a signal.
  exited,
  /// zygote -> node: your slot and payload.
  assign,
  /// root -> zygote: stop watching node `pid`, whose death the root learns of by itself.
  hand_over,
  /// root -> zygote: report node `pid` (handed over) once it has ended.
  collect,
};

struct zygote_header {
  uint32_t kind = 0;
  uint32_t slot = 0;
  int32_t pid = 0;
  int32_t value = 0;
  uint32_t flags = 0;
  uint32_t payload_size = 0;
};

/// The largest payload a message carries.
constexpr uint32_t max_zygote_payload = 64 * 1024;

/// Sends one message (and `fd` if >= 0). @returns false with errno set on failure.
bool send_msg(int sock, const zygote_header& h, const std::string& payload, int fd = -1);

/// Receives one message; `*fd` gets an attached descriptor (close-on-exec) or -1.
/// @returns 1 on success, 0 on EOF, -1 on a failure or a malformed datagram (errno set;
/// EBADMSG for a malformed one).
int recv_msg(int sock, zygote_header& h, std::string& payload, int* fd);

} // namespace strata::nodes::internal
