#pragma once

// The bytes of an inbox segment. Everything here lives in shared memory, is shared by processes
// that may die at any instruction or write garbage, and is accessed only through the views in
// ring_writer / ring_reader / inbox / outbox, which validate every value they read from it.
//
//   offset 0                    segment_header_data (3 cache lines)
//   rings_offset                ring 0: ring_header_data (3 cache lines), then `capacity` bytes
//   rings_offset + 1 * stride   ring 1: ...
//
// No pointers: positions are byte counters and offsets computed from the validated geometry.
// No locks: each ring has one producer process (the sending node of that slot) and one consumer
// (the owning node's receive thread); the futex words are only slept on, never held. (The one
// mutex, a ring's liveness token, is held by its producer as a sign of life and never waited
// for: see ring_header_data.)

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <pthread.h>
#include <type_traits>

namespace strata::nodes::internal {

/// Cache line size of the targets we run on (x86-64, and most arm64 cores).
constexpr size_t cache_line_size = 64;

/// "STRATAIB" read as a little-endian uint64: the first 8 bytes of every inbox segment.
constexpr uint64_t segment_magic = 0x4249415441525453;

/// Layout version: bump on any change to the structs below or to the framing (frame.hpp).
constexpr uint32_t layout_version = 2;

/// Header of an inbox segment, at offset 0.
struct segment_header_data {
  // -- Cache line 0: identity and geometry. The owner writes these fields once and then
  // publishes `magic` with a release store; an opener loads `magic` with acquire, then copies
  // and validates the fields, and never reads them again (a peer could rewrite them later).
  // `magic`, `version` and `owner_pid` sit at offsets 0, 8 and 12 in every layout version: the
  // stale-segment scan reads them without knowing the version.
  std::atomic<uint64_t> magic;
  uint32_t version;
  int32_t owner_pid;
  uint32_t ring_count;
  uint32_t reserved;
  uint64_t ring_capacity; ///< bytes of frame data per ring, a power of two
  uint64_t max_message_size; ///< largest message a writer may send
  uint64_t segment_size; ///< total bytes, as created
  uint8_t token[16]; ///< the cluster token (cluster_token::bytes)

  // -- Cache line 1: written by the receiver only (set before it sleeps, cleared after); read
  // by every producer after each publication, to decide whether to wake it. Apart from the
  // producer-written `wake_seq`, so that producers' wake-ups don't invalidate this line.
  alignas(cache_line_size) std::atomic<uint32_t> receiver_sleeping;

  // -- Cache line 2: the receiver's futex word. Producers (and inbox::notify) increment it and
  // wake the receiver; the receiver reads it before announcing that it sleeps.
  alignas(cache_line_size) std::atomic<uint32_t> wake_seq;
};

/// Header of one ring, followed by the ring's `capacity` bytes of frames.
///
/// `head` and `tail` are monotonic byte counters (never wrapped: 2^64 bytes is centuries at any
/// rate); the offset of a counter in the data area is `counter & (capacity - 1)`. The ring holds
/// `head - tail` unread bytes, at most `capacity`. Both are multiples of 8 (frames are 8-byte
/// aligned).
struct ring_header_data {
  // -- Cache line 0: written by the producer only (and by inbox::reset_ring, once the producer
  // is dead). The consumer reads `head` on every poll. Producer-written and consumer-written
  // fields sit on separate lines: otherwise every store by one side would invalidate the line
  // the other side polls, and the line would bounce between the cores at every message.
  alignas(cache_line_size) std::atomic<uint64_t> head; ///< bytes published by the producer
  std::atomic<uint32_t> writer_waiting; ///< 1 while the producer sleeps on `space_seq`
  std::atomic<int32_t> writer_pid; ///< the claiming producer's pid, 0 when unclaimed

