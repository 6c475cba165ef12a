#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace strata::nodes {

/// A random token shared by the nodes of one cluster. It is part of every inbox segment's name
/// and is stored in the segment's header, so that a node never opens another cluster's segment
/// (e.g. a stale one from an earlier run) and names do not collide between clusters.
struct cluster_token {
  /// Length of a token in bytes.
  static constexpr size_t size = 16;

  /// The token's bytes.
  std::array<uint8_t, size> bytes{};

  /// Whether two tokens are the same.
  friend bool operator==(const cluster_token& x, const cluster_token& y) noexcept {
    return x.bytes == y.bytes;
  }

  /// Whether two tokens differ.
  friend bool operator!=(const cluster_token& x, const cluster_token& y) noexcept {
    return !(x == y);
  }
};

/// Draws a new token from the kernel's random source (`getrandom`).
/// @returns `system_error` if the kernel cannot provide random bytes. @threadsafe
[[nodiscard]] caf::expected<cluster_token> make_cluster_token();

/// Renders `token` as 32 lowercase hexadecimal digits. @threadsafe
std::string to_hex(const cluster_token& token);

/// Parses the 32 hexadecimal digits written by `to_hex` (e.g. passed to a node on its command
/// line). @returns `invalid_argument` for anything else. @threadsafe
[[nodiscard]] caf::expected<cluster_token> parse_cluster_token(std::string_view hex);

} // namespace strata::nodes
