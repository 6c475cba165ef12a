// The rest of Savina's micro set used by bench/ (thread ring, chameneos, big, fork-join
// throughput and creation), as in bench/micro/workloads.cpp: once against
// `caf::actor_system`, each checking its result. bench/erlang/strata_bench.erl has the same.

#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "harness.hpp"
#include "messages.hpp"
#include "workloads.hpp"

namespace strata::bench {

namespace {

// -- thread ring: a token passed round a ring, one hop less each time ---------------------------

caf::behavior ring_member(caf::event_based_actor* self, caf::actor done) {
  return {
    [=](next_atom, caf::actor& next) {
      self->become([=](token_atom, long long left) {
        if (left == 0)
          self->send(done, done_atom::value, 0LL);
        else
          self->send(next, token_atom::value, left - 1);
      });
    },
  };
}

// -- chameneos: creatures meet pairwise in a mall until it has made `n` meetings ----------------

struct mall_state {
  caf::actor waiting;
  long long meetings = 0;
  int stopped = 0;
  long long total = 0;
};

caf::behavior mall(caf::stateful_actor<mall_state>* self, caf::actor done, long long n,
                   int creatures) {
  return {
    [=](meet_atom, const caf::actor& who) {
      auto& st = self->state;
      if (st.meetings == n) {
        self->send(who, stop_atom::value);
        return;
      }
      if (st.waiting == nullptr) {
        st.waiting = who;
        return;
      }
      ++st.meetings;
      self->send(st.waiting, mate_atom::value, who);
      self->send(who, mate_atom::value, st.waiting);
      st.waiting = nullptr;
    },
    // A creature's count of meetings, when it stops.
    [=](done_atom, long long met) {
      auto& st = self->state;
      st.total += met;
      if (st.waiting != nullptr) { // the last one waiting will not be paired any more
        self->send(st.waiting, stop_atom::value);
        st.waiting = nullptr;
      }
      if (++st.stopped == creatures) {
        self->send(done, done_atom::value, st.total);
        self->quit();
      }
    },
  };
}

caf::behavior creature(caf::stateful_actor<mall_state>* self, caf::actor the_mall) {
  self->send(the_mall, meet_atom::value, caf::actor{self});
  return {
    [=](mate_atom, const caf::actor&) {
      ++self->state.meetings;
      self->send(the_mall, meet_atom::value, caf::actor{self});
    },
    [=](stop_atom) {
      self->send(the_mall, done_atom::value, self->state.meetings);
      self->quit();
    },
  };
}

// -- big: every actor pings random others, each ping answered --------------------------------

struct big_state {
  std::vector<caf::actor> peers;
  long long pings_left = 0;
  std::minstd_rand rng;
};

caf::behavior big_member(caf::stateful_actor<big_state>* self, caf::actor done, long long pings,
                         int seed) {
  self->state.pings_left = pings;
  self->state.rng.seed(static_cast<unsigned>(seed) + 1);
  auto ping_someone = [self] {
    auto& st = self->state;
    std::uniform_int_distribution<size_t> pick{0, st.peers.size() - 1};
    self->send(st.peers[pick(st.rng)], ping_atom::value, caf::actor{self});
  };
  return {
    [=](go_atom, std::vector<caf::actor>& peers) {
      self->state.peers = std::move(peers);
      ping_someone();
    },
    [=](ping_atom, const caf::actor& from) { self->send(from, pong_atom::value); },
    [=](pong_atom) {
      if (--self->state.pings_left == 0)
        self->send(done, done_atom::value, pings);
      else
        ping_someone();
    },
  };
}

// -- fork-join -----------------------------------------------------------------------------------

// Savina's fork-join work per message: a little arithmetic the compiler cannot drop.
double work(long long x) {
  double r = static_cast<double>(x);
  for (int i = 0; i < 10; ++i)
    r = r * 1.000001 + 0.5;
  return r;
}

struct join_state {
  long long got = 0;
  double sink = 0;
};

caf::behavior fork_worker(caf::stateful_actor<join_state>* self, caf::actor done, long long n) {
  return {[=](long long x) {
    self->state.sink += work(x);
    if (++self->state.got == n) {
      self->send(done, done_atom::value, self->state.got + (self->state.sink < 0 ? 1 : 0));
      self->quit();
    }
  }};
}

caf::behavior one_shot(caf::event_based_actor* self, caf::actor done) {
  return {[=](long long x) {
    self->send(done, done_atom::value, static_cast<long long>(work(x) >= 0 ? 1 : 0));
    self->quit();
  }};
}

} // namespace

double thread_ring(caf::actor_system& sys, int members, long long hops) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> ring;
  for (int i = 0; i < members; ++i)
    ring.push_back(sys.spawn(ring_member, caf::actor{self}));
  for (int i = 0; i < members; ++i)
    caf::anon_send(ring[static_cast<size_t>(i)], next_atom::value,
                   ring[static_cast<size_t>((i + 1) % members)]);
  auto start = clock::now();
  caf::anon_send(ring[0], token_atom::value, hops);
  auto left = await_done(self);
  auto elapsed = seconds_since(start);
  expect(left == 0, "the token went round to 0");
  for (auto& r : ring)
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  return static_cast<double>(hops) / elapsed;
}

double chameneos(caf::actor_system& sys, int creatures, long long meetings) {
  caf::scoped_actor self{sys};
  auto start = clock::now();
  auto m = sys.spawn(mall, caf::actor{self}, meetings, creatures);
  for (int i = 0; i < creatures; ++i)
    sys.spawn(creature, m);
  auto met = await_done(self);
  auto elapsed = seconds_since(start);
  expect(met == 2 * meetings, "the creatures met " + std::to_string(met) + " times, expected "
                                + std::to_string(2 * meetings));
  return static_cast<double>(meetings) / elapsed;
}

double big(caf::actor_system& sys, int members, long long pings) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> all;
  for (int i = 0; i < members; ++i)
    all.push_back(sys.spawn(big_member, caf::actor{self}, pings, i));
  auto start = clock::now();
  for (auto& a : all)
    caf::anon_send(a, go_atom::value, all);
  long long total = 0;
  for (int i = 0; i < members; ++i)
    total += await_done(self);
  auto elapsed = seconds_since(start);
  expect(total == pings * members, "big answered " + std::to_string(total) + " pings");
  for (auto& a : all)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return static_cast<double>(2 * total) / elapsed;
}

double fork_join_throughput(caf::actor_system& sys, int workers, long long n) {
  caf::scoped_actor self{sys};
  std::vector<caf::actor> all;
  for (int i = 0; i < workers; ++i)
    all.push_back(sys.spawn(fork_worker, caf::actor{self}, n));
  auto start = clock::now();
  for (long long k = 0; k < n; ++k)
    for (auto& w : all)
      self->send(w, k);
  long long total = 0;
  for (int i = 0; i < workers; ++i)
    total += await_done(self);
  auto elapsed = seconds_since(start);
  expect(total == n * workers, "fork-join handled " + std::to_string(total) + " messages");
  return static_cast<double>(total) / elapsed;
}

double fork_join_creation(caf::actor_system& sys, long long n) {
  caf::scoped_actor self{sys};
  auto start = clock::now();
  for (long long k = 0; k < n; ++k)
    self->send(sys.spawn(one_shot, caf::actor{self}), k);
  long long total = 0;
  for (long long k = 0; k < n; ++k)
    total += await_done(self);
  auto elapsed = seconds_since(start);
  expect(total == n, "fork-join creation: " + std::to_string(total) + " answers");
  return elapsed * 1e6 / static_cast<double>(n);
}

} // namespace strata::bench
