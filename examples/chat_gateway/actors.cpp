#include "actors.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "gateway.hpp"
#include "protocol.hpp"

namespace chat {

namespace {

using recheck_atom = caf::atom_constant<caf::atom("c_recheck")>;
using rejoin_atom = caf::atom_constant<caf::atom("c_rejoin")>;
using announce_atom = caf::atom_constant<caf::atom("c_announce")>;

// How often a session tries to join a crashed room again before telling its client.
constexpr int max_rejoin_attempts = 36;

// How long the directory waits for a crashed room to come back from its supervisor before
// it starts the room anew (the supervisor may have given up).
constexpr auto restart_grace = std::chrono::seconds{2};

// How long an actor waits for the name server, the directory, a room or the rooms'
// supervisor to answer; a session then takes the directory for gone and finds it again.
constexpr auto lookup_timeout = std::chrono::seconds{10};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// Sends one message to many: the same `caf::message` (shared, not copied per receiver).
template <class Self, class Members, class Skip>
void broadcast(Self* self, const Members& members, const caf::message& msg, Skip skip) {
  for (auto& [addr, m] : members)
    if (!skip(addr))
      caf::actor_cast<caf::abstract_actor*>(m.connection)
        ->enqueue(self->ctrl(), caf::make_message_id(), msg, self->context());
}

std::vector<std::string> nicks(const room_state& st) {
  std::vector<std::string> out;
  out.reserve(st.members.size());
  for (auto& kvp : st.members)
    out.push_back(kvp.second.nick);
  return out;
}

} // namespace

// -- room -----------------------------------------------------------------------------------

namespace {

// Finds the directory by its name and says hello to it. While no directory is registered (it
// is being restarted), tries again, less and less often: the room may be one the directory
// waits for after a crash.
void announce(caf::stateful_actor<room_state>* self, std::chrono::milliseconds retry) {
  self
    ->request(strata::name_server(self->system()), lookup_timeout, strata::whereis_atom::value,
              std::string{directory_name})
    .then(
      [self](const caf::actor& dir) {
        self->send(dir, hello_atom::value, self->state.name, caf::actor{self});
      },
      [self, retry](caf::error&) {
        self->delayed_send(self, retry, announce_atom::value,
                           std::min(retry * 2, std::chrono::milliseconds{1000}).count());
      });
}

} // namespace

caf::behavior room(caf::stateful_actor<room_state>* self, std::string name) {
  self->state.name = std::move(name);
  announce(self, std::chrono::milliseconds{10});
  auto leave = [self](const caf::actor_addr& who) {
    auto& st = self->state;
    auto i = st.members.find(who);
    if (i == st.members.end())
      return;
    auto nick = std::move(i->second.nick);
    st.members.erase(i);
    auto msg = caf::make_message(out_atom::value, presence(st.name, nick, false));
    broadcast(self, st.members, msg, [](const caf::actor_addr&) { return false; });
  };
  self->set_down_handler([leave](caf::down_msg& msg) { leave(msg.source); });
  return {
    [self](join_atom, const std::string& nick, const caf::actor& session,
           const caf::actor& connection) -> caf::atom_value {
      auto& st = self->state;
      auto addr = session.address();
      if (st.members.count(addr) == 0) {
        auto msg = caf::make_message(out_atom::value, presence(st.name, nick, true));
        broadcast(self, st.members, msg, [](const caf::actor_addr&) { return false; });
        st.members.emplace(addr, room_member{nick, session, connection});
        self->monitor(session);
      }
      self->send(connection, out_atom::value,
                 joined(st.name, nicks(st), {st.history.begin(), st.history.end()}));
      return caf::ok_atom::value;
    },
    [self, leave](leave_atom, const caf::actor& session) {
      self->demonitor(session);
      leave(session.address());
    },
    [self](say_atom, const caf::actor& session, const std::string& text, const std::string& id) {
      auto& st = self->state;
      auto i = st.members.find(session.address());
      if (i == st.members.end())
        return; // left meanwhile, or joined the room's previous life: the session re-joins
      auto frame = message(st.name, i->second.nick, text, nlohmann::json::parse(id), now_ms());
      st.history.push_back(frame);
      if (st.history.size() > history_size)
        st.history.pop_front();
      auto msg = caf::make_message(out_atom::value, std::move(frame));
      broadcast(self, st.members, msg, [](const caf::actor_addr&) { return false; });
    },
    [self](hello_atom) { return self->state.name; },
    [self](announce_atom, int64_t retry_ms) {
      announce(self, std::chrono::milliseconds{retry_ms});
    },
  };
}

// -- directory ------------------------------------------------------------------------------

namespace {

// Answers the lookups waiting for room `name` with `x` (the room, or why there is none).
template <class T>
void answer_waiting(caf::stateful_actor<directory_state>* self, const std::string& name,
                    const T& x) {
  auto& st = self->state;
  auto i = st.waiting.find(name);
  if (i == st.waiting.end())
    return;
  auto promises = std::move(i->second);
  st.waiting.erase(i);
  for (auto& rp : promises)
    rp.deliver(x);
}

void known_room(caf::stateful_actor<directory_state>* self, const std::string& name,
                const caf::actor& room) {
  auto& st = self->state;
  auto& slot = st.known[name];
  if (slot != room) {
    slot = room;
    st.names[room.address()] = name;
    self->monitor(room);
  }
  answer_waiting(self, name, room);
}

void start_room(caf::stateful_actor<directory_state>* self, const std::string& name) {
  self
    ->request(self->state.rooms, caf::infinite, strata::start_child_atom::value,
              caf::make_message(name))
    .then([self, name](const caf::actor& room) { known_room(self, name, room); },
          [self, name](caf::error& err) { answer_waiting(self, name, err); });
}

// It knows every room that ran as it started: starts those asked for and still unknown.
void become_ready(caf::stateful_actor<directory_state>* self) {
  auto& st = self->state;
  st.ready = true;
  std::vector<std::string> asked;
  for (auto& kvp : st.waiting)
    if (st.known.count(kvp.first) == 0)
      asked.push_back(kvp.first);
  for (auto& name : asked)
    start_room(self, name);
}

// Learns the name of every room running under its supervisor (a directory restarted after a
// crash starts with none known), then becomes ready.
void learn_rooms(caf::stateful_actor<directory_state>* self) {
  self->request(self->state.rooms, lookup_timeout, strata::which_children_atom::value)
    .then(
      [self](const std::vector<strata::child_info>& children) {
        // Rooms not answered yet, and 1 for this loop, so that no answer ends it early.
        auto unnamed = std::make_shared<size_t>(1);
        auto named = [self, unnamed] {
          if (--*unnamed == 0)
            become_ready(self);
        };
        for (auto& c : children) {
          if (!c.handle)
            continue;
          ++*unnamed;
          self->request(c.handle, lookup_timeout, hello_atom::value)
            .then(
              [self, named, room = c.handle](const std::string& name) {
                known_room(self, name, room);
                named();
              },
              [named](caf::error&) { named(); }); // it ended meanwhile, or does not answer
        }
        named();
      },
      [self](caf::error& err) { self->quit(err); }); // the rooms' supervisor is gone
}

// Registers the directory under its name (free once the incarnation before has ended, which
// is before its supervisor restarts it), then learns the rooms. A name held by another live
// actor fails it, and its supervisor decides.
void register_directory(caf::stateful_actor<directory_state>* self) {
  self
    ->request(strata::name_server(self->system()), lookup_timeout,
              strata::register_name_atom::value, std::string{directory_name}, caf::actor{self})
    .then([self](strata::ok_atom) { learn_rooms(self); },
          [self](caf::error& err) { self->quit(err); });
}

} // namespace

caf::behavior directory(caf::stateful_actor<directory_state>* self, caf::actor rooms) {
  self->state.rooms = std::move(rooms);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.names.find(msg.source);
    if (i == st.names.end())
      return;
    auto name = std::move(i->second);
    st.names.erase(i);
    auto k = st.known.find(name);
    if (k == st.known.end() || k->second.address() != msg.source)
      return; // already replaced
    st.known.erase(k);
    // Its supervisor restarts it (rooms are transient) and it says hello again; lookups
    // wait for that rather than start a second room of the same name.
    st.waiting.emplace(name, std::vector<caf::response_promise>{});
    self->delayed_send(self, restart_grace, recheck_atom::value, name);
  });
  register_directory(self);
  return {
    [self](lookup_atom, const std::string& name) -> caf::result<caf::actor> {
      auto& st = self->state;
      if (auto i = st.known.find(name); i != st.known.end())
        return i->second;
      auto rp = self->make_response_promise();
      auto [i, fresh] = st.waiting.emplace(name, std::vector<caf::response_promise>{});
      i->second.push_back(rp);
      if (fresh && st.ready)
        start_room(self, name);
      return caf::delegated<caf::actor>{};
    },
    [self](hello_atom, const std::string& name, const caf::actor& room) {
      known_room(self, name, room);
    },
    [self](recheck_atom, const std::string& name) {
      // Still no room of that name after the grace period: start it.
      if (self->state.ready && self->state.known.count(name) == 0
          && self->state.waiting.count(name) > 0)
        start_room(self, name);
    },
  };
}

