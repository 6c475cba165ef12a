#include "internal/proc_stat.hpp"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <utility>

namespace strata::nodes::internal {

proc_stat_file::proc_stat_file(pid_t pid) {
  auto path = "/proc/" + std::to_string(pid) + "/stat";
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

proc_stat_file::proc_stat_file(proc_stat_file&& other) noexcept
  : fd_(std::exchange(other.fd_, -1)) {
  // nop
}

proc_stat_file& proc_stat_file::operator=(proc_stat_file&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

proc_stat_file::~proc_stat_file() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::optional<proc_stat> proc_stat_file::read() const {
  if (fd_ < 0)
    return std::nullopt;
  char buf[1024];
  auto n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
  if (n <= 0)
    return std::nullopt;
  buf[n] = '\0';
  // Field 2, the command, is in parentheses and may hold anything, ')' included: the fields
  // we want come after the last ')'. Field 3 follows it.
  std::string line{buf, static_cast<size_t>(n)};
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  proc_stat result;
  int field = 2;
  bool start_found = false;
  bool exit_found = false;
  for (size_t pos = close + 1; pos < line.size();) {
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    if (pos >= line.size() || line[pos] == '\n')
      break;
    auto end = line.find_first_of(" \n", pos);
    if (end == std::string::npos)
      end = line.size();
    ++field;
    auto token = line.substr(pos, end - pos);
    if (field == 4) {
      result.parent = static_cast<pid_t>(std::strtol(token.c_str(), nullptr, 10));
    } else if (field == 22) {
      result.start_time = std::strtoull(token.c_str(), nullptr, 10);
      start_found = true;
    } else if (field == 52) {
      result.exit_code = static_cast<int>(std::strtol(token.c_str(), nullptr, 10));
      exit_found = true;
    }
    pos = end;
  }
  if (!start_found || !exit_found)
    return std::nullopt;
  return result;
}

} // namespace strata::nodes::internal
