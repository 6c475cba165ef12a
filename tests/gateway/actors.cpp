// The chat gateway's actors without a network: sessions, rooms and the room directory, with
// scoped actors standing in for the clients' connections.

#include "actors.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "protocol.hpp"

using namespace chat;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The rooms' and the directory's trees, as chat_gateway starts them.
struct gateway_fixture {
  explicit gateway_fixture(strata::supervisor_spec spec = rooms_spec()) {
    add_factories(cfg);
    sys.emplace(cfg);
    auto sup = sys->start_supervisor("rooms", std::move(spec));
    REQUIRE(sup);
    rooms = *sup;
    auto dir = sys->start_supervisor("directory", directory_spec(rooms));
    REQUIRE(dir);
    directory_sup = *dir;
  }

  // The directory that runs now.
  caf::actor directory() {
    auto children = strata::which_children(directory_sup);
    REQUIRE(children);
    REQUIRE(children->size() == 1);
    return children->front().handle;
  }

  strata::config cfg;
  std::optional<strata::system> sys;
  caf::actor rooms;
  caf::actor directory_sup;
};

// A client: a scoped actor as its connection, and its session.
struct client {
  client(gateway_fixture& f, uint64_t id) : conn(f.sys->actors()) {
    session = f.sys->actors().spawn(chat::session, id, caf::actor{conn});
  }

  ~client() {
    caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  }

  void send(const std::string& frame) {
    conn->send(session, in_atom::value, frame);
  }

  json next() {
    json got;
    conn->receive([&](out_atom, const std::string& frame) { got = json::parse(frame); },
                  caf::after(5s) >> [] { FAIL("no frame within 5 s"); });
    return got;
  }

  // The next frame with this op (skipping others, e.g. presence notices).
  json next(const std::string& op) {
    for (int i = 0; i < 1000; ++i)
      if (auto x = next(); x["op"] == op)
        return x;
    FAIL("no " + op + " frame");
    return {};
  }

  // Says hello and joins `room`; returns the joined frame.
  json enter(const std::string& nick, const std::string& room) {
    send(json{{"op", "hello"}, {"nick", nick}}.dump());
    auto w = next();
    REQUIRE(w["op"] == "welcome");
    send(json{{"op", "join"}, {"room", room}}.dump());
    return next("joined");
  }

  caf::scoped_actor conn;
  caf::actor session;
};

std::vector<std::string> sorted(json members) {
  std::vector<std::string> out = members.get<std::vector<std::string>>();
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("a session answers hello, ping and bad frames, and stays open") {
  gateway_fixture f;
  client a{f, 1};
  a.send(R"({"op":"join","room":"lobby"})");
  CHECK(a.next()["code"] == "hello_first");
  a.send("not json");
  CHECK(a.next()["code"] == "bad_json");
  a.send(R"({"op":"hello","nick":"ana"})");
  CHECK(a.next() == json{{"op", "welcome"}, {"session", 1}, {"nick", "ana"}});
  a.send(R"({"op":"hello","nick":"ana"})");
  CHECK(a.next()["code"] == "bad_field");
  a.send(R"({"op":"ping"})");
  CHECK(a.next() == json{{"op", "pong"}});
  a.send(R"({"op":"say","room":"lobby","text":"hi","id":1})");
  CHECK(a.next()["code"] == "not_joined");
  a.send(R"({"op":"leave","room":"lobby"})");
  CHECK(a.next()["code"] == "not_joined");
  a.send(R"({"op":"fly"})");
  CHECK(a.next()["code"] == "unknown_op");
  a.send(R"({"op":"ping"})");
  CHECK(a.next()["op"] == "pong");
}

TEST_CASE("members, presence, messages to everyone and history") {
  gateway_fixture f;
  client a{f, 1};
  client b{f, 2};
  auto ja = a.enter("ana", "lobby");
  CHECK(ja["members"] == json::array({"ana"}));
  CHECK(ja["history"] == json::array());
  auto jb = b.enter("bo", "lobby");
  CHECK(sorted(jb["members"]) == std::vector<std::string>{"ana", "bo"});
  CHECK(a.next()
        == json{{"op", "presence"}, {"room", "lobby"}, {"nick", "bo"}, {"state", "joined"}});
  // Every member gets every message, the sender too, in the order sent.
  for (int i = 0; i < 60; ++i)
    a.send(
      json{{"op", "say"}, {"room", "lobby"}, {"text", "m" + std::to_string(i)}, {"id", i}}.dump());
  for (auto* c : {&a, &b}) {
    for (int i = 0; i < 60; ++i) {
      auto m = c->next();
      REQUIRE(m["op"] == "message");
      CHECK(m["from"] == "ana");
      CHECK(m["room"] == "lobby");
      CHECK(m["id"] == i);
      CHECK(m["text"] == "m" + std::to_string(i));
      CHECK(m["ts"].is_number_integer());
    }
  }
  // Who joins later gets the last 50.
  client c{f, 3};
  auto jc = c.enter("cy", "lobby");
  REQUIRE(jc["history"].size() == history_size);
  CHECK(jc["history"][0]["id"] == 10);
  CHECK(jc["history"][49]["id"] == 59);
  CHECK(a.next()["nick"] == "cy");
  CHECK(b.next()["nick"] == "cy");
  // Leaving, and a session that ends, are announced.
  c.send(R"({"op":"leave","room":"lobby"})");
  CHECK(a.next() == json{{"op", "presence"}, {"room", "lobby"}, {"nick", "cy"}, {"state", "left"}});
  CHECK(b.next()["state"] == "left");
  caf::anon_send_exit(b.session, caf::exit_reason::kill);
  CHECK(a.next() == json{{"op", "presence"}, {"room", "lobby"}, {"nick", "bo"}, {"state", "left"}});
  c.send(R"({"op":"say","room":"lobby","text":"x","id":"late"})");
  CHECK(c.next()["code"] == "not_joined");
}

TEST_CASE("two sessions joining a new room at once get the same room") {
  gateway_fixture f;
  client a{f, 1};
  client b{f, 2};
  for (auto* c : {&a, &b}) {
    c->send(R"({"op":"hello","nick":"n)" + std::to_string(c == &a ? 1 : 2) + "\"}");
    c->next();
  }
  a.send(R"({"op":"join","room":"new"})");
  b.send(R"({"op":"join","room":"new"})");
  auto ja = a.next("joined");
  auto jb = b.next("joined");
  CHECK(ja["members"].size() + jb["members"].size() == 3); // one saw the other
  auto counts = strata::count_children(f.rooms);
  REQUIRE(counts);
  CHECK(counts->active == 1);
}

