#pragma once

// Framing of the bytes in a ring.
//
// A frame is an 8-byte header `[u32 length][u32 kind]` (native byte order: both sides run on
// one host) followed by `length` payload bytes, padded to a multiple of 8, so every frame
// starts 8-byte aligned. A frame never crosses the end of the data area: when the next frame
// does not fit before the end, the writer first fills the rest with a padding frame.
//
// A message whose frame fits in `max_frame_size` is one `whole` frame. A larger one is split:
// a `first` frame whose payload starts with the message's total length (u64) followed by the
// first bytes, then `middle` frames, then a `last` frame; each fragment frame is at most
// `max_frame_size` bytes. A `cancel` frame (no payload) tells the reader to discard the
// fragments received so far: the writer sends it when a blocking write gave up mid-message.

#include <cstdint>

namespace strata::nodes::internal {

/// What a frame carries. Any other value in the kind field is corruption.
enum class frame_kind : uint32_t {
  whole = 1, ///< a complete message
  first = 2, ///< the first fragment: u64 total length, then data
  middle = 3, ///< a fragment that neither starts nor ends a message
  last = 4, ///< the final fragment
  cancel = 5, ///< discard the fragments received so far (no payload)
  padding = 6, ///< skip to the end of the data area (its payload runs exactly to the end)
};

/// The header of every frame.
struct frame_header {
  uint32_t length; ///< payload bytes, excluding this header and the alignment padding
  uint32_t kind; ///< a frame_kind
};

static_assert(sizeof(frame_header) == 8);

/// Frames start at multiples of this.
constexpr uint64_t frame_alignment = 8;

/// Size of a frame header.
constexpr uint64_t frame_header_size = sizeof(frame_header);

/// Size of the total-length prefix in a `first` frame's payload.
constexpr uint64_t first_prefix_size = 8;

/// Rounds `n` up to a multiple of frame_alignment.
constexpr uint64_t align_frame(uint64_t n) noexcept {
  return (n + frame_alignment - 1) & ~(frame_alignment - 1);
}

/// Size in the ring of a frame with `length` payload bytes.
constexpr uint64_t frame_size(uint64_t length) noexcept {
  return frame_header_size + align_frame(length);
}

/// Largest frame (header included) other than padding, for a ring of `capacity` bytes.
/// A quarter of the ring: a writer waits for at most a quarter plus padding (< a quarter), and
/// a frame of at most half the ring always fits once the ring has drained.
constexpr uint64_t max_frame_size(uint64_t capacity) noexcept {
  return capacity / 4;
}

/// Bytes in the ring of a message of `size` bytes, without padding frames.
constexpr uint64_t framed_size(uint64_t size, uint64_t capacity) noexcept {
  auto max_frame = max_frame_size(capacity);
  if (frame_size(size) <= max_frame)
    return frame_size(size);
  auto first_data = max_frame - frame_header_size - first_prefix_size;
  auto chunk = max_frame - frame_header_size;
  auto rest = size - first_data; // > 0: the message did not fit in one frame
  auto middles = (rest - 1) / chunk;
  return max_frame + middles * max_frame + frame_size(rest - middles * chunk);
}

} // namespace strata::nodes::internal
