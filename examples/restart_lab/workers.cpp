#include "workers.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>

namespace lab {

namespace {

using namespace std::chrono_literals;

// Registers `self` as `name`. A restarted worker may ask before the name server has seen its
// predecessor's exit (it learns of it by a monitor, asynchronously): `name_taken` is then
// retried a little later, as an OTP worker would after `{error, {already_registered, _}}`.
void register_as(caf::event_based_actor* self, std::string name) {
  auto server = strata::name_server(self->system());
  self
    ->request(server, caf::infinite, strata::register_name_atom::value, name,
              caf::actor_cast<caf::actor>(self))
    .then([](strata::ok_atom) {},
          [self, name](const caf::error&) {
            self->delayed_send(self, 10ms, retry_atom::value, name);
          });
}

// Calls `f` with the worker registered as `name`, if there is one now. Each call asks the
// name server: a restarted worker is found under its name, not through a stale handle. When
// none is registered (it is restarting), `f` is not called: what it would have sent is lost,
// as a message to a dead pid would be.
template <class F>
void with_named(caf::event_based_actor* self, const std::string& name, F f) {
  self
    ->request(strata::name_server(self->system()), caf::infinite, strata::whereis_atom::value, name)
    .then([f](const caf::actor& who) mutable { f(who); }, [](const caf::error&) {});
}

// Sends `xs...` to the worker registered as `name` (see with_named).
template <class... Ts>
void send_to(caf::event_based_actor* self, const std::string& name, Ts... xs) {
  with_named(self, name, [self, xs...](const caf::actor& who) { self->send(who, xs...); });
}

int32_t count_primes(int32_t below) {
  int32_t found = 0;
  for (int32_t n = 2; n < below; ++n) {
    bool prime = true;
    for (int32_t d = 2; d * d <= n && prime; ++d)
      prime = n % d != 0;
    found += prime ? 1 : 0;
  }
  return found;
}

} // namespace

caf::behavior session(caf::event_based_actor*, int32_t number) {
  return {
    [number](ping_atom) { return number; },
  };
}

caf::behavior source(caf::event_based_actor* self) {
  auto next = std::make_shared<int64_t>(0);
  self->send(self, tick_atom::value);
  return {
    [self, next](tick_atom) {
      send_to(self, "lab.parser", item_atom::value, ++*next);
      self->delayed_send(self, 50ms, tick_atom::value);
    },
  };
}

caf::behavior parser(caf::event_based_actor* self) {
  register_as(self, "lab.parser");
  return {
    [self](item_atom, int64_t x) {
      // A few thousand multiplications stand in for parsing.
      uint64_t h = static_cast<uint64_t>(x);
      for (int i = 0; i < 4096; ++i)
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
      send_to(self, "lab.sink", item_atom::value, static_cast<int64_t>(h >> 1));
    },
    [self](retry_atom, const std::string& name) { register_as(self, name); },
  };
}

caf::behavior sink(caf::event_based_actor* self) {
  auto count = std::make_shared<int64_t>(0);
  register_as(self, "lab.sink");
  return {
    [count](item_atom, int64_t) { ++*count; },
    [count](get_atom) { return *count; },
    [self](retry_atom, const std::string& name) { register_as(self, name); },
  };
}

caf::behavior shard(caf::event_based_actor* self, std::string name) {
  auto stored = std::make_shared<int64_t>(0);
  register_as(self, "lab." + name);
  return {
    [stored](item_atom, int64_t) { return ++*stored; },
    [stored](get_atom) { return *stored; },
    [self](retry_atom, const std::string& name) { register_as(self, name); },
  };
}

caf::behavior index(caf::event_based_actor* self) {
  auto next = std::make_shared<int64_t>(0);
  self->send(self, tick_atom::value);
  return {
    [self, next](tick_atom) {
      for (const char* name : {"lab.shard_a", "lab.shard_b"})
        with_named(self, name, [self, next](const caf::actor& shard) {
          // A shard in another process that dies meanwhile fails this request (the node's
          // loss fails what is outstanding); the second bounds a hung one.
          self->request(shard, std::chrono::seconds(1), item_atom::value, ++*next)
            .then([](int64_t) {}, [](const caf::error&) {});
        });
      self->delayed_send(self, 200ms, tick_atom::value);
    },
  };
}

caf::behavior cruncher(caf::event_based_actor* self) {
  auto total = std::make_shared<int64_t>(0);
  self->send(self, tick_atom::value);
  return {
    [self, total](tick_atom) {
      *total += count_primes(20'000);
      self->delayed_send(self, 20ms, tick_atom::value);
    },
    [total](get_atom) { return *total; },
  };
}

caf::behavior reporter(caf::event_based_actor* self) {
  auto last = std::make_shared<int64_t>(-1);
  self->send(self, tick_atom::value);
  return {
    [self, last](tick_atom) {
      with_named(self, "lab.sink", [self, last](const caf::actor& sink) {
        self->request(sink, std::chrono::seconds(1), get_atom::value)
          .then([last](int64_t n) { *last = n; }, [](const caf::error&) {});
      });
      self->delayed_send(self, 1s, tick_atom::value);
    },
    [last](get_atom) { return *last; },
  };
}

caf::behavior flaky(caf::event_based_actor* self, int32_t every_ms) {
  if (every_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(every_ms), tick_atom::value);
  return {
    [every_ms](tick_atom) -> caf::result<void> {
      throw std::runtime_error("flaky: crashes every " + std::to_string(every_ms) + " ms");
    },
  };
}

strata::supervisor_spec edge_spec() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::simple_one_for_one;
  spec.intensity = 50;
  spec.period = std::chrono::seconds(10);
  strata::child_spec session_spec{"session", strata::start("session")};
  session_spec.restart = strata::restart_type::transient;
  spec.children = {std::move(session_spec)};
  return spec;
}

strata::supervisor_spec pipeline_spec() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::rest_for_one;
  spec.intensity = 10;
  spec.period = std::chrono::seconds(10);
  // Started left to right, so the sink is there before the parser passes anything on, and a
  // restarted parser takes the sink down with it (rest_for_one), as a real pipeline would
  // want to drop what it had half passed on.
  strata::child_spec parser_spec{"parser", strata::start("parser")};
  parser_spec.placement = strata::placement::thread;
  spec.children = {
    {"source", strata::start("source")}, std::move(parser_spec), {"sink", strata::start("sink")}};
  return spec;
}

