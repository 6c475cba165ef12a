#include "internal/zygote_wire.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace strata::nodes::internal {

bool send_msg(int sock, const zygote_header& h, const std::string& payload, int fd) {
  if (payload.size() > max_zygote_payload || payload.size() != h.payload_size) {
    errno = EINVAL;
    return false;
  }
  iovec iov[2];
  iov[0].iov_base = const_cast<zygote_header*>(&h);
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = const_cast<char*>(payload.data());
  iov[1].iov_len = payload.size();
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = payload.empty() ? 1 : 2;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    auto cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  for (;;) {
    auto n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0)
      return static_cast<size_t>(n) == sizeof(h) + payload.size();
    if (errno != EINTR)
      return false;
  }
}

int recv_msg(int sock, zygote_header& h, std::string& payload, int* fd) {
  if (fd != nullptr)
    *fd = -1;
  std::vector<char> buf(max_zygote_payload);
  iovec iov[2];
  iov[0].iov_base = &h;
  iov[0].iov_len = sizeof(h);
  iov[1].iov_base = buf.data();
  iov[1].iov_len = buf.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n == 0)
    return 0;
  if (n < 0)
    return -1;
  int received_fd = -1;
  for (auto cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg))
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS
        && cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
      std::memcpy(&received_fd, CMSG_DATA(cmsg), sizeof(int));
  auto size = static_cast<size_t>(n);
  bool malformed = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || size < sizeof(h)
                   || h.payload_size > max_zygote_payload || size != sizeof(h) + h.payload_size;
  if (malformed) {
    if (received_fd >= 0)
      ::close(received_fd);
    errno = EBADMSG;
    return -1;
  }
  payload.assign(buf.data(), h.payload_size);
  if (fd != nullptr)
    *fd = received_fd;
  else if (received_fd >= 0)
    ::close(received_fd);
  return 1;
}

} // namespace strata::nodes::internal
