#pragma once

// The local-messaging workloads of bench/ (Savina's ping-pong and counting, a fan-in, skynet,
// spawning idle actors) written once against a `caf::actor_system`: the same code measures raw
// CAF and strata, whose system differs only in how it is built and tuned. Each checks its
// result and fails the run if it is wrong.

#include <caf/actor_system.hpp>

namespace strata::bench {

/// Round trips between two actors; returns microseconds per round trip.
double ping_pong(caf::actor_system& sys, long long n);

/// One producer sends `n` messages to a counter, which answers the total; returns messages
/// per second.
double counting(caf::actor_system& sys, long long n);

/// `senders` producers send `n` messages each to one receiver; returns messages per second.
double fan_in(caf::actor_system& sys, int senders, long long n);

/// Skynet: a tree of actors, ten children each, with `leaves` leaves that report their number
/// up, summed; returns seconds.
double skynet(caf::actor_system& sys, long long leaves);

/// What spawning `n` idle actors, then messaging each once, cost.
struct spawn_cost {
  double us_per_spawn;
  double bytes_per_actor; // resident memory grown per live idle actor
  double us_per_message; // sending each one message and collecting its answer
};
spawn_cost spawn_idle(caf::actor_system& sys, long long n);

// -- the rest of Savina's micro set (savina.cpp) --------------------------------------------------

/// A token passed `hops` times round a ring of `members` actors; returns hops per second.
double thread_ring(caf::actor_system& sys, int members, long long hops);

/// `creatures` chameneos meet pairwise in a mall until it made `meetings` meetings; returns
/// meetings per second.
double chameneos(caf::actor_system& sys, int creatures, long long meetings);

/// `members` actors each ping random members `pings` times, each ping answered; returns
/// messages per second.
double big(caf::actor_system& sys, int members, long long pings);

/// One sender sends `n` messages to each of `workers` actors, which do a little arithmetic
/// per message; returns messages per second.
double fork_join_throughput(caf::actor_system& sys, int workers, long long n);

/// `n` actors created, each sent one message that it answers before it ends; returns
/// microseconds per actor.
double fork_join_creation(caf::actor_system& sys, long long n);

} // namespace strata::bench