// -- session --------------------------------------------------------------------------------

namespace {

void out(caf::stateful_actor<session_state>* self, std::string frame) {
  self->send(self->state.connection, out_atom::value, std::move(frame));
}

void fail(caf::stateful_actor<session_state>* self, std::string code, std::string reason) {
  out(self, error(protocol_error{std::move(code), std::move(reason)}));
}

// Whether `err`, failing a join, says that the directory is not there to answer (not
// registered while it is restarted, ended, or silent), or that the room it gave ended.
bool directory_or_room_gone(const caf::error& err) {
  return err == caf::sec::request_receiver_down || err == caf::sec::request_timeout
         || strata::is(err, strata::error::name_not_found);
}

// Calls `found` with the directory: the one found last, or the one registered now.
template <class F, class G>
void with_directory(caf::stateful_actor<session_state>* self, F found, G failed) {
  if (self->state.directory) {
    found(self->state.directory);
    return;
  }
  // No timeout (nor below, for the room): each would stay in CAF's clock for its whole
  // duration, answered or not (CAF 0.17 does not cancel it), ~200 bytes per session; the
  // name server and a room answer at once, or their end answers for them. The directory
  // may hold a lookup while it starts a room, and could end before it answers.
  self
    ->request(strata::name_server(self->system()), caf::infinite, strata::whereis_atom::value,
              std::string{directory_name})
    .await(
      [self, found](const caf::actor& dir) {
        self->state.directory = dir;
        found(dir);
      },
      failed);
}

// Finds (or has started) the room and joins it, keeping this session's later frames waiting
// until that is done, so they apply in the order sent. `attempt` 0 is the client's join: a
// failure the directory answers is the client's to see. Above 0 it is the session joining
// again after the room crashed, or after the directory (or the room it gave) was not there:
// the room or the directory may still be on its way back (or the directory may not have seen
// the room go yet), so a failure is retried, with backoff, for ~30 s before the client hears
// of it.
void join(caf::stateful_actor<session_state>* self, const std::string& name, int attempt) {
  auto failed = [self, name, attempt](caf::error& err) {
    if (self->state.wanted.count(name) == 0)
      return; // left meanwhile
    bool gone = directory_or_room_gone(err);
    if (gone)
      self->state.directory = nullptr; // found again by name at the next attempt
    if ((attempt == 0 && !gone) || attempt >= max_rejoin_attempts) {
      self->state.wanted.erase(name);
      auto held = self->state.held[name].size();
      self->state.held.erase(name);
      fail(self, "unavailable",
           "room " + name + " is not available, try again"
             + (held > 0 ? " (" + std::to_string(held) + " messages were not sent)" : ""));
      return;
    }
    auto delay = std::min(std::chrono::milliseconds{10} * (1 << std::min(attempt, 7)),
                          std::chrono::milliseconds{1000});
    self->delayed_send(self, delay, rejoin_atom::value, name, attempt + 1);
  };
  with_directory(
    self,
    [self, name, failed](const caf::actor& dir) {
      self->request(dir, lookup_timeout, lookup_atom::value, name)
        .await(
          [self, name, failed](const caf::actor& room) {
            self
              ->request(room, caf::infinite, join_atom::value, self->state.nick, caf::actor{self},
                        self->state.connection)
              .await(
                [self, name, room](caf::ok_atom) {
                  auto& st = self->state;
                  if (st.wanted.count(name) == 0) {
                    self->send(room, leave_atom::value, caf::actor{self}); // left meanwhile
                    return;
                  }
                  auto& slot = st.rooms[name];
                  if (slot != room) {
                    if (slot)
                      self->demonitor(slot);
                    slot = room;
                    self->monitor(room);
                  }
                  if (auto i = st.held.find(name); i != st.held.end()) {
                    for (auto& [text, id] : i->second)
                      self->send(room, say_atom::value, caf::actor{self}, text, id);
                    st.held.erase(i);
                  }
                },
                failed);
          },
          failed);
    },
    failed);
}

} // namespace