TEST_CASE("a crashed room is restarted, and its sessions join it again") {
  gateway_fixture f;
  client a{f, 1};
  a.enter("ana", "lobby");
  auto room = strata::which_children(f.rooms);
  REQUIRE(room);
  REQUIRE(room->size() == 1);
  caf::anon_send_exit(room->front().handle, caf::exit_reason::kill);
  // The client sees the room again (a fresh `joined`), and can talk in it.
  auto again = a.next("joined");
  CHECK(again["members"] == json::array({"ana"}));
  a.send(R"({"op":"say","room":"lobby","text":"back","id":1})");
  CHECK(a.next("message")["text"] == "back");
  auto now = strata::which_children(f.rooms);
  REQUIRE(now);
  REQUIRE(now->size() == 1);
  CHECK(now->front().handle != room->front().handle);
  CHECK(now->front().restarts == 1);
}

TEST_CASE("messages said while a room is down get no error, and talk goes on once it is back") {
  // The room comes back only after a backoff. Messages said before the session hears of the
  // crash die with the room (as Erlang's messages to a dead process); those said while it
  // joins the room again wait and are sent once it is back. Either way: no error, no
  // reordering, and `joined` again.
  auto spec = rooms_spec();
  spec.children.front().backoff.min = std::chrono::milliseconds{300};
  spec.children.front().backoff.max = std::chrono::milliseconds{300};
  gateway_fixture f{spec};
  client a{f, 1};
  a.enter("ana", "lobby");
  auto room = strata::which_children(f.rooms);
  REQUIRE(room);
  REQUIRE(room->size() == 1);
  caf::anon_send_exit(room->front().handle, caf::exit_reason::kill);
  for (int id = 1; id <= 5; ++id)
    a.send(json{{"op", "say"}, {"room", "lobby"}, {"text", "held"}, {"id", id}}.dump());
  int last = 0;
  bool rejoined = false;
  for (;;) {
    auto x = a.next();
    REQUIRE(x["op"] != "error");
    if (x["op"] == "joined") {
      if (rejoined)
        FAIL("joined twice");
      rejoined = true;
      a.send(R"({"op":"say","room":"lobby","text":"back","id":6})");
    } else if (x["op"] == "message") {
      CHECK(x["id"].get<int>() > last);
      last = x["id"].get<int>();
      if (last == 6)
        break;
    }
  }
  CHECK(rejoined);
}

TEST_CASE("a crashed directory is restarted, knows the running rooms again, and talk goes on") {
  gateway_fixture f;
  client a{f, 1};
  a.enter("ana", "lobby");
  auto first = f.directory();
  caf::anon_send_exit(first, caf::exit_reason::kill);
  // A session that comes meanwhile finds the new directory by its name, which gives it the
  // room that runs, not a second room of that name.
  client b{f, 2};
  auto joined = b.enter("bob", "lobby");
  CHECK(sorted(joined["members"]) == std::vector<std::string>{"ana", "bob"});
  CHECK(a.next("presence")["nick"] == "bob");
  b.send(R"({"op":"say","room":"lobby","text":"hi","id":1})");
  CHECK(a.next("message")["text"] == "hi");
  CHECK(f.directory() != first);
  auto rooms = strata::which_children(f.rooms);
  REQUIRE(rooms);
  CHECK(rooms->size() == 1);
  // New rooms are started as before.
  b.send(R"({"op":"join","room":"den"})");
  CHECK(b.next("joined")["room"] == "den");
  // A room that crashes now comes back to the new directory: its sessions join it again.
  auto lobby = rooms->front().handle;
  caf::anon_send_exit(lobby, caf::exit_reason::kill);
  CHECK(a.next("joined")["room"] == "lobby");
  a.send(R"({"op":"say","room":"lobby","text":"back","id":2})");
  CHECK(a.next("message")["text"] == "back");
  auto after = strata::which_children(f.rooms);
  REQUIRE(after);
  CHECK(after->size() == 2); // lobby (restarted, once) and den
}
