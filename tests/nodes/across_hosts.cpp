// Two clusters connected the way clusters on two hosts are: through CAF's own middleman (BASP
// over TCP, `io::publish` / `io::remote_actor`), here on loopback. Cluster B (a forked
// process, a strata system with process placement on) publishes its supervisor; cluster A
// (this process) drives it with the ordinary supervisor API, requests its child, monitors
// it, and watches B's supervisor restart it.

#include <sys/prctl.h>

#include <caf/io/all.hpp>

#include "process_test_support.hpp"
#include "shm_test_support.hpp"

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

// Cluster B: publishes its supervisor on an ephemeral loopback port, reports the port on
// `port_fd`, and runs until `quit_fd` reaches EOF.
int run_cluster_b(int port_fd, int quit_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  strata::config cfg;
  cfg.add_worker("victim", victim);
  install(cfg);
  strata::system sys{cfg};
  if (sys.provider_error())
    return 10;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child_spec{"svc", start("victim", 1)}};
  auto sup = sys.start_supervisor("b", spec);
  if (!sup)
    return 11;
  auto port = caf::io::publish(*sup, 0, "127.0.0.1");
  if (!port)
    return 12;
  uint16_t p = *port;
  if (::write(port_fd, &p, sizeof(p)) != sizeof(p))
    return 13;
  char c;
  (void)::read(quit_fd, &c, 1);
  return 0;
}

} // namespace

TEST_CASE("a cluster drives another cluster's supervisor and children over CAF's middleman",
          "[nodes][hosts]") {
  int port_pipe[2];
  int quit_pipe[2];
  REQUIRE(::pipe(port_pipe) == 0);
  REQUIRE(::pipe(quit_pipe) == 0);
  auto b = fork_child([&] {
    ::close(port_pipe[0]);
    ::close(quit_pipe[1]);
    return run_cluster_b(port_pipe[1], quit_pipe[0]);
  });
  child_guard guard{b};
  ::close(port_pipe[1]);
  ::close(quit_pipe[0]);
  uint16_t port = 0;
  REQUIRE(::read(port_pipe[0], &port, sizeof(port)) == sizeof(port));
  {
    cluster a; // cluster A: this process, with its own zygote
    auto remote_sup = caf::io::remote_actor(a.sys->actors(), "127.0.0.1", port);
    REQUIRE(remote_sup);
    // The supervisor API works on a supervisor on the other host.
    auto svc = a.child_of(*remote_sup, "svc");
    REQUIRE(svc != nullptr);
    CHECK(svc.node() != a.sys->actors().node());
    int sum = 0;
    (*a.self)
      ->request(svc, std::chrono::seconds{10}, add_atom::value, 20, 22)
      .receive([&](int x) { sum = x; }, [](caf::error& err) { FAIL(nodes::to_text(err)); });
    CHECK(sum == 42);
    auto b_pid = a.pid_of(svc);
    CHECK(b_pid == b);
    // A monitor across hosts sees the child die; B's supervisor restarts it.
    (*a.self)->monitor(svc);
    caf::anon_send(svc, fault_atom::value, static_cast<int>(fault::exception));
    std::optional<caf::down_msg> down;
    (*a.self)->receive([&](caf::down_msg& x) { down = std::move(x); },
                       caf::after(std::chrono::seconds{20}) >> [] { FAIL("no down_msg"); });
    REQUIRE(down);
    CHECK(down->source == svc.address());
    CHECK(nodes::to_text(down->reason).find("crash requested") != std::string::npos);
    // The restarted child, found through the same remote supervisor, answers.
    caf::actor again;
    for (int i = 0; i < 1000 && (again == nullptr || again == svc); ++i) {
      auto children = which_children(*remote_sup);
      REQUIRE(children);
      again = children->front().handle;
    }
    REQUIRE(again != nullptr);
    CHECK(again != svc);
    CHECK(a.pid_of(again) == b);
  }
  ::close(quit_pipe[1]);
  CHECK(guard.wait() != 200);
  ::close(port_pipe[0]);
}