caf::behavior session(caf::stateful_actor<session_state>* self, uint64_t id,
                      caf::actor connection) {
  auto& st = self->state;
  st.id = id;
  st.connection = std::move(connection);
  self->set_down_handler([self](caf::down_msg& msg) {
    // A room we joined went down: its supervisor restarts it; join it again.
    auto& st = self->state;
    for (auto i = st.rooms.begin(); i != st.rooms.end(); ++i) {
      if (i->second.address() == msg.source) {
        auto name = i->first;
        st.rooms.erase(i);
        if (st.wanted.count(name) > 0)
          join(self, name, 1);
        return;
      }
    }
  });
  return {
    [self](in_atom, const std::string& frame) {
      auto parsed = parse(frame);
      if (auto err = std::get_if<protocol_error>(&parsed)) {
        out(self, error(*err));
        return;
      }
      auto& req = std::get<request>(parsed);
      auto& st = self->state;
      if (req.kind == op::ping) {
        out(self, pong());
        return;
      }
      if (req.kind == op::hello) {
        if (!st.nick.empty()) {
          fail(self, "bad_field", "hello was already said");
          return;
        }
        st.nick = req.nick;
        out(self, welcome(st.id, st.nick));
        return;
      }
      if (st.nick.empty()) {
        fail(self, "hello_first", "say hello with a nick first");
        return;
      }
      switch (req.kind) {
        case op::join:
          st.wanted.insert(req.room);
          join(self, req.room, 0);
          break;
        case op::say:
        case op::leave: {
          auto i = st.rooms.find(req.room);
          if (i == st.rooms.end() && st.wanted.count(req.room) > 0) {
            // The room crashed and the session is joining it again.
            if (req.kind == op::leave) {
              st.wanted.erase(req.room);
              st.held.erase(req.room);
              return;
            }
            auto& held = st.held[req.room];
            if (held.size() >= max_held) {
              fail(self, "unavailable", "room " + req.room + " is coming back; message dropped");
              return;
            }
            held.emplace_back(req.text, req.id.dump());
            return;
          }
          if (i == st.rooms.end()) {
            fail(self, "not_joined", "not in room " + req.room);
            return;
          }
          if (req.kind == op::say) {
            self->send(i->second, say_atom::value, caf::actor{self}, req.text, req.id.dump());
            break;
          }
          self->demonitor(i->second);
          self->send(i->second, leave_atom::value, caf::actor{self});
          st.rooms.erase(i);
          st.wanted.erase(req.room);
          break;
        }
        default: break;
      }
    },
    [self](rejoin_atom, const std::string& name, int attempt) {
      auto& st = self->state;
      if (st.wanted.count(name) > 0 && st.rooms.count(name) == 0)
        join(self, name, attempt);
    },
  };
}

// -- factories ------------------------------------------------------------------------------

strata::supervisor_spec rooms_spec() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::simple_one_for_one;
  spec.intensity = 10;
  spec.period = std::chrono::seconds{1};
  strata::child_spec c{"room", strata::start("room")};
  c.restart = strata::restart_type::transient;
  spec.children = {c};
  return spec;
}

strata::supervisor_spec directory_spec(const caf::actor& rooms) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_one;
  spec.intensity = 10;
  spec.period = std::chrono::seconds{1};
  spec.children = {strata::child_spec{"directory", strata::start("directory", rooms)}};
  return spec;
}

void add_factories(strata::config& cfg) {
  cfg.add_worker("room", room);
  cfg.add_supervisor("rooms", [] { return rooms_spec(); });
  cfg.add_worker("directory", directory);
  cfg.add_worker("gateway", gateway);
  cfg.add_message_type<server_options>("chat::server_options");
}

} // namespace chat
