// `process` placement through a placement provider: the runtime's side of strata::nodes,
// driven here by a provider that starts children locally and records what it is asked.

#include <mutex>

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