strata::supervisor_spec storage_spec() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_all;
  spec.intensity = 5;
  spec.period = std::chrono::seconds(10);
  strata::child_spec a{"shard_a", strata::start("shard", std::string{"shard_a"})};
  strata::child_spec b{"shard_b", strata::start("shard", std::string{"shard_b"})};
  a.placement = strata::placement::process;
  b.placement = strata::placement::process;
  spec.children = {std::move(a), std::move(b), {"index", strata::start("index")}};
  return spec;
}

strata::supervisor_spec jobs_spec(int32_t flaky_every_ms) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_one;
  spec.intensity = 10;
  spec.period = std::chrono::seconds(10);
  strata::child_spec crunch{"cruncher", strata::start("cruncher")};
  crunch.placement = strata::placement::thread;
  strata::child_spec report{"reporter", strata::start("reporter")};
  report.placement = strata::placement::process;
  // Restarted after 100 ms, doubling up to 2 s while it keeps crashing (strata's backoff).
  strata::child_spec flake{"flaky", strata::start("flaky", flaky_every_ms)};
  flake.backoff.min = std::chrono::milliseconds(100);
  flake.backoff.max = std::chrono::seconds(2);
  spec.children = {std::move(crunch), std::move(report), std::move(flake)};
  return spec;
}

strata::supervisor_spec lab_spec(int32_t flaky_every_ms) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_one;
  spec.intensity = 5;
  spec.period = std::chrono::seconds(30);
  spec.children = {{"edge", strata::start("edge")},
                   {"pipeline", strata::start("pipeline")},
                   {"storage", strata::start("storage")},
                   {"jobs", strata::start("jobs", flaky_every_ms)}};
  return spec;
}

void add_factories(strata::config& cfg) {
  cfg.add_worker("session", session);
  cfg.add_worker("source", source);
  cfg.add_worker("parser", parser);
  cfg.add_worker("sink", sink);
  cfg.add_worker("shard", shard);
  cfg.add_worker("index", index);
  cfg.add_worker("cruncher", cruncher);
  cfg.add_worker("reporter", reporter);
  cfg.add_worker("flaky", flaky);
  cfg.add_supervisor("edge", edge_spec);
  cfg.add_supervisor("pipeline", pipeline_spec);
  cfg.add_supervisor("storage", storage_spec);
  cfg.add_supervisor("jobs", jobs_spec);
}

} // namespace lab
