#include "workloads.hpp"

#include <string>
#include <vector>

#include <caf/all.hpp>

#include "harness.hpp"
#include "messages.hpp"

namespace strata::bench {

namespace {

// -- ping-pong ----------------------------------------------------------------------------------

caf::behavior pong(caf::event_based_actor* self) {
  return {[self](ping_atom, long long left) {
    self->send(caf::actor_cast<caf::actor>(self->current_sender()), pong_atom::value, left);
  }};
}

caf::behavior ping(caf::event_based_actor* self, caf::actor partner, caf::actor done, long long n) {
  self->send(partner, ping_atom::value, n);
  return {[=](pong_atom, long long left) {
    if (left > 1) {
      self->send(partner, ping_atom::value, left - 1);
    } else {
      self->send(done, done_atom::value, n);
      self->quit();
    }
  }};
}

// -- counting and fan-in ------------------------------------------------------------------------

struct counter_state {
  long long sum = 0;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self) {
  return {
    [self](long long x) { self->state.sum += x; },
    [self](count_atom) { return self->state.sum; },
  };
}

// Counts `expected` messages, then tells `done` how many arrived.
caf::behavior sink(caf::stateful_actor<counter_state>* self, caf::actor done, long long expected) {
  return {[=](long long) {
    if (++self->state.sum == expected) {
      self->send(done, done_atom::value, self->state.sum);
      self->quit();
    }
  }};
}

void produce(caf::event_based_actor* self, caf::actor dst, long long n) {
  for (long long i = 0; i < n; ++i)
    self->send(dst, 1LL);
}

// -- skynet -------------------------------------------------------------------------------------

struct skynet_state {
  long long sum = 0;
  int answers = 0;
};

caf::behavior skynet_node(caf::stateful_actor<skynet_state>* self, caf::actor parent, long long num,
                          long long size) {
  if (size == 1) {
    self->send(parent, num);
    self->quit();
    return {};
  }
  auto part = size / 10;
  for (long long i = 0; i < 10; ++i)
    self->spawn(skynet_node, caf::actor{self}, num + i * part, part);
  return {[=](long long x) {
    self->state.sum += x;
    if (++self->state.answers == 10) {
      self->send(parent, self->state.sum);
      self->quit();
    }
  }};
}

// -- idle actors --------------------------------------------------------------------------------

caf::behavior idle(caf::event_based_actor* self) {
  return {[self](ping_atom, const caf::actor& collector) { self->send(collector, 1LL); }};
}

} // namespace

double ping_pong(caf::actor_system& sys, long long n) {
  caf::scoped_actor self{sys};
  auto p = sys.spawn(pong);
  auto start = clock::now();
  sys.spawn(ping, p, caf::actor{self}, n);
  auto rounds = await_done(self);
  auto elapsed = seconds_since(start);
  expect(rounds == n,
         "ping-pong made " + std::to_string(rounds) + " of " + std::to_string(n) + " round trips");
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  return elapsed * 1e6 / static_cast<double>(n);
}

double counting(caf::actor_system& sys, long long n) {
  caf::scoped_actor self{sys};
  auto c = sys.spawn(counter);
  auto start = clock::now();
  // The producer asks for the total after its last message (one sender's messages arrive
  // in order) and reports it.
  sys.spawn([c, n, done = caf::actor{self}](caf::event_based_actor* producer) {
    produce(producer, c, n);
    producer->request(c, caf::infinite, count_atom::value).then([=](long long total) {
      producer->send(done, done_atom::value, total);
      producer->quit();
    });
  });
  auto total = await_done(self);
  auto elapsed = seconds_since(start);
  expect(total == n,
         "counting summed " + std::to_string(total) + ", expected " + std::to_string(n));
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  return static_cast<double>(n) / elapsed;
}

double fan_in(caf::actor_system& sys, int senders, long long n) {
  caf::scoped_actor self{sys};
  auto total = n * senders;
  auto s = sys.spawn(sink, caf::actor{self}, total);
  auto start = clock::now();
  for (int i = 0; i < senders; ++i)
    sys.spawn([s, n](caf::event_based_actor* producer) { produce(producer, s, n); });
  auto got = await_done(self);
  auto elapsed = seconds_since(start);
  expect(got == total, "fan-in received " + std::to_string(got));
  return static_cast<double>(total) / elapsed;
}

double skynet(caf::actor_system& sys, long long leaves) {
  caf::scoped_actor self{sys};
  auto start = clock::now();
  sys.spawn(skynet_node, caf::actor{self}, 0LL, leaves);
  long long sum = -1;
  self->receive([&](long long x) { sum = x; });
  auto elapsed = seconds_since(start);
  auto want = leaves * (leaves - 1) / 2;
  expect(sum == want,
         "skynet summed " + std::to_string(sum) + ", expected " + std::to_string(want));
  return elapsed;
}

spawn_cost spawn_idle(caf::actor_system& sys, long long n) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> actors;
  actors.reserve(static_cast<size_t>(n)); // before the first reading: not counted per actor
  auto before = resident_bytes();
  auto start = clock::now();
  for (long long i = 0; i < n; ++i)
    actors.push_back(sys.spawn(idle));
  auto spawn_time = seconds_since(start);
  auto grown = resident_bytes() - before;
  auto c = sys.spawn(sink, caf::actor{self}, n);
  start = clock::now();
  for (auto& a : actors)
    self->send(a, ping_atom::value, c);
  auto answered = await_done(self);
  auto message_time = seconds_since(start);
  expect(answered == n, "idle actors answered " + std::to_string(answered));
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  actors.clear();
  auto per = [n](double x) { return x / static_cast<double>(n); };
  return {per(spawn_time) * 1e6, per(static_cast<double>(grown)), per(message_time) * 1e6};
}

} // namespace strata::bench
