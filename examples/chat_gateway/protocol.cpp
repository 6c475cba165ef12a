#include "protocol.hpp"

#include <optional>
#include <utility>

namespace chat {

namespace {

protocol_error bad_field(std::string what) {
  return {"bad_field", std::move(what)};
}

// Reads the string field `key` of `obj` into `out`; an error when it is missing or no string.
bool string_field(const nlohmann::json& obj, const char* key, std::string& out) {
  auto i = obj.find(key);
  if (i == obj.end() || !i->is_string())
    return false;
  out = i->get<std::string>();
  return true;
}

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= text.size())
      return false; // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

bool valid_room(std::string_view room) {
  if (room.empty() || room.size() > max_room_bytes)
    return false;
  for (auto c : room)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-' || c == '.'))
      return false;
  return true;
}

bool valid_nick(std::string_view nick) {
  if (nick.empty() || nick.size() > max_nick_bytes || !valid_utf8(nick))
    return false;
  for (auto c : nick)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return false;
  return true;
}

std::variant<request, protocol_error> parse(std::string_view frame) {
  auto doc = nlohmann::json::parse(frame.begin(), frame.end(), nullptr, false);
  if (doc.is_discarded())
    return protocol_error{"bad_json", "not valid JSON"};
  if (!doc.is_object())
    return protocol_error{"bad_json", "a frame is a JSON object"};
  std::string name;
  if (!string_field(doc, "op", name))
    return bad_field("\"op\" must be a string");
  request req;
  auto room = [&]() -> std::optional<protocol_error> {
    if (!string_field(doc, "room", req.room))
      return bad_field("\"room\" must be a string");
    if (!valid_room(req.room))
      return bad_field("\"room\" must be 1 to " + std::to_string(max_room_bytes)
                       + " characters of A-Z a-z 0-9 _ . -");
    return std::nullopt;
  };
  if (name == "hello") {
    req.kind = op::hello;
    if (!string_field(doc, "nick", req.nick))
      return bad_field("\"nick\" must be a string");
    if (!valid_nick(req.nick))
      return bad_field("\"nick\" must be 1 to " + std::to_string(max_nick_bytes)
                       + " bytes of UTF-8 without control characters");
  } else if (name == "join" || name == "leave") {
    req.kind = name == "join" ? op::join : op::leave;
    if (auto err = room())
      return *err;
  } else if (name == "say") {
    req.kind = op::say;
    if (auto err = room())
      return *err;
    if (!string_field(doc, "text", req.text))
      return bad_field("\"text\" must be a string");
    if (req.text.size() > max_text_bytes || !valid_utf8(req.text))
      return bad_field("\"text\" must be at most " + std::to_string(max_text_bytes)
                       + " bytes of UTF-8");
    auto id = doc.find("id");
    if (id == doc.end())
      return bad_field("\"id\" is missing");
    if (id->is_string()) {
      if (id->get_ref<const std::string&>().size() > max_client_id_bytes)
        return bad_field("\"id\" must be at most " + std::to_string(max_client_id_bytes)
                         + " bytes");
    } else if (!id->is_number_integer()) {
      return bad_field("\"id\" must be a string or an integer");
    }
    req.id = *id;
  } else if (name == "ping") {
    req.kind = op::ping;
  } else {
    return protocol_error{"unknown_op", "no operation \"" + name + "\""};
  }
  return req;
}

std::string welcome(uint64_t session, const std::string& nick) {
  return nlohmann::json{{"op", "welcome"}, {"session", session}, {"nick", nick}}.dump();
}

std::string joined(const std::string& room, const std::vector<std::string>& members,
                   const std::vector<std::string>& history) {
  auto hist = nlohmann::json::array();
  for (auto& m : history)
    hist.push_back(nlohmann::json::parse(m));
  return nlohmann::json{{"op", "joined"}, {"room", room}, {"members", members}, {"history", hist}}
    .dump();
}

std::string presence(const std::string& room, const std::string& nick, bool joined) {
  return nlohmann::json{
    {"op", "presence"}, {"room", room}, {"nick", nick}, {"state", joined ? "joined" : "left"}}
    .dump();
}

std::string message(const std::string& room, const std::string& from, const std::string& text,
                    const nlohmann::json& id, int64_t ts_ms) {
  return nlohmann::json{{"op", "message"}, {"room", room}, {"from", from},
                        {"text", text},    {"id", id},     {"ts", ts_ms}}
    .dump();
}

std::string pong() {
  return R"({"op":"pong"})";
}

std::string error(const protocol_error& err) {
  return nlohmann::json{{"op", "error"}, {"code", err.code}, {"reason", err.reason}}.dump();
}

} // namespace chat
