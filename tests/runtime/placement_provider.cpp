// `process` placement through a placement provider: the runtime's side of strata::nodes,
// driven here by a provider that starts children locally and records what it is asked.

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <caf/actor_proxy.hpp>
#include <caf/forwarding_actor_proxy.hpp>
#include <caf/scoped_execution_unit.hpp>

#include "error_of.hpp"
#include "test_workers.hpp"

using strata::test::error_of;

using namespace strata;
using namespace strata::test;

namespace {

class recording_provider : public placement_provider {
public:
  caf::error fail_start;

  caf::error before_start(config&) override {
    record("before_start");
    return fail_start;
  }

  void started(caf::actor_system&) override {
    record("started");
  }

  void stopping(caf::actor_system&) override {
    record("stopping");
  }

  caf::expected<caf::actor> spawn(caf::actor_system& sys, const child_spec& child,
                                  child_type) override {
    record("spawn " + child.id);
    auto cfg = strata_config(sys);
    if (!cfg)
      return cfg.error();
    auto f = (*cfg)->factories().find(child.start.name);
    if (f == nullptr)
      return make_error(error::unknown_factory, child.start.name);
    caf::scoped_execution_unit host{&sys};
    caf::actor_config acfg{&host};
    auto args = child.start.args;
    return f->spawn(acfg, args);
  }

  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> guard{mtx_};
    return calls_;
  }

private:
  void record(std::string what) {
    std::lock_guard<std::mutex> guard{mtx_};
    calls_.push_back(std::move(what));
  }

  std::mutex mtx_; // guards calls_
  std::vector<std::string> calls_;
};

// The far end of the proxies below: drops what they forward to it, and answers `ok` (a hop
// that puts a start's answer behind what the provider sent before it). The int only spares
// CAF 0.17's spawn of a function with no arguments, which binds a reference through a null
// shared_ptr<tuple<>> (UBSan reports it).
caf::behavior far_end(caf::event_based_actor* self, int) {
  self->set_default_handler(caf::drop);
  return {[](caf::ok_atom) { return caf::ok_atom::value; }};
}

// A provider for supervisors only: it starts children asynchronously (`start`) and has no
// blocking `spawn`.
class async_provider : public placement_provider {
public:
  caf::expected<caf::actor> spawn(caf::actor_system&, const child_spec&, child_type) override {
    return make_error(error::placement_unavailable, "this provider starts asynchronously only");
  }
};

// A provider whose child, "in another process", ends with `reason` as soon as it runs, and
// whose start's answer names that child through another proxy than the one its exit came
// through. strata::nodes does that under load: the exit reaches the supervisor through a
// proxy, the child's down then drops that proxy, and the answer, decoded after the down,
// makes a new proxy for the same actor. CAF's handles to one actor compare equal (node and
// id), whichever proxy they hold.
class early_exit_provider : public async_provider {
public:
  explicit early_exit_provider(caf::error reason) : reason_(std::move(reason)) {
    // nop
  }

  void start(caf::event_based_actor* self, const child_spec&, child_type,
             start_handler done) override {
    auto& sys = self->home_system();
    if (far_end_ == nullptr)
      far_end_ = sys.spawn<caf::hidden>(far_end, 0); // hidden: it outlives the trees
    auto node = *caf::make_node_id(4242, "0123456789abcdef0123456789abcdef01234567");
    auto id = next_id_++;
    auto proxy = [&] {
      caf::actor_config cfg;
      auto result = caf::make_actor<caf::forwarding_actor_proxy, caf::actor>(id, node, &sys, cfg,
                                                                            far_end_);
      proxies_.push_back(result);
      return result;
    };
    auto first = proxy();
    auto second = proxy();
    // Its exit first, as its node links it to the supervisor before answering; the answer
    // after a hop through another actor.
    self->send(self, caf::exit_msg{first.address(), reason_});
    self->request(far_end_, caf::infinite, caf::ok_atom::value)
      .then([done, second](caf::ok_atom) { done(second, true); });
  }

  void stopping(caf::actor_system&) override {
    // The node of these proxies would report their actors' end; nobody else will.
    for (auto& x : proxies_)
      caf::actor_cast<caf::actor_proxy*>(x)->kill_proxy(nullptr, reason_);
    proxies_.clear();
    caf::anon_send_exit(far_end_, caf::exit_reason::user_shutdown);
  }

private:
  caf::error reason_;
  caf::actor far_end_;
  caf::actor_id next_id_ = 1000;
  std::vector<caf::actor> proxies_; // used on the supervisor's thread, then in stopping
};

// A provider whose starts never end: the supervisor waits for their answers.
class stalling_provider : public async_provider {
public:
  void start(caf::event_based_actor*, const child_spec&, child_type, start_handler) override {
    started_ = true;
  }

