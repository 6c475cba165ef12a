#pragma once

// The chat gateway's wire protocol: JSON text frames, one operation per frame (README,
// "Chat gateway"). Pure functions: parsing a client frame into a request or a protocol error,
// and rendering every server frame.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace chat {

/// Limits; a frame over `max_frame_bytes` closes the connection (WebSocket close code 1009),
/// a field over its limit is a `bad_field` error.
constexpr size_t max_frame_bytes = 16 * 1024;
constexpr size_t max_nick_bytes = 32;
constexpr size_t max_room_bytes = 64;
constexpr size_t max_text_bytes = 4000;
constexpr size_t max_client_id_bytes = 64;

/// Messages a room keeps and sends to who joins.
constexpr size_t history_size = 50;

/// The client operations.
enum class op { hello, join, say, leave, ping };

/// A well-formed client request. `id` (say only) is the client's message id, a string or an
/// integer, echoed back as given.
struct request {
  op kind = op::ping;
  std::string nick; // hello
  std::string room; // join, say, leave
  std::string text; // say
  nlohmann::json id; // say
};

/// A request the gateway answers with `{"op":"error",...}`; the session stays open.
struct protocol_error {
  std::string code; // bad_json, unknown_op, bad_field, hello_first, not_joined, rate_limited
  std::string reason;
};

/// Parses one client text frame.
std::variant<request, protocol_error> parse(std::string_view frame);

/// Whether `room` is a valid room name: 1 to `max_room_bytes` of [A-Za-z0-9_.-].
bool valid_room(std::string_view room);

/// Whether `nick` is a valid nick: 1 to `max_nick_bytes` bytes of valid UTF-8 without control
/// characters.
bool valid_nick(std::string_view nick);

// -- server frames ---------------------------------------------------------------------------

std::string welcome(uint64_t session, const std::string& nick);

/// `history`: rendered `message` frames, oldest first.
std::string joined(const std::string& room, const std::vector<std::string>& members,
                   const std::vector<std::string>& history);

std::string presence(const std::string& room, const std::string& nick, bool joined);

std::string message(const std::string& room, const std::string& from, const std::string& text,
                    const nlohmann::json& id, int64_t ts_ms);

std::string pong();

std::string error(const protocol_error& err);

} // namespace chat
