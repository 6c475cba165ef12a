#include "strata/nodes/cluster_token.hpp"

#include <cerrno>
#include <sys/random.h>

#include "strata/nodes/error.hpp"

#include "internal/errno_text.hpp"

namespace strata::nodes {

caf::expected<cluster_token> make_cluster_token() {
  cluster_token result;
  size_t filled = 0;
  while (filled < cluster_token::size) {
    auto n = ::getrandom(result.bytes.data() + filled, cluster_token::size - filled, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return make_error(error::system_error, "getrandom", internal::errno_text(errno));
    }
    filled += static_cast<size_t>(n);
  }
  return result;
}

std::string to_hex(const cluster_token& token) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(cluster_token::size * 2);
  for (auto byte : token.bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 0x0f];
  }
  return out;
}

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

caf::expected<cluster_token> parse_cluster_token(std::string_view hex) {
  if (hex.size() != cluster_token::size * 2)
    return make_error(error::invalid_argument, "cluster token: expected 32 hex digits",
                      std::string{hex});
  cluster_token result;
  for (size_t i = 0; i < cluster_token::size; ++i) {
    auto hi = hex_value(hex[2 * i]);
    auto lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return make_error(error::invalid_argument, "cluster token: not a hex digit",
                        std::string{hex});
    result.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return result;
}

} // namespace strata::nodes
