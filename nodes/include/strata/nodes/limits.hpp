#pragma once

#include <cstdint>

namespace strata::nodes {

/// Bounds of an inbox's geometry. `inbox::create` rejects options outside them, and
/// `outbox::open` rejects a segment header outside them, whoever wrote it.

/// Most rings (sending-node slots) in one inbox.
constexpr uint32_t max_rings = 1024;

/// Smallest ring: 1 KiB of frame data. Rings are powers of two, so that a byte counter maps
/// to an offset with a mask.
constexpr uint64_t min_ring_capacity = uint64_t{1} << 10;

/// Largest ring: 1 GiB of frame data.
constexpr uint64_t max_ring_capacity = uint64_t{1} << 30;

/// Default maximum message size: 64 MiB. Larger messages are refused by the writer
/// (`message_too_large`) and treated as corruption by the reader.
constexpr uint64_t default_max_message_size = uint64_t{64} << 20;

/// Largest maximum message size an inbox may be configured with: 1 GiB. The reader buffers a
/// fragmented message until its last fragment, so this bounds its memory per ring.
constexpr uint64_t max_message_size_limit = uint64_t{1} << 30;

} // namespace strata::nodes
