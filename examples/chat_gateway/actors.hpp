#pragma once

// The chat gateway's actors, independent of the network: a room per room name, started on
// demand under a simple_one_for_one supervisor by the room directory, the directory (a
// supervised worker, registered under `directory_name`), and a session per client
// connection, which parses the client's frames and sends its answers to the connection actor
// as `(out_atom, frame)`. Rooms send their frames (joined, presence, messages) to the
// members' connections directly, not through the sessions. Rooms and sessions find the
// directory by its name, as OTP code calls a registered server: whichever incarnation runs.

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "strata/strata.hpp"

namespace chat {

using in_atom = caf::atom_constant<caf::atom("c_in")>; // (in, frame): from the client
using out_atom = caf::atom_constant<caf::atom("c_out")>; // (out, frame): to the client
// (join, nick, session, connection) -> ok: the room sends `joined` to the connection itself,
// ahead of everything it sends there later.
using join_atom = caf::atom_constant<caf::atom("c_join")>;
using leave_atom = caf::atom_constant<caf::atom("c_leave")>; // (leave, session)
using say_atom = caf::atom_constant<caf::atom("c_say")>; // (say, session, text, id json)
using lookup_atom = caf::atom_constant<caf::atom("c_lookup")>; // (lookup, room) -> actor
// (hello, room, room actor): a room to the directory as it starts. (hello) -> room name:
// the directory to a running room, as it starts.
using hello_atom = caf::atom_constant<caf::atom("c_hello")>;

/// The name the directory registers itself under (strata/names.hpp), in its cluster.
constexpr const char* directory_name = "chat.directory";

/// Registers the gateway's factories: "room" (a room; args: its name), "rooms" (the
/// supervisor of rooms, simple_one_for_one, rooms `transient`), "directory" (args: the
/// rooms' supervisor) and "gateway" (a server as a worker; see gateway.hpp), and the message
/// type of its options.
void add_factories(strata::config& cfg);

/// The spec of the rooms' supervisor: simple_one_for_one over "room", rooms `transient`
/// (restarted after a crash, not after a normal exit), at most 10 restarts a second.
strata::supervisor_spec rooms_spec();

/// The spec of the directory's supervisor: one_for_one over the permanent "directory" child,
/// finding and starting rooms under `rooms`, at most 10 restarts a second.
strata::supervisor_spec directory_spec(const caf::actor& rooms);

struct room_member {
  std::string nick;
  caf::actor session; // monitored: its exit is the member's departure
  caf::actor connection; // where the room's frames go, without a hop through the session
};

struct room_state {
  std::string name;
  std::map<caf::actor_addr, room_member> members;
  std::deque<std::string> history; // rendered message frames, oldest first
};

/// A room: members, the last `history_size` messages, presence. Announces itself to the
/// directory when it starts, also after a restart, and tells a new directory its name.
caf::behavior room(caf::stateful_actor<room_state>* self, std::string name);

struct directory_state {
  caf::actor rooms; // the supervisor
  std::map<std::string, caf::actor> known;
  // Lookups of a room that is being started, or restarted by its supervisor, or asked for
  // before the directory knows the rooms that run.
  std::map<std::string, std::vector<caf::response_promise>> waiting;
  std::map<caf::actor_addr, std::string> names; // running room -> name
  // Until it has registered its name and learned the running rooms' names, it starts no
  // room: one it does not know yet may run already.
  bool ready = false;
};

/// Finds rooms by name and starts them under `rooms` when missing; one place decides, so two
/// sessions joining a new room at once get the same room. Registers itself as
/// `directory_name`, then learns the rooms that run under `rooms` (a directory that crashed
/// and was restarted knows them again) before it starts any.
caf::behavior directory(caf::stateful_actor<directory_state>* self, caf::actor rooms);

struct session_state {
  uint64_t id = 0;
  std::string nick;
  caf::actor connection;
  caf::actor directory; // found by name, and again when it is gone
  std::map<std::string, caf::actor> rooms; // joined
  std::set<std::string> wanted; // joined by the client and not left since
  // Messages for a room that crashed, said while the session joins it again: sent once it
  // is back, in order (at most `max_held` a room).
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> held;
};

/// Messages a session holds for a room it is joining again.
constexpr size_t max_held = 100;

/// A client's session: parses its frames (`(in_atom, frame)`), answers through `connection`.
caf::behavior session(caf::stateful_actor<session_state>* self, uint64_t id, caf::actor connection);

} // namespace chat
