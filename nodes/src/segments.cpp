#include "strata/nodes/segments.hpp"

#include <filesystem>
#include <system_error>

#include "strata/nodes/error.hpp"

#include "internal/segment.hpp"

namespace strata::nodes {

namespace {

// Where Linux (glibc's shm_open) keeps POSIX shared-memory names.
constexpr const char* shm_directory = "/dev/shm";

constexpr std::string_view segment_prefix = "strata-";

} // namespace

std::string segment_name(const cluster_token& token, uint32_t node_index) {
  return std::string{segment_prefix} + to_hex(token) + "-" + std::to_string(node_index);
}

caf::expected<std::vector<std::string>> remove_stale_segments() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it{shm_directory, ec};
  if (ec)
    return make_error(error::system_error, "list", std::string{shm_directory}, ec.message());
  std::vector<std::string> removed;
  for (; it != fs::directory_iterator{}; it.increment(ec)) {
    if (ec)
      return make_error(error::system_error, "list", std::string{shm_directory}, ec.message());
    auto name = it->path().filename().string();
    if (name.compare(0, segment_prefix.size(), segment_prefix) != 0)
      continue;
    // Unreadable (another user's), vanished meanwhile, or not a published strata header:
    // nothing to decide on, so leave it.
    auto pid = internal::read_owner_pid(name);
    if (!pid || !*pid)
      continue;
    if (!internal::process_exists(**pid) && internal::remove_segment(name))
      removed.push_back(std::move(name));
  }
  return removed;
}

void remove_cluster_segments(const cluster_token& token) {
  namespace fs = std::filesystem;
  auto prefix = std::string{segment_prefix} + to_hex(token) + "-";
  std::error_code ec;
  for (fs::directory_iterator it{shm_directory, ec}, end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0)
      internal::remove_segment(name);
  }
}

} // namespace strata::nodes
