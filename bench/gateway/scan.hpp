#pragma once

// chat_loadgen reads hundreds of thousands of server frames a second on the cores the server
// under test needs too, so it does not parse them into a JSON tree: `scan` walks a frame's
// top-level object once, skipping values it does not need, and returns the raw text of its
// "op" and "text" strings. It holds for any key order (nlohmann sorts keys, Node keeps them
// in insertion order) and never mistakes a key inside a nested value (a `joined` frame's
// history holds whole `message` frames) for a top-level one.

#include <string_view>

namespace strata::bench {

struct scanned_frame {
  bool ok = false; // a JSON object, as far as the walk looked
  std::string_view op; // raw string contents, escapes left as sent
  std::string_view text;
};

namespace detail {

inline void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    ++i;
}

// At an opening quote: moves past the closing one and returns the contents.
inline bool read_string(std::string_view s, size_t& i, std::string_view& out) {
  auto start = ++i;
  while (i < s.size()) {
    if (s[i] == '\\')
      i += 2;
    else if (s[i] == '"') {
      out = s.substr(start, i - start);
      ++i;
      return true;
    } else
      ++i;
  }
  return false;
}

// Moves past one value (a string, an object, an array or a scalar).
inline bool skip_value(std::string_view s, size_t& i) {
  if (i >= s.size())
    return false;
  std::string_view ignored;
  if (s[i] == '"')
    return read_string(s, i, ignored);
  if (s[i] != '{' && s[i] != '[') {
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']')
      ++i;
    return i < s.size();
  }
  int depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      if (!read_string(s, i, ignored))
        return false;
      continue;
    }
    if (c == '{' || c == '[')
      ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) {
        ++i;
        return true;
      }
    }
    ++i;
  }
  return false;
}

} // namespace detail

/// Finds the top-level "op" and "text" of a JSON object frame. `ok` is false for what is not
/// an object; a missing field is empty.
inline scanned_frame scan(std::string_view s) {
  using namespace detail;
  scanned_frame out;
  size_t i = 0;
  skip_space(s, i);
  if (i >= s.size() || s[i] != '{')
    return out;
  ++i;
  for (;;) {
    skip_space(s, i);
    if (i >= s.size())
      return out;
    if (s[i] == '}') {
      out.ok = true;
      return out;
    }
    std::string_view key;
    if (s[i] != '"' || !read_string(s, i, key))
      return out;
    skip_space(s, i);
    if (i >= s.size() || s[i] != ':')
      return out;
    ++i;
    skip_space(s, i);
    if (i < s.size() && s[i] == '"' && (key == "op" || key == "text")) {
      if (!read_string(s, i, key == "op" ? out.op : out.text))
        return out;
    } else if (!skip_value(s, i)) {
      return out;
    }
    skip_space(s, i);
    if (i < s.size() && s[i] == ',')
      ++i;
  }
}

} // namespace strata::bench
