// The chat gateway's wire protocol: every client operation, every error code, the limits.

#include "protocol.hpp"

#include <catch2/catch.hpp>

using namespace chat;
using nlohmann::json;

namespace {

request ok(std::string_view frame) {
  auto x = parse(frame);
  INFO(frame);
  REQUIRE(std::holds_alternative<request>(x));
  return std::get<request>(x);
}

std::string code_of(std::string_view frame) {
  auto x = parse(frame);
  INFO(frame);
  REQUIRE(std::holds_alternative<protocol_error>(x));
  return std::get<protocol_error>(x).code;
}

} // namespace

TEST_CASE("each client operation parses") {
  auto hello = ok(R"({"op":"hello","nick":"ana"})");
  CHECK(hello.kind == op::hello);
  CHECK(hello.nick == "ana");
  auto join = ok(R"({"op":"join","room":"lobby"})");
  CHECK(join.kind == op::join);
  CHECK(join.room == "lobby");
  auto say = ok(R"({"op":"say","room":"lobby","text":"hi","id":"c1"})");
  CHECK(say.kind == op::say);
  CHECK(say.text == "hi");
  CHECK(say.id == json("c1"));
  CHECK(ok(R"({"op":"say","room":"r","text":"","id":7})").id == json(7));
  CHECK(ok(R"({"op":"leave","room":"lobby"})").kind == op::leave);
  CHECK(ok(R"({"op":"ping"})").kind == op::ping);
  CHECK(ok(R"({"op":"ping","extra":[1,2]})").kind == op::ping); // unknown fields: ignored
}

TEST_CASE("bad requests get their error codes") {
  CHECK(code_of("") == "bad_json");
  CHECK(code_of("{") == "bad_json");
  CHECK(code_of("\xff\xfe") == "bad_json");
  CHECK(code_of("[1,2]") == "bad_json");
  CHECK(code_of(R"("hello")") == "bad_json");
  CHECK(code_of(R"({"nick":"x"})") == "bad_field");
  CHECK(code_of(R"({"op":7})") == "bad_field");
  CHECK(code_of(R"({"op":"dance"})") == "unknown_op");
  CHECK(code_of(R"({"op":"hello"})") == "bad_field");
  CHECK(code_of(R"({"op":"hello","nick":""})") == "bad_field");
  CHECK(code_of(R"({"op":"hello","nick":42})") == "bad_field");
  CHECK(code_of(R"({"op":"hello","nick":"a\nb"})") == "bad_field");
  CHECK(code_of(R"({"op":"hello","nick":")" + std::string(max_nick_bytes + 1, 'n') + "\"}")
        == "bad_field");
  CHECK(code_of(R"({"op":"join"})") == "bad_field");
  CHECK(code_of(R"({"op":"join","room":"no spaces"})") == "bad_field");
  CHECK(code_of(R"({"op":"join","room":")" + std::string(max_room_bytes + 1, 'r') + "\"}")
        == "bad_field");
  CHECK(code_of(R"({"op":"say","room":"r","id":1})") == "bad_field");
  CHECK(code_of(R"({"op":"say","room":"r","text":"t"})") == "bad_field");
  CHECK(code_of(R"({"op":"say","room":"r","text":"t","id":1.5})") == "bad_field");
  CHECK(code_of(R"({"op":"say","room":"r","text":"t","id":{}})") == "bad_field");
  CHECK(code_of(R"({"op":"say","room":"r","text":")" + std::string(max_text_bytes + 1, 't')
                + R"(","id":1})")
        == "bad_field");
}

TEST_CASE("limits hold at their edges") {
  ok(R"({"op":"hello","nick":")" + std::string(max_nick_bytes, 'n') + "\"}");
  ok(R"({"op":"join","room":")" + std::string(max_room_bytes, 'r') + "\"}");
  ok(R"({"op":"say","room":"r","text":")" + std::string(max_text_bytes, 't') + R"(","id":1})");
  CHECK(valid_nick("Zoë")); // UTF-8 is fine
  CHECK_FALSE(valid_nick("\xc3")); // a truncated sequence is not
  CHECK_FALSE(valid_nick("\xc0\xaf")); // nor an overlong form
  CHECK_FALSE(valid_nick("\xed\xa0\x80")); // nor a surrogate
  CHECK(valid_room("a-b_c.1"));
  CHECK_FALSE(valid_room(""));
}

TEST_CASE("server frames render exactly as documented") {
  CHECK(json::parse(welcome(7, "ana")) == json{{"op", "welcome"}, {"session", 7}, {"nick", "ana"}});
  auto m = message("lobby", "ana", "hi", json("c1"), 1234);
  CHECK(json::parse(m)
        == json{{"op", "message"},
                {"room", "lobby"},
                {"from", "ana"},
                {"text", "hi"},
                {"id", "c1"},
                {"ts", 1234}});
  CHECK(json::parse(joined("lobby", {"ana", "bo"}, {m}))
        == json{{"op", "joined"},
                {"room", "lobby"},
                {"members", {"ana", "bo"}},
                {"history", json::array({json::parse(m)})}});
  CHECK(json::parse(presence("lobby", "bo", true))
        == json{{"op", "presence"}, {"room", "lobby"}, {"nick", "bo"}, {"state", "joined"}});
  CHECK(json::parse(presence("lobby", "bo", false))["state"] == "left");
  CHECK(json::parse(pong()) == json{{"op", "pong"}});
  CHECK(json::parse(error({"not_joined", "not in room x"}))
        == json{{"op", "error"}, {"code", "not_joined"}, {"reason", "not in room x"}});
}
