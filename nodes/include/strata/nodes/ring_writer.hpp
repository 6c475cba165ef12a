#pragma once

#include <chrono>
#include <cstdint>

#include <caf/error.hpp>
#include <caf/span.hpp>

#include "strata/nodes/wait_policy.hpp"

namespace strata::nodes {

namespace internal {
struct ring_header_data;
struct segment_header_data;
} // namespace internal

class outbox;

/// The producer's view of one ring in a peer's inbox: writes framed messages into it and
/// wakes the peer's receiver when it sleeps. Obtained from an `outbox`, which it must not
/// outlive.
///
/// **Backpressure.** A full ring never drops a message and never grows: `try_write` reports
/// `would_block` and writes nothing; `write` spins (`wait_policy::max_spin`), then sleeps on
/// the ring's futex word until the reader frees space or the deadline passes (`ring_full`).
/// The reader wakes the writer only when the writer announced that it sleeps, so neither side
/// makes a system call while the ring has room.
///
/// **Large messages.** A message of up to `max_message_size()` bytes is sent in frames of at
/// most a quarter of the ring, which the reader reassembles; so a message larger than the ring
/// works with `write`, which streams it as the reader drains.
///
/// Owner thread only: a ring has one producer. Callers in several threads serialise their
/// calls (the transport does so with a process-local lock per peer).
///
/// Every value read from the segment (the reader's `tail`, the `closed` flag) is validated; a
/// bad one makes every later call fail with `corrupt_ring` or `ring_closed`.
class ring_writer {
public:
  using clock = std::chrono::steady_clock;

  ring_writer(ring_writer&&) noexcept = default;
  ring_writer& operator=(ring_writer&&) noexcept = default;
  ring_writer(const ring_writer&) = delete;
  ring_writer& operator=(const ring_writer&) = delete;
  ~ring_writer() = default;

  /// Writes `message` whole if the ring has room for all of it now, else writes nothing.
  /// @returns `would_block` (no room now), `exceeds_ring` (larger than `try_write_limit()`:
  /// use `write`), `message_too_large`, `corrupt_ring` or `ring_closed`.
  [[nodiscard]] caf::error try_write(caf::span<const char> message);

  /// Writes `message`, waiting for room until `deadline`: spins first, then sleeps on the
  /// ring's futex word. Fragments published before a timeout are cancelled: the reader
  /// discards them when it reads the next message's frames.
  /// @returns `ring_full` if the deadline passed first, `message_too_large`, `corrupt_ring`
  /// or `ring_closed`.
  [[nodiscard]] caf::error write(caf::span<const char> message, clock::time_point deadline);

  /// Bytes of frame data in the ring.
  uint64_t capacity() const noexcept {
    return capacity_;
  }

  /// Largest message the inbox accepts.
  uint64_t max_message_size() const noexcept {
    return max_message_;
  }

  /// Largest message `try_write` accepts: its frames fill at most half the ring, so it always
  /// fits, padding included, once the reader has drained the ring.
  uint64_t try_write_limit() const noexcept;

  /// The ring's slot in the inbox (the sending node's slot).
  uint32_t slot() const noexcept {
    return slot_;
  }

private:
  friend class outbox;

  ring_writer(internal::ring_header_data* ring, char* data, internal::segment_header_data* seg,
              uint64_t capacity, uint64_t max_message, uint32_t slot, wait_policy policy) noexcept;

  // Reads and validates the ring's counters, once the slot is claimed.
  caf::error attach();

  // Ends this writer's claim on the slot (writing a pending cancel frame first, if there is
  // room); returns false if the slot has to stay claimed until the owner resets it.
  bool detach(int32_t pid) noexcept;

  uint64_t free_space() const noexcept {
    return capacity_ - (head_ - cached_tail_);
  }

  // Counter position after placing a frame of `bytes` at `head` (padding included).
  uint64_t place(uint64_t head, uint64_t bytes) const noexcept;

  caf::error refresh_tail();
  caf::error reserve(uint64_t frame_bytes, clock::time_point deadline);
  caf::error wait_for_space(uint64_t needed, clock::time_point deadline);
  void put_frame(uint32_t kind, uint64_t payload_length, uint64_t total, const char* data,
                 uint64_t data_length) noexcept;
  void publish() noexcept;
  void wake_receiver() noexcept;
  caf::error fail(caf::error err);

  internal::ring_header_data* ring_ = nullptr;
  char* data_ = nullptr;
  internal::segment_header_data* segment_ = nullptr;
  uint64_t capacity_ = 0; // copied from the validated header, never re-read
  uint64_t mask_ = 0;
  uint64_t max_message_ = 0;
  uint32_t slot_ = 0;
  wait_policy policy_;
  uint64_t head_ = 0; // next byte to write; frames before it are written
  uint64_t published_ = 0; // last value stored to ring_->head
  uint64_t cached_tail_ = 0; // last validated value of ring_->tail
  bool cancel_pending_ = false;
  caf::error broken_; // once set, every call returns it
};

} // namespace strata::nodes
