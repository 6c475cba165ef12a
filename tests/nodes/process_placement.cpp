// `process` placement end to end: a child in its own OS process, started by a supervisor in
// the root, answering requests, dying in every way a process dies and restarted under every
// strategy. Real forks, real signals.

#include <map>
#include <set>

#include "error_of.hpp"
#include "process_test_support.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

child_spec process_child(std::string id, int tag) {
  return in_process({std::move(id), start("victim", tag)});
}

child_spec task_child(std::string id, int tag) {
  return child_spec{std::move(id), start("victim", tag)};
}

// Makes the node running `hdl` die of `f`.
void inflict(cluster& c, const caf::actor& hdl, fault f) {
  if (f == fault::sigkill) {
    REQUIRE(::kill(c.pid_of(hdl), SIGKILL) == 0);
    return;
  }
  caf::anon_send(hdl, fault_atom::value, static_cast<int>(f));
}

} // namespace

TEST_CASE("a process child runs in its own OS process and answers requests", "[nodes][process]") {
  cluster c;
  supervisor_spec spec;
  spec.children = {process_child("worker", 1)};
  auto sup = c.sys->start_supervisor("root", spec);
  INFO((sup ? std::string{} : nodes::to_text(sup.error())));
  REQUIRE(sup);
  auto worker = c.child_of(*sup, "worker");
  auto pid = c.pid_of(worker);
  CHECK(pid != ::getpid());
  CHECK(pid > 0);
  auto sum = c.call<int>(worker, add_atom::value, 40, 2);
  CHECK(sum == 42);
  auto children = which_children(*sup);
  REQUIRE(children);
  CHECK(children->front().placement == placement::process);
}

TEST_CASE("a process child that dies is restarted, under every strategy, whatever killed it",
          "[nodes][process]") {
  auto strat = GENERATE(strategy::one_for_one, strategy::one_for_all, strategy::rest_for_one,
                        strategy::simple_one_for_one);
  auto f = GENERATE(fault::sigkill, fault::sigsegv, fault::abort, fault::exit1);
  INFO(to_string(strat) << ", " << name_of(f));
  cluster c;
  supervisor_spec spec;
  spec.strategy = strat;
  spec.intensity = 5;
  caf::actor victim;
  caf::actor sibling;
  caf::expected<caf::actor> sup{caf::error{}};
  if (strat == strategy::simple_one_for_one) {
    child_spec tmpl{"victim", start("victim")};
    tmpl.placement = placement::process;
    spec.children = {tmpl};
    sup = c.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    auto started = start_child(*sup, caf::make_message(7));
    REQUIRE(started);
    victim = *started;
  } else {
    spec.children = {process_child("victim", 1), task_child("sibling", 2)};
    sup = c.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    victim = c.child_of(*sup, "victim");
    sibling = c.child_of(*sup, "sibling");
  }
  auto first_pid = c.pid_of(victim);
  inflict(c, victim, f);
  auto exited = c.wait_for(event_kind::exited, "victim");
  INFO("exit reason: " << exited.reason);
  CHECK(exited.reason.find(expected_reason(f)) != std::string::npos);
  CHECK(exited.actor == victim.address());
  auto restarted = c.wait_for(event_kind::restarted, "victim");
  CHECK(restarted.placement == placement::process);
  auto again = c.child_of(*sup, "victim");
  CHECK(restarted.actor == again.address());
  auto second_pid = c.pid_of(again);
  CHECK(second_pid != first_pid);
  CHECK(second_pid != ::getpid());
  if (sibling != nullptr)
    CHECK(c.pid_of(c.child_of(*sup, "sibling")) == ::getpid());
}

