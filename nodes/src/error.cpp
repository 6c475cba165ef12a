#include "strata/nodes/error.hpp"

#include "strata/error.hpp"

namespace strata::nodes {

std::string to_string(error x) {
  switch (x) {
    case error::none: return "none";
    case error::system_error: return "system_error";
    case error::segment_exists: return "segment_exists";
    case error::segment_not_found: return "segment_not_found";
    case error::invalid_segment: return "invalid_segment";
    case error::version_mismatch: return "version_mismatch";
    case error::token_mismatch: return "token_mismatch";
    case error::invalid_argument: return "invalid_argument";
    case error::slot_in_use: return "slot_in_use";
    case error::would_block: return "would_block";
    case error::exceeds_ring: return "exceeds_ring";
    case error::message_too_large: return "message_too_large";
    case error::ring_full: return "ring_full";
    case error::corrupt_ring: return "corrupt_ring";
    case error::ring_closed: return "ring_closed";
    case error::zygote_gone: return "zygote_gone";
    case error::node_down: return "node_down";
  }
  return "error(" + std::to_string(static_cast<int>(x)) + ")";
}

bool is(const caf::error& err, error code) noexcept {
  // CAF 0.17's category() dereferences the error's data: never call it on an empty error.
  return err && err.category() == error_category && err.code() == static_cast<uint8_t>(code);
}

std::string to_text(const caf::error& err) {
  if (!err || err.category() != error_category)
    return strata::to_text(err);
  // strata::to_text renders the context of any category; only the name is ours.
  auto generic = strata::to_text(err);
  auto name = to_string(static_cast<error>(err.code()));
  auto colon = generic.find(": ");
  return colon == std::string::npos ? name : name + generic.substr(colon);
}

} // namespace strata::nodes
