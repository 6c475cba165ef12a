// What strata puts in place of CAF 0.17's parts (docs/design/scheduler.md): the scheduler's
// clock (CAF's timers, delayed messages and request timeouts behave as with CAF's own), and
// the channel of supervision events.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include "strata/strata.hpp"

#include "internal/events_channel.hpp"
#include "internal/scheduler.hpp"

using namespace std::chrono_literals;

namespace {

using tick_atom = caf::atom_constant<caf::atom("t_tick")>;

struct clock_fixture {
  explicit clock_fixture(std::vector<std::string> args = {}) {
    REQUIRE_FALSE(cfg.parse(args));
    sys.emplace(cfg);
    self.emplace(sys->actors());
  }

  strata::config cfg;
  std::optional<strata::system> sys;
  std::optional<caf::scoped_actor> self;
};

} // namespace

TEST_CASE("strata's systems run on strata's clock unless told otherwise") {
  {
    clock_fixture f;
    CHECK(dynamic_cast<strata::internal::locked_clock*>(&f.sys->actors().clock()) != nullptr);
  }
  clock_fixture f{{"--strata.scheduler.stock"}};
  CHECK(dynamic_cast<strata::internal::locked_clock*>(&f.sys->actors().clock()) == nullptr);
}

TEST_CASE("a delayed message due sooner overtakes one due later") {
  clock_fixture f;
  auto& self = *f.self;
  auto started = std::chrono::steady_clock::now();
  self->delayed_send(self, 30s, tick_atom::value, 2);
  self->delayed_send(self, 50ms, tick_atom::value, 1);
  int got = 0;
  self->receive([&](tick_atom, int x) { got = x; }, caf::after(10s) >> [] {});
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(got == 1);
  CHECK(took >= 50ms);
  CHECK(took < 5s);
}

TEST_CASE("receive timeouts fire, and each message re-arms them") {
  clock_fixture f;
  std::atomic<int> handled{0};
  auto started = std::chrono::steady_clock::now();
  // (Function actors get an argument: CAF 0.17 trips UBSan without one.)
  auto a = f.sys->actors().spawn(
    [&](caf::event_based_actor* self, int) -> caf::behavior {
      return {
        [&](tick_atom) { ++handled; },
        caf::after(100ms) >> [self] { self->quit(); },
      };
    },
    0);
  // Ticks every 20 ms for 300 ms keep it alive; then it times out 100 ms after the last.
  for (int i = 0; i < 15; ++i) {
    caf::anon_send(a, tick_atom::value);
    std::this_thread::sleep_for(20ms);
  }
  (*f.self)->monitor(a);
  (*f.self)->receive([](const caf::down_msg&) {}, caf::after(10s) >> [] { FAIL("no timeout"); });
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(handled == 15);
  CHECK(took >= 300ms);
}

TEST_CASE("a request to an actor that never answers times out") {
  clock_fixture f;
  // It keeps the promise and never delivers it.
  auto promises = std::make_shared<std::vector<caf::response_promise>>();
  auto silent = f.sys->actors().spawn(
    [promises](caf::event_based_actor* self, int) -> caf::behavior {
      return {[self, promises](tick_atom) { promises->push_back(self->make_response_promise()); }};
    },
    0);
  caf::error err;
  (*f.self)
    ->request(silent, 100ms, tick_atom::value)
    .receive([](tick_atom) { FAIL("an answer"); }, [&](caf::error& e) { err = e; });
  CHECK(err == caf::sec::request_timeout);
  caf::anon_send_exit(silent, caf::exit_reason::kill);
}

