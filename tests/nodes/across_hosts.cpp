// Two clusters connected the way clusters on two hosts are: through CAF's own middleman (BASP
// over TCP, `io::publish` / `io::remote_actor`), here on loopback. Cluster B (a forked
// process, a strata system with process placement on) publishes its supervisor; cluster A
// (this process) drives it with the ordinary supervisor API, requests its children, monitors
// and links to them, and watches B's supervisor restart them: children in B's root, and
// children in B's nodes, which B's root routes for (docs/design/nodes.md, "Across hosts").

#include <optional>
#include <sys/prctl.h>
#include <thread>

#include <caf/io/all.hpp>

#include "process_test_support.hpp"
#include "shm_test_support.hpp"

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

// Cluster B: publishes its supervisor, whose children "svc" and "peer" run with `where`
// placement, on an ephemeral loopback port, reports the port on `port_fd`, and runs until
// `quit_fd` reaches EOF.
int run_cluster_b(int port_fd, int quit_fd, placement where) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  strata::config cfg;
  cfg.add_worker("victim", victim);
  install(cfg);
  strata::system sys{cfg};
  if (sys.provider_error())
    return 10;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {child_spec{"svc", start("victim", 1)}, child_spec{"peer", start("victim", 2)}};
  for (auto& c : spec.children)
    c.placement = where;
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

// Cluster B in a forked process, with its port read and a way to end it.
struct cluster_b {
  explicit cluster_b(placement where) {
    REQUIRE(::pipe(port_pipe) == 0);
    REQUIRE(::pipe(quit_pipe) == 0);
    pid = fork_child([&] {
      ::close(port_pipe[0]);
      ::close(quit_pipe[1]);
      return run_cluster_b(port_pipe[1], quit_pipe[0], where);
    });
    guard.emplace(pid);
    ::close(port_pipe[1]);
    ::close(quit_pipe[0]);
    REQUIRE(::read(port_pipe[0], &port, sizeof(port)) == sizeof(port));
  }

  // Ends B and checks that it ended by itself.
  void stop() {
    ::close(quit_pipe[1]);
    CHECK(guard->wait() != 200);
    ::close(port_pipe[0]);
  }

  int port_pipe[2] = {-1, -1};
  int quit_pipe[2] = {-1, -1};
  pid_t pid = -1;
  std::optional<child_guard> guard;
  uint16_t port = 0;
};

// An actor of A linked to `target`: reports the reason of the exit the link brings to
// `report` as text, after it told `report` "linked" (the link is in place on the other
// side once an answer came back over the same way).
caf::behavior linked_watcher(caf::event_based_actor* self, caf::actor target, caf::actor report) {
  self->set_exit_handler([self, report](caf::exit_msg& msg) {
    self->send(report, nodes::to_text(msg.reason));
    self->quit();
  });
  self->link_to(target);
  self->request(target, std::chrono::seconds{10}, add_atom::value, 1, 1)
    .then([self, report](int) { self->send(report, std::string{"linked"}); },
          [self, report](caf::error& err) { self->send(report, nodes::to_text(err)); });
  return {[](int) {}};
}

// The next text message to `self`, or "none" after 20 s.
std::string next_text(caf::scoped_actor& self) {
  std::string text = "none";
  self->receive([&](std::string& x) { text = std::move(x); },
                caf::after(std::chrono::seconds{20}) >> [] {});
  return text;
}

// The next down_msg to `self`; fails the test after 20 s.
caf::down_msg next_down(caf::scoped_actor& self) {
  std::optional<caf::down_msg> down;
  self->receive([&](caf::down_msg& x) { down = std::move(x); },
                caf::after(std::chrono::seconds{20}) >> [] { FAIL("no down_msg"); });
  return std::move(*down);
}

// Child `id` of the remote supervisor once it is not `old` any more (restarted).
caf::actor restarted(cluster& a, const caf::actor& sup, const std::string& id,
                     const caf::actor& old) {
  for (int i = 0; i < 2000; ++i) {
    auto now = a.child_of(sup, id);
    if (now != nullptr && now != old)
      return now;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  FAIL("child " << id << " was not restarted");
  return {};
}

} // namespace

TEST_CASE("a cluster drives another cluster's supervisor and children over CAF's middleman",
          "[nodes][hosts]") {
  cluster_b remote{placement::task};
  auto b = remote.pid;
  auto port = remote.port;
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
  remote.stop();
}

TEST_CASE("a cluster uses the process children of another cluster as its own: requests, "
          "handles both ways, monitors, links, restarts",
          "[nodes][hosts]") {
  cluster_b remote{placement::process};
  {
    cluster a;
    auto& self = *a.self;
    auto remote_sup = caf::io::remote_actor(a.sys->actors(), "127.0.0.1", remote.port);
    REQUIRE(remote_sup);
    auto svc = a.child_of(*remote_sup, "svc");
    auto peer = a.child_of(*remote_sup, "peer");
    REQUIRE(svc != nullptr);
    REQUIRE(peer != nullptr);
    // Each runs in a node of B: neither this process nor B's root.
    CHECK(svc.node() != a.sys->actors().node());
    CHECK(svc.node() != (*remote_sup)->node());
    CHECK(svc.node() != peer.node());
    auto svc_pid = a.pid_of(svc);
    CHECK(svc_pid != remote.pid);
    CHECK(svc_pid != ::getpid());
    CHECK(a.call<int>(svc, add_atom::value, 20, 22) == 42);

    // A handle of this process's actor, sent to the node: its messages come back here in
    // order (node → B's root → BASP → here).
    CHECK(a.call<int>(svc, flood_atom::value, caf::actor_cast<caf::actor>(self), 200) == 200);
    for (int i = 0; i < 200; ++i) {
      int got = -1;
      self->receive([&](int x) { got = x; }, caf::after(std::chrono::seconds{10}) >>
                                               [] { FAIL("a flooded message is missing"); });
      REQUIRE(got == i);
    }

    // A handle of a node's actor, sent back to B: B's root takes it for its own node's actor
    // (not one behind us, which would send the request round between the two roots).
    CHECK(a.call<int>(svc, relay_atom::value, peer, 3, 4) == 7);

    // A monitor and a link from here see the child crash, with its reason.
    self->monitor(svc);
    auto watcher = a.sys->actors().spawn(linked_watcher, svc, caf::actor_cast<caf::actor>(self));
    CHECK(next_text(self) == "linked");
    caf::anon_send(svc, fault_atom::value, static_cast<int>(fault::exception));
    auto down = next_down(self);
    CHECK(down.source == svc.address());
    CHECK(nodes::to_text(down.reason).find("crash requested") != std::string::npos);
    CHECK(next_text(self).find("crash requested") != std::string::npos);

    // B's supervisor restarts it in another node; the new one answers.
    auto again = restarted(a, *remote_sup, "svc", svc);
    CHECK(again.node() != svc.node());
    auto again_pid = a.pid_of(again);
    CHECK(again_pid != svc_pid);
    CHECK(a.call<int>(again, add_atom::value, 2, 3) == 5);

    // The node killed outright (SIGKILL): the monitor here gets the signal as the reason.
    self->monitor(again);
    caf::anon_send(again, fault_atom::value, static_cast<int>(fault::sigkill));
    down = next_down(self);
    CHECK(down.source == again.address());
    CHECK(nodes::to_text(down.reason).find(expected_reason(fault::sigkill)) != std::string::npos);
    auto third = restarted(a, *remote_sup, "svc", again);
    CHECK(a.call<int>(third, relay_atom::value, peer, 5, 6) == 11);
    CHECK(a.pid_of(third) != again_pid);
  }
  remote.stop();
}