TEST_CASE("a process-placed supervisor runs its whole subtree in its node and is restarted "
          "with it",
          "[nodes][process]") {
  cluster c;
  supervisor_spec spec;
  spec.intensity = 5;
  child_spec team{"team", start("team", 2)};
  team.placement = placement::process;
  spec.children = {team, task_child("local", 9)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto sub = c.child_of(*sup, "team");
  // The subtree answers the supervisor API across the process boundary, with handles that
  // work here.
  auto members = which_children(sub);
  REQUIRE(members);
  REQUIRE(members->size() == 2);
  auto node_pid = c.pid_of(members->at(0).handle);
  CHECK(node_pid != ::getpid());
  CHECK(c.pid_of(members->at(1).handle) == node_pid);
  REQUIRE(::kill(node_pid, SIGKILL) == 0);
  auto exited = c.wait_for(event_kind::exited, "team");
  CHECK(exited.reason.find("SIGKILL") != std::string::npos);
  // The new subtree's events come from its node; the actors they name are handles here.
  std::map<std::string, caf::actor_addr> members_started;
  for (;;) {
    supervision_event ev;
    bool got = false;
    (*c.self)->receive([&](supervision_event& x) { ev = std::move(x), got = true; },
                       caf::after(std::chrono::seconds{20}) >> [] {});
    REQUIRE(got);
    if (ev.kind == event_kind::started && ev.supervisor == "root/team")
      members_started[ev.child] = ev.actor;
    if (ev.kind == event_kind::restarted && ev.child == "team")
      break;
  }
  auto again = which_children(c.child_of(*sup, "team"));
  REQUIRE(again);
  REQUIRE(again->size() == 2);
  REQUIRE(members_started.size() == 2);
  for (auto& m : *again) {
    INFO(m.id);
    CHECK(members_started[m.id] == m.handle.address());
    CHECK(c.pid_of(caf::actor_cast<caf::actor>(members_started[m.id])) != ::getpid());
  }
  auto new_pid = c.pid_of(again->at(0).handle);
  CHECK(new_pid != node_pid);
  CHECK(new_pid != ::getpid());
  CHECK(c.pid_of(c.child_of(*sup, "local")) == ::getpid());
}

TEST_CASE("a node that stops answering is found by its heartbeat, killed and restarted",
          "[nodes][process]") {
  node_options opts;
  opts.heartbeat_interval = std::chrono::milliseconds{50};
  opts.heartbeat_timeout = std::chrono::milliseconds{300};
  cluster c{opts};
  supervisor_spec spec;
  spec.children = {process_child("sleeper", 1)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto pid = c.pid_of(c.child_of(*sup, "sleeper"));
  // Alive but frozen: its pidfd never fires, only the heartbeat can tell.
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  auto exited = c.wait_for(event_kind::exited, "sleeper");
  INFO(exited.reason);
  CHECK(exited.reason.find("hung") != std::string::npos);
  c.wait_for(event_kind::restarted, "sleeper");
  auto again = c.pid_of(c.child_of(*sup, "sleeper"));
  CHECK(again != pid);
}

TEST_CASE("a busy node keeps answering heartbeats and is left alone", "[nodes][process]") {
  node_options opts;
  opts.heartbeat_interval = std::chrono::milliseconds{20};
  opts.heartbeat_timeout = std::chrono::milliseconds{500};
  cluster c{opts};
  supervisor_spec spec;
  spec.children = {process_child("worker", 1)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto worker = c.child_of(*sup, "worker");
  auto pid = c.pid_of(worker);
  // A second of traffic, fifty heartbeat periods: no restart may happen.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    auto sum = c.call<int>(worker, add_atom::value, i, 1);
    if (sum != i + 1)
      FAIL("wrong sum " << sum);
  }
  CHECK(c.pid_of(c.child_of(*sup, "worker")) == pid);
}

TEST_CASE("an actor stuck in a handler on its node's receive thread neither stops the node "
          "receiving nor makes it look hung",
          "[nodes][process]") {
  node_options opts;
  opts.heartbeat_interval = std::chrono::milliseconds{50};
  opts.heartbeat_timeout = std::chrono::milliseconds{400};
  cluster c{opts};
  supervisor_spec spec;
  child_spec team{"team", start("team", 2)};
  team.placement = placement::process;
  team.shutdown = shutdown_spec::brutal_kill();
  spec.children = {team};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto members = which_children(c.child_of(*sup, "team"));
  REQUIRE(members);
  REQUIRE(members->size() == 2);
  auto pid = c.pid_of(members->at(1).handle);
  // A message from another node runs its receiver on the node's receive thread: this one
  // never returns. The reading moves to a new thread after one watchdog period.
  caf::anon_send(members->at(0).handle, fault_atom::value, static_cast<int>(fault::hang));
  std::this_thread::sleep_for(std::chrono::seconds{1}); // twenty heartbeat periods
  CHECK(c.call<int>(members->at(1).handle, add_atom::value, 2, 3) == 5);
  CHECK(c.pid_of(members->at(1).handle) == pid);
  bool exited = false;
  for (bool more = true; more;)
    (*c.self)->receive(
      [&](supervision_event& ev) { exited = exited || ev.kind == event_kind::exited; },
      caf::after(std::chrono::milliseconds{0}) >> [&] { more = false; });
  CHECK_FALSE(exited);
  REQUIRE_FALSE(terminate_child(*sup, "team"));
}

TEST_CASE("an actor on a node's receive thread that fills a ring waits like any sender, and "
          "nothing is lost",
          "[nodes][process]") {
  cluster c;
  supervisor_spec spec;
  spec.children = {process_child("flooder", 1)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto flooder = c.child_of(*sup, "flooder");
  auto pid = c.pid_of(flooder);
  // About 8 MB of frames into a 256 KiB ring, from one handler.
  constexpr int n = 200'000;
  CHECK(c.call<int>(flooder, flood_atom::value, caf::actor{*c.self}, n) == n);
  int expected = 0;
  bool in_order = true;
  while (expected < n) {
    bool timed_out = false;
    (*c.self)->receive(
      [&](int i) {
        in_order = in_order && i == expected;
        ++expected;
      },
      [](supervision_event&) {}, caf::after(std::chrono::seconds{10}) >> [&] { timed_out = true; });
    if (timed_out)
      FAIL("message " << expected << " of " << n << " did not arrive");
  }
  CHECK(in_order);
  CHECK(c.pid_of(flooder) == pid);
}

TEST_CASE("registered names resolve across nodes, both ways, and die with their node",
          "[nodes][process][names]") {
  cluster c;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {task_child("local", 1), process_child("remote", 2)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto local = c.child_of(*sup, "local");
  auto remote = c.child_of(*sup, "remote");
  auto& sys = c.sys->actors();
  // A name registered in the root resolves in a node.
  REQUIRE_FALSE(register_name(sys, "here", local));
  auto sum = c.call<int>(remote, ask_atom::value, std::string{"here"}, 2, 3);
  CHECK(sum == 5);
  // A name registered from a node resolves in the root, to a working proxy.
  c.call<ok_atom>(remote, reg_atom::value, std::string{"there"});
  auto there = whereis(sys, "there");
  REQUIRE(there);
  auto pid = c.pid_of(*there);
  CHECK(pid != ::getpid());
  CHECK(pid == c.pid_of(remote));
  // The node dies: its name goes with it.
  REQUIRE(::kill(pid, SIGKILL) == 0);
  c.wait_for(event_kind::exited, "remote");
  caf::error err;
  for (int i = 0; i < 1000 && !is(err, strata::error::name_not_found); ++i)
    err = error_of(whereis(sys, "there"));
  CHECK(is(err, strata::error::name_not_found));
}

TEST_CASE("two process children reach each other through the root: requests and monitors",
          "[nodes][process][names]") {
  cluster c;
  supervisor_spec spec;
  spec.intensity = 5;
  spec.children = {process_child("p1", 1), process_child("p2", 2)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto p1 = c.child_of(*sup, "p1");
  auto p2 = c.child_of(*sup, "p2");
  auto& sys = c.sys->actors();
  REQUIRE_FALSE(register_name(sys, "observer", caf::actor{*c.self}));
  c.call<ok_atom>(p1, reg_atom::value, std::string{"p1svc"});
  // p2 gets a handle to p1's actor (from the name server) and requests from it: node to node.
  auto sum = c.call<int>(p2, ask_atom::value, std::string{"p1svc"}, 4, 5);
  CHECK(sum == 9);
  // p2 monitors p1's actor; p1's node is killed; p2 hears why.
  c.call<ok_atom>(p2, watch_atom::value, std::string{"p1svc"});
  REQUIRE(::kill(c.pid_of(p1), SIGKILL) == 0);
  std::string reason;
  (*c.self)->receive([&](std::string& x) { reason = std::move(x); },
                     caf::after(std::chrono::seconds{20}) >> [] { FAIL("p2 heard nothing"); });
  INFO(reason);
  CHECK(reason.find("SIGKILL") != std::string::npos);
}

TEST_CASE("stopping a process child stuck in a handler kills its node after the shutdown "
          "timeout, as brutal_kill does at once",
          "[nodes][process]") {
  auto how = GENERATE(shutdown_spec::brutal_kill(),
                      shutdown_spec::after(std::chrono::milliseconds{100}));
  cluster c;
  supervisor_spec spec;
  auto stuck = process_child("stuck", 1);
  stuck.shutdown = how;
  spec.children = {stuck};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto hdl = c.child_of(*sup, "stuck");
  auto pid = c.pid_of(hdl);
  caf::anon_send(hdl, fault_atom::value, static_cast<int>(fault::hang));
  REQUIRE_FALSE(terminate_child(*sup, "stuck", std::chrono::seconds{20}));
  auto exited = c.wait_for(event_kind::exited, "stuck");
  INFO(exited.reason);
  CHECK(exited.reason.find("SIGKILL") != std::string::npos);
  // The node's process goes (the exit is reported as its teardown begins; the zygote reaps
  // it once the kernel is done).
  CHECK(gone_within(pid, std::chrono::seconds{10}));
}

TEST_CASE("a process start that finds no spare ready waits for one without holding a "
          "scheduler thread",
          "[nodes][process]") {
  node_options opts;
  opts.start_timeout = std::chrono::seconds{3};
  // One scheduler thread: a start that held it while waiting for a spare would starve the
  // root's service actor, which has the zygote fork spares and takes their ready reports,
  // until the start timed out.
  cluster c{opts, [](config& cfg) { cfg.set("scheduler.max-threads", 1); }};
  auto sup = c.start_root({});
  REQUIRE(c.spare_ready());
  // One after another, each asked as soon as the one before is running: the first takes the
  // spare ready, the others find none (the next spare starts `spare_delay` after one is
  // taken), and the request wakes the supervisor on the scheduler's thread.
  std::set<int> pids;
  for (int i = 0; i < 4; ++i) {
    auto child = start_child(sup, process_child("w" + std::to_string(i), i),
                             std::chrono::seconds{20});
    INFO("start " << i << ": " << (child ? std::string{"ok"} : nodes::to_text(child.error())));
    REQUIRE(child);
    pids.insert(c.pid_of(*child));
  }
  CHECK(pids.size() == 4);
  CHECK(pids.count(::getpid()) == 0);
}

TEST_CASE("a process start fails with node_down when no node gets ready within the start "
          "timeout, and the next start succeeds once nodes can start again",
          "[nodes][process]") {
  node_options opts;
  opts.start_timeout = std::chrono::seconds{2};
  cluster c{opts};
  auto sup = c.start_root({});
  REQUIRE(c.spare_ready());
  auto zygote = status(c.cfg)->zygote;
  REQUIRE(zygote > 0);
  // The spare ready is taken; the zygote, stopped, forks no other.
  REQUIRE(::kill(zygote, SIGSTOP) == 0);
  REQUIRE(start_child(sup, process_child("first", 1)));
  auto second = start_child(sup, process_child("second", 2), std::chrono::seconds{10});
  REQUIRE_FALSE(second);
  auto text = nodes::to_text(second.error());
  INFO(text);
  CHECK(text.find("no node was ready within the start timeout") != std::string::npos);
  CHECK(text.find("node_down") != std::string::npos);
  REQUIRE(::kill(zygote, SIGCONT) == 0);
  auto third = start_child(sup, process_child("third", 3), std::chrono::seconds{10});
  INFO((third ? std::string{} : nodes::to_text(third.error())));
  REQUIRE(third);
  CHECK(c.pid_of(*third) != ::getpid());
}

TEST_CASE("a supervisor whose second process child finds every node slot in use fails its "
          "start and takes the first down",
          "[nodes][process]") {
  node_options opts;
  opts.max_nodes = 2; // the root and one node
  cluster c{opts};
  REQUIRE(c.spare_ready());
  auto node = status(c.cfg)->spares.front();
  supervisor_spec spec;
  auto first = process_child("first", 1);
  first.shutdown = shutdown_spec::brutal_kill();
  spec.children = {first, process_child("second", 2)};
  auto sup = c.sys->start_supervisor("root", spec);
  REQUIRE_FALSE(sup);
  auto text = nodes::to_text(sup.error());
  INFO(text);
  CHECK(text.find("all 1 node slots are in use") != std::string::npos);
  CHECK(gone_within(node, std::chrono::seconds{10}));
}

TEST_CASE("a process start fails at once when every node slot is in use", "[nodes][process]") {
  node_options opts;
  opts.max_nodes = 2; // the root and one node
  cluster c{opts};
  auto sup = c.start_root({});
  REQUIRE(start_child(sup, process_child("only", 1)));
  auto began = std::chrono::steady_clock::now();
  auto more = start_child(sup, process_child("more", 2), std::chrono::seconds{10});
  REQUIRE_FALSE(more);
  auto text = nodes::to_text(more.error());
  INFO(text);
  CHECK(text.find("all 1 node slots are in use") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - began < opts.start_timeout);
}

TEST_CASE("a process child whose parent dies before the node answers its start dies too",
          "[nodes][process]") {
  cluster c;
  REQUIRE(c.spare_ready());
  auto node = status(c.cfg)->spares.front();
  // A parent that asks for a child without waiting for it: it is gone before the answer.
  auto* provider = c.cfg.provider();
  auto spec = process_child("orphan", 1);
  // (The unused argument: CAF 0.17 spawns a function actor without arguments with a null
  // shared_ptr<tuple<>>, which UBSan reports.)
  c.sys->actors().spawn(
    [provider, spec](caf::event_based_actor* self, int) {
      provider->start(self, spec, child_type::worker, [](caf::expected<caf::actor>, bool) {
        FAIL("the answer reached a parent that was gone");
      });
      self->quit(caf::exit_reason::user_shutdown);
    },
    0);
  // The node that took the start ends with the child it started.
  CHECK(gone_within(node, std::chrono::seconds{10}));
}

TEST_CASE("a process worker's init runs in its node, which answers the start with its outcome",
          "[nodes][process]") {
  cluster c{{}, [](config& cfg) {
              // Refuses a negative argument in its init (-2: by quitting with `kill`, OTP's
              // `{stop, killed}`), else answers it.
              cfg.add_worker("picky", [](caf::event_based_actor* self, int n) -> caf::behavior {
                if (n == -2)
                  self->quit(caf::exit_reason::kill);
                else if (n < 0)
                  throw std::runtime_error{"init refused"};
                return {[n](caf::get_atom) { return n; }};
              });
            }};
  auto sup = c.start_root({});
  // From a ready spare (the node runs the init as it starts the child), and without one
  // (the supervisor's init handshake): the same outcomes.
  for (bool from_spare : {true, false}) {
    INFO((from_spare ? "from a ready spare" : "waiting for a spare"));
    if (from_spare)
      REQUIRE(c.spare_ready());
    auto refused = start_child(sup, in_process(child_spec{"refused", start("picky", -1)}));
    REQUIRE_FALSE(refused);
    CHECK_THAT(nodes::to_text(refused.error()), Catch::Contains("init refused"));
    if (from_spare)
      REQUIRE(c.spare_ready());
    auto killed = start_child(sup, in_process(child_spec{"killed", start("picky", -2)}));
    REQUIRE_FALSE(killed);
    CHECK(nodes::to_text(killed.error()) == "start_failed: killed: killed");
    if (from_spare)
      REQUIRE(c.spare_ready());
    auto id = std::string{"accepted-"} + (from_spare ? "1" : "2");
    auto accepted = start_child(sup, in_process(child_spec{id, start("picky", 7)}));
    INFO((accepted ? std::string{} : nodes::to_text(accepted.error())));
    REQUIRE(accepted);
    CHECK(c.call<int>(*accepted, caf::get_atom::value) == 7);
    auto children = which_children(sup);
    REQUIRE(children);
    CHECK(children->back().status == child_status::running);
  }
}

TEST_CASE("a process worker that ends as soon as its init ran in its node is reported with its "
          "own exit reason",
          "[nodes][process]") {
  // It ends on the message its init sends itself, which it reads in the same run as its
  // init: before the node's answer to the start leaves the node. Its node then exits too.
  // With `kill`, its exit reaches the supervisor before the answer that names the child: it
  // is taken as the child's `killed` once the answer comes, not as a kill of the supervisor.
  auto reason = GENERATE(caf::error{caf::exit_reason::normal},
                         caf::error{caf::exit_reason::unreachable},
                         caf::error{caf::exit_reason::kill});
  INFO(strata::to_text(reason));
  cluster c{{}, [reason](config& cfg) {
              cfg.add_worker("brief", [reason](caf::event_based_actor* self, int) -> caf::behavior {
                self->send(self, caf::ok_atom::value);
                return {[self, reason](caf::ok_atom) { self->quit(reason); }};
              });
            }};
  REQUIRE(c.spare_ready()); // so its node runs its init
  auto sup = c.start_root({});
  child_spec spec{"brief", start("brief", 0)};
  spec.restart = restart_type::transient;
  auto started = start_child(sup, in_process(spec));
  REQUIRE(started);
  // The supervisor gets the worker's exit, not its node's (`node_down: exited with code 0`).
  UNSCOPED_INFO("waiting for the first incarnation's exit");
  auto exited = c.wait_for(event_kind::exited, "brief");
  CHECK(exited.reason == strata::to_text(reason));
  if (reason == caf::exit_reason::normal) {
    // A transient worker that ended normally stays stopped.
    auto children = which_children(sup);
    REQUIRE(children);
    REQUIRE(children->size() == 1);
    CHECK(children->front().status == child_status::stopped);
  } else {
    UNSCOPED_INFO("waiting for the restart");
    c.wait_for(event_kind::restarted, "brief"); // restarted for it, as a transient is
    // Its next incarnation ends the same way, and that is reported too: the supervisor lived.
    // Under load its exit can lose the race against its node's shutdown and arrive as
    // node_down (the first incarnation's cannot: its node links it before answering).
    UNSCOPED_INFO("waiting for the second incarnation's exit");
    auto again = c.wait_for(event_kind::exited, "brief");
    CHECK((again.reason == strata::to_text(reason) || again.reason.rfind("node_down", 0) == 0));
  }
}

TEST_CASE("a kill that a process child sends its supervisor itself ends the supervisor, and "
          "the child with it, as OTP's exit(Sup, kill) does",
          "[nodes][process]") {
  // "inner" (in this process) supervises "a", an assassin in a node: given an actor, it sends
  // it an exit with `kill` and lives on. Its node forwards the kill as a kill from a live
  // actor, which no supervisor takes for its child's exit.
  cluster c{{}, [](config& cfg) {
              cfg.add_worker("assassin", [](caf::event_based_actor* self, int) -> caf::behavior {
                return {
                  [self](const caf::actor& target) {
                    self->send_exit(target, caf::exit_reason::kill);
                  },
                  [](pid_atom) { return static_cast<int>(::getpid()); },
                };
              });
              cfg.add_supervisor("inner", [](int) {
                supervisor_spec spec;
                spec.children = {in_process({"a", start("assassin", 0)})};
                return spec;
              });
            }};
  supervisor_spec spec;
  spec.children = {child_spec{"inner", start("inner", 0)}};
  auto sup = c.start_root(spec);
  auto before = c.child_of(sup, "inner");
  auto assassin = c.child_of(before, "a");
  auto pid = c.pid_of(assassin);
  (*c.self)->send(assassin, before);
  // Taken as the assassin's own exit, "a" would be restarted, and "inner" and the first
  // assassin would live on.
  auto exited = c.wait_for(event_kind::exited, "inner");
  CHECK(exited.reason.find("kill") != std::string::npos);
  c.wait_for(event_kind::restarted, "inner");
  CHECK(c.child_of(sup, "inner") != before);
  // The killed supervisor's link took the assassin down, and its node with it.
  CHECK(gone_within(pid, std::chrono::seconds{10}));
}