  // -- Cache line 1: written by the consumer only. The producer reads `tail` only when its
  // cached copy shows too little free space.
  alignas(cache_line_size) std::atomic<uint64_t> tail; ///< bytes consumed by the consumer
  std::atomic<uint32_t> space_seq; ///< futex word: incremented when space is freed for a waiter
  std::atomic<uint32_t> closed; ///< 1 once the consumer found the ring corrupt

  // -- Cache line 2: the producer's liveness token (outbox::hold_liveness). A robust,
  // process-shared pthread mutex that one thread of the producer process locks and holds
  // until it dies: as that thread exits, at the start of the process's teardown, the kernel
  // sets FUTEX_OWNER_DIED in the lock word and wakes whoever waits on it, so the consumer
  // learns of the producer's death hundreds of microseconds before the process is gone.
  // Only the producer's glibc treats it as a mutex (its `__list` links hold the producer's
  // addresses, read by nobody else). The consumer only reads the lock word and sets
  // FUTEX_WAITERS in it; nobody ever waits to acquire it, so a dead holder blocks no one.
  alignas(cache_line_size) pthread_mutex_t liveness;
};

// A *_data struct must be placeable in a mapping by any process without running constructors
// or destructors, and mean the same bytes to every process built from this source.
// Note: std::atomic's copy operations are deleted; GCC and Clang still call such a class
// trivially copyable (CWG 1734 is not implemented), and what we rely on is spelled out by the
// default-constructible and destructible asserts.
template <class T>
constexpr bool is_shm_data = std::is_standard_layout_v<T>&& std::is_trivially_copyable_v<T>&&
  std::is_trivially_default_constructible_v<T>&& std::is_trivially_destructible_v<T>;

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);
// The futex syscall takes the address of a plain 32-bit word.
static_assert(sizeof(std::atomic<uint32_t>) == 4 && alignof(std::atomic<uint32_t>) == 4);
static_assert(sizeof(std::atomic<uint64_t>) == 8);

static_assert(is_shm_data<segment_header_data>);
static_assert(sizeof(segment_header_data) == 3 * cache_line_size);
static_assert(offsetof(segment_header_data, magic) == 0);
static_assert(offsetof(segment_header_data, version) == 8);
static_assert(offsetof(segment_header_data, owner_pid) == 12);
static_assert(offsetof(segment_header_data, token) + 16 <= cache_line_size);
static_assert(offsetof(segment_header_data, receiver_sleeping) == cache_line_size);
static_assert(offsetof(segment_header_data, wake_seq) == 2 * cache_line_size);

static_assert(is_shm_data<ring_header_data>);
static_assert(sizeof(ring_header_data) == 3 * cache_line_size);
static_assert(offsetof(ring_header_data, tail) == cache_line_size);
static_assert(offsetof(ring_header_data, liveness) == 2 * cache_line_size);
static_assert(sizeof(pthread_mutex_t) <= cache_line_size);
// The futex word of a glibc mutex is its first member (what the kernel's robust-list walk
// and the consumer's watch use).
static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0);

/// The futex word of ring `ring`'s liveness token.
inline std::atomic<uint32_t>* liveness_word(ring_header_data* ring) noexcept {
  return reinterpret_cast<std::atomic<uint32_t>*>(&ring->liveness);
}

/// Offset of ring 0.
constexpr uint64_t rings_offset = sizeof(segment_header_data);

/// Distance between two rings' headers.
constexpr uint64_t ring_stride(uint64_t capacity) noexcept {
  return sizeof(ring_header_data) + capacity;
}

/// Offset of ring `index`'s header.
constexpr uint64_t ring_offset(uint32_t index, uint64_t capacity) noexcept {
  return rings_offset + index * ring_stride(capacity);
}

/// Size of a segment with `ring_count` rings of `capacity` bytes (no overflow within the
/// bounds of limits.hpp: at most 2^10 * (2^30 + 128) + 192 bytes).
constexpr uint64_t segment_size(uint32_t ring_count, uint64_t capacity) noexcept {
  return ring_offset(ring_count, capacity);
}

} // namespace strata::nodes::internal
