#pragma once

// A two-node cluster for the transport's tests: the test process (node 0) forks node 1 at the
// start of each test case, before any thread exists; each side then builds its own config,
// actor system (with io::middleman, for distinct node ids) and transport, and they exchange
// readiness and the id of node 1's server actor through pipes.

#include <cstring>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "strata/nodes/pidfd.hpp"
#include "strata/nodes/transport.hpp"

#include "shm_test_support.hpp"

namespace strata::nodes::test {

using add_atom = caf::atom_constant<caf::atom("add")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using held_atom = caf::atom_constant<caf::atom("held")>;

/// A type with `inspect` that no test announces with `add_message_type`.
struct unannounced {
  int value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unannounced& x) {
  return f(x.value);
}

/// The exit reason of node 1's server after `stop_atom`.
inline caf::error test_exit_reason() {
  return make_error(error::invalid_argument, "the test asked the server to stop");
}

/// Config of both nodes: io::middleman for the node id, one scheduler thread.
struct node_config : caf::actor_system_config {
  node_config() {
    load<caf::io::middleman>();
    set("scheduler.max-threads", 1);
    set("scheduler.policy", caf::atom("sharing"));
  }
};

/// Node 1's server: adds, pings back a handle it was given, stops with `test_exit_reason`,
/// and holds a request forever.
inline caf::behavior server(caf::event_based_actor* self) {
  return {
    [](add_atom, int x, int y) { return x + y; },
    [self](ping_atom, const caf::actor& other) { self->send(other, pong_atom::value, 7); },
    [self](stop_atom) { self->quit(test_exit_reason()); },
    [self](hold_atom, const caf::actor& observer) {
      self->send(observer, held_atom::value);
      return self->make_response_promise<int>(); // never delivered
    },
  };
}

/// Spawns the function actor `fun(caf::event_based_actor*)`. Never `sys.spawn(fun)` alone: CAF
/// 0.17 keeps an empty argument list as a null shared_ptr<tuple<>> and binds a reference through
/// it when the actor starts (init_fun_factory.hpp), which UBSan reports. One unused argument
/// gives CAF a real tuple.
template <class F>
caf::actor spawn_fun(caf::actor_system& sys, F fun) {
  return sys.spawn([fun](caf::event_based_actor* self, int) { return fun(self); }, 0);
}

inline void write_all(int fd, const void* data, size_t size) {
  REQUIRE(::write(fd, data, size) == static_cast<ssize_t>(size));
}

/// Reads exactly `size` bytes; false on EOF.
inline bool read_all(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    auto n = ::read(fd, p, size);
    if (n <= 0)
      return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

inline transport_options node_options(const cluster_token& token, uint32_t index) {
  transport_options opts;
  opts.token = token;
  opts.node_index = index;
  opts.ring_count = 2;
  opts.ring_capacity = uint64_t{1} << 16;
  return opts;
}

/// Node 1's life: transport, server, handshake, then wait for the parent's word to exit.
inline int run_node1(const cluster_token& token, int to_parent, int from_parent) {
  // A test process that crashes must not leave node 1 behind.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  node_config cfg;
  caf::actor_system sys{cfg};
  auto t = transport::create(sys, node_options(token, 1));
  if (!t)
    return 10;
  auto srv = spawn_fun(sys, server);
  sys.registry().put(srv.id(), caf::actor_cast<caf::strong_actor_ptr>(srv));
  auto aid = srv.id();
  if (::write(to_parent, &aid, sizeof(aid)) != sizeof(aid))
    return 11;
  char go = 0;
  if (!read_all(from_parent, &go, 1))
    return 12;
  if (!(*t)->connect(0, std::chrono::seconds{10}))
    return 13;
  char quit = 0;
  (void)read_all(from_parent, &quit, 1); // EOF or a byte: exit
  // The registry holds the server, so ~actor_system would wait for it forever.
  caf::anon_send_exit(srv, caf::exit_reason::user_shutdown);
  srv = nullptr;
  t->reset();
  return 0;
}

/// The parent's side: node 1 forked, transports connected, a proxy of node 1's server.
class two_nodes {
public:
  two_nodes() : token_(fresh_token()) {
    int up[2];
    int down[2];
    REQUIRE(::pipe(up) == 0);
    REQUIRE(::pipe(down) == 0);
    pid_ = fork_child([&] {
      ::close(up[0]);
      ::close(down[1]);
      return run_node1(token_, up[1], down[0]);
    });
    ::close(up[1]);
    ::close(down[0]);
    from_child_ = up[0];
    to_child_ = down[1];
    caf::actor_id aid = 0;
    REQUIRE(read_all(from_child_, &aid, sizeof(aid)));
    sys_.emplace(cfg_);
    auto t = transport::create(*sys_, node_options(token_, 0));
    REQUIRE(t);
    transport_ = std::move(*t);
    char go = 1;
    write_all(to_child_, &go, 1);
    auto nid = transport_->connect(1, std::chrono::seconds{10});
    if (!nid)
      FAIL("connect: " << text(nid.error()));
    REQUIRE(*nid != sys_->node());
    auto srv = transport_->remote_actor(1, aid);
    REQUIRE(srv);
    server_ = *srv;
  }

  ~two_nodes() {
    server_ = nullptr;
    if (pid_ > 0) {
      ::close(to_child_); // node 1 exits
      CHECK(wait_child(pid_) == 0);
    }
    transport_.reset();
    sys_.reset();
    ::close(from_child_);
    (void)remove_stale_segments();
    CHECK(segments_of(token_).empty());
  }

  two_nodes(const two_nodes&) = delete;
  two_nodes& operator=(const two_nodes&) = delete;

  caf::actor_system& sys() {
    return *sys_;
  }

  transport& net() {
    return *transport_;
  }

  const caf::actor& server() const {
    return server_;
  }

  /// SIGKILLs node 1, waits for its pidfd and reports the loss to the transport, as the
  /// node watcher will.
  void kill_node1() {
    int fd = open_pidfd(pid_);
    REQUIRE(fd >= 0);
    REQUIRE(::kill(pid_, SIGKILL) == 0);
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10000) == 1);
    ::close(fd);
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    REQUIRE(WIFSIGNALED(status));
    pid_ = -1;
    transport_->peer_lost(1, make_error(error::node_down, "killed by signal 9 (SIGKILL)"));
  }

private:
  cluster_token token_;
  pid_t pid_ = -1;
  int from_child_ = -1;
  int to_child_ = -1;
  node_config cfg_;
  std::optional<caf::actor_system> sys_;
  std::unique_ptr<transport> transport_;
  caf::actor server_;
};

} // namespace strata::nodes::test