TEST_CASE("many actors that end, some with timers set, leave the clock working") {
  clock_fixture f;
  constexpr int n = 20000;
  std::atomic<int> timeouts{0};
  for (int i = 0; i < n; ++i) {
    f.sys->actors().spawn(
      [&](caf::event_based_actor* self, int i) -> caf::behavior {
        if (i % 2 == 0) {
          self->quit(); // ends at once: its clock entries, none, are cancelled
          return {};
        }
        // A timer far away that the end must cancel, and one that fires.
        self->delayed_send(self, 1h, tick_atom::value);
        return {[](tick_atom) {}, caf::after(10ms) >>
                                    [self, &timeouts] {
                                      ++timeouts;
                                      self->quit();
                                    }};
      },
      i);
  }
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (timeouts < n / 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(timeouts == n / 2);
  // A delayed message to an actor already gone is dropped, and the clock goes on.
  auto gone = f.sys->actors().spawn([](caf::event_based_actor* self, int) { self->quit(); }, 0);
  (*f.self)->delayed_send(gone, 1ms, tick_atom::value);
  (*f.self)->delayed_send(*f.self, 20ms, tick_atom::value);
  bool ticked = false;
  (*f.self)->receive([&](tick_atom) { ticked = true; }, caf::after(5s) >> [] {});
  CHECK(ticked);
}

TEST_CASE("jobs from outside the workers reach them when they sleep, under either policy") {
  // strata's policies wake a sleeping worker after releasing the queue's lock
  // (scheduler.cpp): a wake-up lost there would leave a request unanswered. The
  // pauses let both workers reach their sleep (CAF's stealing sleeps on its condition after
  // 600 polls, 500 of them 50 us apart: tens of milliseconds on a VM).
  for (auto policy : {caf::atom("sharing"), caf::atom("stealing")}) {
    DYNAMIC_SECTION(caf::to_string(policy)) {
      strata::config cfg;
      cfg.set("scheduler.policy", policy);
      cfg.set("scheduler.max-threads", 2);
      strata::system sys{cfg};
      auto echo = sys.actors().spawn(
        [](caf::event_based_actor*, int) -> caf::behavior { return {[](int x) { return x; }}; }, 0);
      caf::scoped_actor self{sys.actors()};
      int answered = 0;
      std::vector<std::chrono::steady_clock::duration> after_pause;
      for (int i = 0; i < 2000; ++i) {
        if (i % 200 == 0)
          std::this_thread::sleep_for(150ms);
        auto sent = std::chrono::steady_clock::now();
        self->request(echo, 10s, i)
          .receive([&](int x) { answered += x == i ? 1 : 0; }, [](caf::error&) {});
        if (i % 200 == 0)
          after_pause.push_back(std::chrono::steady_clock::now() - sent);
      }
      CHECK(answered == 2000);
      // Woken, not found at a worker's next look: a sleeping stealing worker also looks every
      // few milliseconds, so a lost wake-up there delays (~2 ms here) rather than hangs. A
      // wake-up takes ~0.1 ms.
      std::sort(after_pause.begin(), after_pause.end());
      CHECK(after_pause[after_pause.size() / 2] < 1ms);
      caf::anon_send_exit(echo, caf::exit_reason::kill);
    }
  }
}

TEST_CASE("the events channel knows whether anyone listens, and delivers to who does") {
  clock_fixture f;
  auto events = strata::events_group(f.sys->actors());
  CHECK_FALSE(strata::internal::events_wanted(events));
  // A listener that reports what it got, and quits on request.
  auto got = std::make_shared<std::atomic<int>>(0);
  auto listener = f.sys->actors().spawn(
    [got](caf::event_based_actor* self, int) -> caf::behavior {
      strata::subscribe(self);
      return {
        [got](const strata::supervision_event&) { ++*got; },
        [self](tick_atom) { return tick_atom::value; },
        [self](const std::string&) { self->quit(); },
      };
    },
    0);
  // A round trip: the listener has subscribed (in its init) once it answers.
  (*f.self)->request(listener, 5s, tick_atom::value).receive([](tick_atom) {}, [](caf::error&) {});
  CHECK(strata::internal::events_wanted(events));
  (*f.self)->send(events, strata::supervision_event{});
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (*got == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(*got == 1);
  // Its end unsubscribes it.
  (*f.self)->monitor(listener);
  (*f.self)->send(listener, std::string{"quit"});
  (*f.self)->receive([](const caf::down_msg&) {}, caf::after(5s) >> [] { FAIL("no down"); });
  CHECK_FALSE(strata::internal::events_wanted(events));
  (*f.self)->send(events, strata::supervision_event{}); // to nobody: dropped
}
