#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace strata::nodes {

namespace internal {
struct ring_header_data;
} // namespace internal

class inbox;

/// The consumer's view of one ring of an inbox: reads frames, reassembles fragmented messages
/// and frees space for the writer (waking it if it announced that it sleeps). Owned by the
/// `inbox`; owner thread only (the inbox's receive thread).
///
/// **Validation.** The ring's bytes and its `head` counter are written by another process,
/// which may die mid-write or write garbage. The reader copies each frame header once out of
/// shared memory and checks the copy: the counter range and alignment, the frame kind, the
/// length against the unread bytes, the end of the data area and the frame size limit, the
/// fragment sequence, and message sizes against the maximum. Any violation returns
/// `corrupt_ring` naming it and closes the ring (also flagged in the segment, so the writer
/// fails fast); later reads return `ring_closed` until `inbox::reset_ring`. Reads never touch
/// memory outside the ring's data area and never allocate more than the maximum message size.
class ring_reader {
public:
  ring_reader(ring_reader&&) noexcept = default;
  ring_reader& operator=(ring_reader&&) noexcept = default;
  ring_reader(const ring_reader&) = delete;
  ring_reader& operator=(const ring_reader&) = delete;
  ~ring_reader() = default;

  /// Reads the next complete message into `out` (replacing its contents), consuming the
  /// fragments of a large message as they arrive.
  /// @returns true if `out` holds a message, false if no complete message is there yet;
  /// `corrupt_ring` or `ring_closed`.
  [[nodiscard]] caf::expected<bool> try_read(std::vector<char>& out);

  /// Whether the writer published bytes not yet consumed (a cheap poll: one load, no fence).
  bool has_data() const noexcept;

  /// has_data for a poll that waits for the writer: also prefetches the lines the next frame
  /// will be written to, so that they travel from the writer's core with the head's.
  bool await_data() const noexcept;

  /// Whether the ring was closed after a corruption.
  bool closed() const noexcept {
    return static_cast<bool>(closed_);
  }

  /// Bytes of frame data in the ring.
  uint64_t capacity() const noexcept {
    return capacity_;
  }

  /// The ring's slot in the inbox.
  uint32_t slot() const noexcept {
    return slot_;
  }

  /// The futex word of the producer's liveness token (`outbox::hold_liveness`): while a
  /// producer holds it, its thread id; FUTEX_OWNER_DIED set once that thread died. Read only
  /// as a hint (a producer may write anything there). @threadsafe
  std::atomic<uint32_t>* liveness_word() noexcept;

private:
  friend class inbox;

  ring_reader(internal::ring_header_data* ring, const char* data, uint64_t capacity,
              uint64_t max_message, uint32_t slot) noexcept;

  // Zeroes the ring's counters and flags in the segment and this view's state, so that a new
  // writer can claim the slot. Only when the slot's writer is dead.
  void reset() noexcept;

  caf::error refresh_head();
  caf::error corrupt(const std::string& what);
  void publish_tail() noexcept;
  void publish_tail_lazily() noexcept;

  internal::ring_header_data* ring_ = nullptr;
  const char* data_ = nullptr;
  uint64_t capacity_ = 0; // the owner's own geometry, never read from the segment
  uint64_t mask_ = 0;
  uint64_t max_frame_ = 0;
  uint64_t max_message_ = 0;
  uint32_t slot_ = 0;
  uint64_t tail_ = 0; // next byte to read; authoritative (the segment's copy is output)
  uint64_t published_ = 0; // last value stored to ring_->tail
  uint64_t cached_head_ = 0; // last validated value of ring_->head
  bool assembling_ = false; // inside a fragmented message
  uint64_t expected_ = 0; // its total length
  std::vector<char> assembly_;
  caf::error closed_; // why the ring was closed
};

} // namespace strata::nodes
