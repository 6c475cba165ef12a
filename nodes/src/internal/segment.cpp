#include "internal/segment.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <utility>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include "strata/nodes/error.hpp"

#include "internal/errno_text.hpp"
#include "internal/shm_layout.hpp"

namespace bip = boost::interprocess;

namespace strata::nodes::internal {

namespace {

caf::error from_exception(const char* what, const std::string& name,
                          const bip::interprocess_exception& e) {
  switch (e.get_error_code()) {
    case bip::already_exists_error: return make_error(error::segment_exists, name);
    case bip::not_found_error: return make_error(error::segment_not_found, name);
    default: return make_error(error::system_error, std::string{what}, name, std::string{e.what()});
  }
}

// Offset of `magic` and `owner_pid` in every layout version (see shm_layout.hpp).
constexpr uint64_t identity_size = offsetof(segment_header_data, owner_pid) + sizeof(int32_t);

} // namespace

segment::segment(std::string name, bip::mapped_region region, bool owner) noexcept
  : name_(std::move(name)), region_(std::move(region)), owner_(owner) {
  // nop
}

caf::error segment::rename(const std::string& new_name) {
  // glibc's shm_open keeps POSIX shared-memory names as files in /dev/shm.
  auto from = "/dev/shm/" + name_;
  auto to = "/dev/shm/" + new_name;
  if (::rename(from.c_str(), to.c_str()) != 0)
    return make_error(error::system_error, "rename", from, to, std::string{std::strerror(errno)});
  name_ = new_name;
  return caf::none;
}

segment::~segment() {
  if (owner_)
    remove_segment(name_);
}

caf::expected<std::unique_ptr<segment>> segment::create(const std::string& name, uint64_t size) {
  bool created = false;
  try {
    bip::permissions perm;
    perm.set_permissions(0600); // Boost applies it with fchmod, so the umask cannot widen it
    bip::shared_memory_object shm{bip::create_only, name.c_str(), bip::read_write, perm};
    created = true;
    shm.truncate(static_cast<bip::offset_t>(size));
    auto fd = shm.get_mapping_handle().handle;
    if (auto rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); rc != 0) {
      remove_segment(name);
      return make_error(error::system_error, "posix_fallocate", name, errno_text(rc));
    }
    bip::mapped_region region{shm, bip::read_write};
    return std::unique_ptr<segment>{new segment(name, std::move(region), true)};
  } catch (const bip::interprocess_exception& e) {
    if (created)
      remove_segment(name);
    return from_exception("create", name, e);
  } catch (const std::exception& e) {
    if (created)
      remove_segment(name);
    return make_error(error::system_error, "create", name, std::string{e.what()});
  }
}

caf::expected<std::unique_ptr<segment>> segment::open(const std::string& name, uint64_t min_size) {
  try {
    bip::shared_memory_object shm{bip::open_only, name.c_str(), bip::read_write};
    bip::offset_t size = 0;
    if (!shm.get_size(size))
      return make_error(error::system_error, "fstat", name);
    // Touching bytes past the end of the file raises SIGBUS: check before mapping.
    if (size < 0 || static_cast<uint64_t>(size) < min_size)
      return make_error(error::invalid_segment, name, "truncated: size " + std::to_string(size));
    bip::mapped_region region{shm, bip::read_write};
    return std::unique_ptr<segment>{new segment(name, std::move(region), false)};
  } catch (const bip::interprocess_exception& e) {
    return from_exception("open", name, e);
  } catch (const std::exception& e) {
    return make_error(error::system_error, "open", name, std::string{e.what()});
  }
}

bool remove_segment(const std::string& name) noexcept {
  try {
    return bip::shared_memory_object::remove(name.c_str());
  } catch (...) {
    return false;
  }
}

caf::expected<std::optional<int32_t>> read_owner_pid(const std::string& name) {
  try {
    bip::shared_memory_object shm{bip::open_only, name.c_str(), bip::read_only};
    bip::offset_t size = 0;
    if (!shm.get_size(size))
      return make_error(error::system_error, "fstat", name);
    if (size < 0 || static_cast<uint64_t>(size) < identity_size)
      return std::optional<int32_t>{};
    bip::mapped_region region{shm, bip::read_only, 0, identity_size};
    auto* bytes = static_cast<const char*>(region.get_address());
    auto* magic = reinterpret_cast<const std::atomic<uint64_t>*>(bytes);
    // SYNC POINT READ: pairs with the release store of `magic` in inbox::create, after which
    // owner_pid is written.
    if (magic->load(std::memory_order_acquire) != segment_magic)
      return std::optional<int32_t>{};
    int32_t pid = 0;
    std::memcpy(&pid, bytes + offsetof(segment_header_data, owner_pid), sizeof(pid));
    return std::optional<int32_t>{pid};
  } catch (const bip::interprocess_exception& e) {
    return from_exception("open", name, e);
  } catch (const std::exception& e) {
    return make_error(error::system_error, "open", name, std::string{e.what()});
  }
}

bool process_exists(int32_t pid) noexcept {
  // kill(0, ...) and kill(-n, ...) address process groups: never ask about those.
  if (pid <= 0)
    return true;
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

} // namespace strata::nodes::internal
