#pragma once

#include <cstdint>

#include "internal/frame.hpp"

namespace strata::nodes::internal {

/// Walks the frames a message of `size` bytes is sent as (frame.hpp): one `whole` frame, or
/// `first`, `middle`..., `last`, each at most max_frame_size(capacity) bytes.
class frame_plan {
public:
  frame_plan(uint64_t size, uint64_t capacity) noexcept
    : size_(size), max_frame_(max_frame_size(capacity)), whole_(frame_size(size) <= max_frame_) {
    // nop
  }

  /// Whether every frame has been visited.
  bool done() const noexcept {
    return done_;
  }

  /// The current frame's kind.
  frame_kind kind() const noexcept {
    if (whole_)
      return frame_kind::whole;
    if (!started_)
      return frame_kind::first;
    return size_ - offset_ <= chunk() ? frame_kind::last : frame_kind::middle;
  }

  /// Offset in the message of the current frame's data.
  uint64_t data_offset() const noexcept {
    return offset_;
  }

  /// Message bytes the current frame carries.
  uint64_t data_length() const noexcept {
    switch (kind()) {
      case frame_kind::whole: return size_;
      case frame_kind::first: return chunk() - first_prefix_size;
      case frame_kind::middle: return chunk();
      default: return size_ - offset_;
    }
  }

  /// The current frame's payload length (its header's `length` field).
  uint64_t payload_length() const noexcept {
    return data_length() + (kind() == frame_kind::first ? first_prefix_size : 0);
  }

  /// The current frame's size in the ring.
  uint64_t frame_bytes() const noexcept {
    return frame_size(payload_length());
  }

  /// Moves to the next frame.
  void next() noexcept {
    auto k = kind();
    offset_ += data_length();
    started_ = true;
    done_ = k == frame_kind::whole || k == frame_kind::last;
  }

private:
  // Data bytes of a full fragment frame.
  uint64_t chunk() const noexcept {
    return max_frame_ - frame_header_size;
  }

  uint64_t size_;
  uint64_t max_frame_;
  bool whole_;
  uint64_t offset_ = 0;
  bool started_ = false;
  bool done_ = false;
};

} // namespace strata::nodes::internal
