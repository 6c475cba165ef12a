// Chaos under traffic: a random node is SIGKILLed at a random moment, 200 times, while an
// actor in the root keeps requesting from every child. Each kill is seen and repaired, every
// request is answered (with a result or an error, never left hanging), the children that were
// not killed keep their processes, and nothing of the cluster is left afterwards.

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <caf/detail/scope_guard.hpp>

#include "process_test_support.hpp"

using namespace strata;
using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

using go_atom = caf::atom_constant<caf::atom("t_go")>;
using halt_atom = caf::atom_constant<caf::atom("t_halt")>;

struct pump_state {
  std::vector<caf::actor> targets;
  int in_flight = 0;
  int64_t answered = 0;
  int64_t failed = 0; // refused because the node was killed (node_down)
  int64_t other = 0; // any other error, e.g. a timeout: must stay 0
  bool stopping = false;
  caf::response_promise done;
};

// Requests (add, 1, 2) from every target, round after round, until told to stop; then
// answers the stop with (answered, failed) once no request is in flight. The first targets
// are a spawn argument: CAF 0.17 spawning a function actor with no arguments binds a
// reference through a null shared_ptr<tuple<>> (UBSan reports it).
caf::behavior pump(caf::stateful_actor<pump_state>* self, std::vector<caf::actor> targets) {
  self->state.targets = std::move(targets);
  auto finish_round = [self] {
    if (--self->state.in_flight > 0)
      return;
    if (self->state.stopping)
      self->state.done.deliver(self->state.answered, self->state.failed, self->state.other);
    else
      self->send(self, go_atom::value);
  };
  return {
    [self](std::vector<caf::actor>& targets) { self->state.targets = std::move(targets); },
    [self, finish_round](go_atom) {
      if (self->state.targets.empty()) {
        self->state.in_flight = 1;
        finish_round();
        return;
      }
      self->state.in_flight = static_cast<int>(self->state.targets.size());
      for (auto& t : self->state.targets)
        self->request(t, std::chrono::seconds{10}, add_atom::value, 1, 2)
          .then(
            [self, finish_round](int sum) {
              if (sum == 3)
                ++self->state.answered;
              else
                ++self->state.other;
              finish_round();
            },
            [self, finish_round](caf::error& err) {
              if (nodes::is(err, nodes::error::node_down))
                ++self->state.failed;
              else
                ++self->state.other;
              finish_round();
            });
    },
    [self](halt_atom) {
      self->state.stopping = true;
      self->state.done = self->make_response_promise();
      return self->state.done;
    },
  };
}

// Segments of the cluster of `token`: nodes' inboxes, or (spares) the inboxes warm spares
// made ahead of their assignment.
size_t segments_with(const std::string& token, bool spares = false) {
  size_t n = 0;
  for (auto& entry : std::filesystem::directory_iterator{"/dev/shm"}) {
    auto name = entry.path().filename().string();
    if (name.find(token) != std::string::npos
        && (name.find("-spare-") != std::string::npos) == spares)
      ++n;
  }
  return n;
}

} // namespace

TEST_CASE("200 random SIGKILLs of nodes under traffic are each repaired and leak nothing",
          "[nodes][process][chaos]") {
  constexpr int kills = 200;
  auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng{seed};
  std::string token;
  pid_t zygote_pid = 0;
  {
    node_options opts;
    opts.max_nodes = 8;
    cluster c{opts};
    supervisor_spec spec;
    spec.intensity = 10 * kills;
    std::vector<std::string> process_ids = {"p1", "p2", "p3"};
    for (size_t i = 0; i < process_ids.size(); ++i) {
      child_spec p{process_ids[i], start("victim", static_cast<int>(i))};
      p.placement = placement::process;
      spec.children.push_back(p);
    }
    spec.children.push_back(child_spec{"t1", start("victim", 9)});
    auto sup = c.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    auto st = status(c.cfg);
    REQUIRE(st);
    token = st->token;
    zygote_pid = st->zygote;

    auto targets = [&] {
      auto children = which_children(*sup);
      REQUIRE(children);
      std::vector<caf::actor> result;
      for (auto& ch : *children)
        result.push_back(ch.handle);
      return result;
    };
    auto pumper = c.sys->actors().spawn(pump, targets());
    // Stopped as this scope ends, a failed REQUIRE's included: a pump left running keeps the
    // cluster's shutdown waiting for it, and the test would hang until ctest's timeout.
    auto stop_pump = caf::detail::make_scope_guard(
      [pumper] { caf::anon_send_exit(pumper, caf::exit_reason::user_shutdown); });
    caf::anon_send(pumper, go_atom::value);

    std::map<std::string, int> pids;
    for (auto& id : process_ids)
      pids[id] = c.pid_of(c.child_of(*sup, id));
    std::uniform_int_distribution<size_t> pick{0, process_ids.size() - 1};
    std::uniform_int_distribution<int> moment_us{0, 2000};
    for (int i = 0; i < kills; ++i) {
      auto id = process_ids[pick(rng)];
      // A random moment of the traffic, not a synchronisation.
      std::this_thread::sleep_for(std::chrono::microseconds{moment_us(rng)});
      REQUIRE(::kill(pids[id], SIGKILL) == 0);
      auto exited = c.wait_for(event_kind::exited, id);
      CHECK(exited.reason.find("SIGKILL") != std::string::npos);
      c.wait_for(event_kind::restarted, id);
      auto new_pid = c.pid_of(c.child_of(*sup, id));
      CHECK(new_pid != pids[id]);
      for (auto& [other, pid] : pids)
        if (other != id)
          CHECK(c.pid_of(c.child_of(*sup, other)) == pid); // one_for_one: untouched
      pids[id] = new_pid;
      caf::anon_send(pumper, targets());
    }
    CHECK(c.pid_of(c.child_of(*sup, "t1")) == ::getpid());

    int64_t answered = 0;
    int64_t failed = 0;
    int64_t other = 0;
    (*c.self)
      ->request(pumper, std::chrono::seconds{30}, halt_atom::value)
      .receive(
        [&](int64_t a, int64_t f, int64_t o) {
          answered = a;
          failed = f;
          other = o;
        },
        [](caf::error& err) { FAIL("the traffic did not drain: " << nodes::to_text(err)); });
    INFO(answered << " requests answered, " << failed << " refused with node_down, " << other
                  << " other errors");
    CHECK(answered > kills);
    // Requests to a killed node fail with node_down (the pump retries the dead handle until
    // it hears of the new one); none may time out or fail otherwise.
    CHECK(other == 0);

    st = status(c.cfg);
    REQUIRE(st);
    size_t live = 0;
    for (auto pid : st->nodes)
      live += pid != 0 ? 1 : 0;
    CHECK(live == process_ids.size());
    // The root's inbox and one per live node and the spare (configured: 1); the killed
    // nodes' inboxes were removed (a few milliseconds after each restart). Wait for the
    // spare that replaced the last one used and for that clean-up.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while ((segments_with(token, true) != 0 || status(c.cfg)->spares.size() != 1
            || segments_with(token) != 1 + process_ids.size() + 1)
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    CHECK(status(c.cfg)->spares.size() == 1);
    CHECK(segments_with(token, true) == 0);
    CHECK(segments_with(token) == 1 + process_ids.size() + 1);
  }
  CHECK(segments_with(token) == 0);
  CHECK(segments_with(token, true) == 0);
  CHECK((::kill(zygote_pid, 0) != 0 && errno == ESRCH));
}
