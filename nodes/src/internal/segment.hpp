#pragma once

// A named POSIX shared-memory segment mapped into this process, through Boost.Interprocess.
// This is the only place that talks to Boost: its exceptions stop here and become errors.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/interprocess/mapped_region.hpp>
#include <caf/expected.hpp>

namespace strata::nodes::internal {

/// A mapping of a whole segment. The owner's instance removes the name when destroyed; the
/// mapping itself lives until every process has unmapped it.
class segment {
public:
  /// Creates `name` (mode 0600) with `size` zero bytes, fully backed by memory, and maps it.
  /// tmpfs allocates pages lazily, and touching a page it cannot allocate raises SIGBUS, so the
  /// pages are allocated here (`posix_fallocate`), where a full /dev/shm is an error.
  /// @returns `segment_exists` if the name is taken, `system_error` if a call fails.
  [[nodiscard]] static caf::expected<std::unique_ptr<segment>> create(const std::string& name,
                                                                      uint64_t size);

  /// Opens and maps the existing segment `name`, read-write, all of it.
  /// @returns `segment_not_found`, `invalid_segment` if it is smaller than `min_size`, or
  /// `system_error`.
  [[nodiscard]] static caf::expected<std::unique_ptr<segment>> open(const std::string& name,
                                                                    uint64_t min_size);

  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;
  ~segment();

  /// First byte of the mapping.
  char* base() const noexcept {
    return static_cast<char*>(region_.get_address());
  }

  /// Bytes mapped (the segment's size when it was mapped).
  uint64_t size() const noexcept {
    return region_.get_size();
  }

  /// Gives the segment the name `new_name`, replacing a segment of that name (an atomic
  /// rename in /dev/shm: peers opening `new_name` see the old segment or this one, never
  /// none). Owner only. @returns `system_error` if the rename fails.
  [[nodiscard]] caf::error rename(const std::string& new_name);

  /// The segment's name (without the leading slash).
  const std::string& name() const noexcept {
    return name_;
  }

private:
  segment(std::string name, boost::interprocess::mapped_region region, bool owner) noexcept;

  std::string name_;
  boost::interprocess::mapped_region region_;
  bool owner_; // removes name_ on destruction
};

/// Removes the name of a segment; processes that have it mapped keep their mapping.
/// @returns whether a segment of that name existed and was removed. @threadsafe
bool remove_segment(const std::string& name) noexcept;

/// Reads the owner's pid from the header of segment `name`.
/// @returns nullopt when the segment is not recognisably a strata inbox (too small, no magic:
/// e.g. its creator died before publishing the header), or `system_error`/`segment_not_found`.
/// @threadsafe
[[nodiscard]] caf::expected<std::optional<int32_t>> read_owner_pid(const std::string& name);

/// Returns whether process `pid` exists: `kill(pid, 0)` succeeds or fails with EPERM.
/// Treats pids <= 0 as existing, so that a garbage pid never makes us remove a segment.
/// @threadsafe
bool process_exists(int32_t pid) noexcept;

} // namespace strata::nodes::internal