  bool asked() const {
    return started_;
  }

private:
  std::atomic<bool> started_{false};
};

child_spec in_process(std::string id) {
  auto c = child(std::move(id), "echo");
  c.placement = placement::process;
  return c;
}

} // namespace

TEST_CASE("process children start through the provider and are supervised like any other") {
  auto provider = std::make_shared<recording_provider>();
  {
    fixture f([&](config& cfg) { cfg.set_placement_provider(provider); });
    supervisor_spec spec;
    spec.intensity = 5;
    spec.children = {child("local", "echo"), in_process("remote")};
    auto sup = f.sys->start_supervisor("root", spec);
    REQUIRE(sup);
    f.next_event();
    auto ev = f.next_event();
    CHECK(brief(ev) == "started remote");
    CHECK(ev.placement == placement::process);
    CHECK(f.ping(f.child_of(*sup, "remote"), 6) == 6);
    f.tell(f.child_of(*sup, "remote"), crash_atom::value);
    CHECK(f.next_events(2) == std::vector<std::string>{"exited remote", "restarted remote"});
    CHECK(which_children(*sup)->at(1).placement == placement::process);
  }
  CHECK(provider->calls()
        == std::vector<std::string>{"before_start", "started", "spawn remote", "spawn remote",
                                    "stopping"});
}

TEST_CASE("the command line can move a child into a process through the provider") {
  auto provider = std::make_shared<recording_provider>();
  fixture f([&](config& cfg) {
    cfg.set_placement_provider(provider);
    cfg.set_placement("w", placement::process);
  });
  supervisor_spec spec;
  spec.children = {child("w", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  CHECK(which_children(*sup)->at(0).placement == placement::process);
  CHECK(provider->calls().back() == "spawn w");
}

TEST_CASE("a provider that fails to start disables process placement with its reason") {
  auto provider = std::make_shared<recording_provider>();
  provider->fail_start = make_error(error::invalid_config, "no zygote today");
  fixture f([&](config& cfg) { cfg.set_placement_provider(provider); });
  CHECK(is(f.sys->provider_error(), error::invalid_config));
  supervisor_spec spec;
  spec.children = {child("local", "echo")};
  auto sup = f.sys->start_supervisor("root", spec);
  REQUIRE(sup);
  auto res = start_child(*sup, in_process("remote"));
  REQUIRE_FALSE(res);
  CHECK_THAT(to_text(error_of(res)),
             Catch::Contains("placement_unavailable") && Catch::Contains("no zygote today"));
  CHECK(provider->calls() == std::vector<std::string>{"before_start"});
}

TEST_CASE("a process child whose exit comes through another proxy than its start's answer is "
          "reported with its own reason, and its supervisor lives") {
  // With `kill` the supervisor once took the exit for a kill from a stranger and died,
  // leaving the start unanswered; with other reasons it ignored the exit.
  auto reason = GENERATE(caf::error{caf::exit_reason::kill},
                         caf::error{caf::exit_reason::unreachable});
  INFO(to_text(reason));
  auto provider = std::make_shared<early_exit_provider>(reason);
  fixture f([&](config& cfg) { cfg.set_placement_provider(provider); });
  auto sup = f.sys->start_supervisor("root", supervisor_spec{});
  REQUIRE(sup);
  auto spec = in_process("brief");
  spec.restart = restart_type::temporary;
  auto started = start_child(*sup, spec, std::chrono::seconds{10});
  INFO((started ? std::string{} : to_text(started.error())));
  REQUIRE(started);
  auto exited = f.wait_for(event_kind::exited, "brief");
  CHECK(exited.reason == to_text(reason));
  auto children = which_children(*sup, std::chrono::seconds{10});
  REQUIRE(children);
  CHECK(children->empty()); // temporary: gone once it ended
}

TEST_CASE("a call to a supervisor that ends before it answers returns an error, as OTP's "
          "gen_server:call does, instead of waiting for ever") {
  auto provider = std::make_shared<stalling_provider>();
  fixture f([&](config& cfg) { cfg.set_placement_provider(provider); });
  auto sup = f.sys->start_supervisor("root", supervisor_spec{});
  REQUIRE(sup);
  std::atomic<bool> returned{false};
  caf::expected<caf::actor> started{caf::error{}};
  std::thread caller{[&] {
    started = start_child(*sup, in_process("stuck")); // no timeout
    returned = true;
  }};
  while (!provider->asked())
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  caf::anon_send_exit(*sup, caf::exit_reason::kill); // the start is under way
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!returned && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  if (!returned)
    caller.detach(); // it would wait for ever, and the join with it
  REQUIRE(returned);
  caller.join();
  REQUIRE_FALSE(started);
  CHECK(error_of(started) == caf::sec::request_receiver_down);
}
