#pragma once

#include <cstring>
#include <string>

namespace strata::nodes::internal {

/// The OS's message for error number `err`. @threadsafe (unlike std::strerror)
inline std::string errno_text(int err) {
  char buf[128];
  // g++ defines _GNU_SOURCE: this is GNU strerror_r, which returns the message (in buf or in a
  // static string) instead of an error code.
  return std::string{::strerror_r(err, buf, sizeof(buf))};
}

} // namespace strata::nodes::internal
