#include "strata/nodes/ring_writer.hpp"

#include <algorithm>
#include <cstring>

#include "strata/nodes/error.hpp"

#include "internal/frame.hpp"
#include "internal/frame_plan.hpp"
#include "internal/futex.hpp"
#include "internal/shm_layout.hpp"
#include "internal/spin.hpp"

namespace strata::nodes {

using internal::frame_kind;

namespace {

constexpr uint32_t kind_value(frame_kind k) noexcept {
  return static_cast<uint32_t>(k);
}

// How many spin iterations between two reads of the clock (a read costs ~20 ns).
constexpr uint32_t spins_per_clock_check = 64;

} // namespace

ring_writer::ring_writer(internal::ring_header_data* ring, char* data,
                         internal::segment_header_data* seg, uint64_t capacity,
                         uint64_t max_message, uint32_t slot, wait_policy policy) noexcept
  : ring_(ring),
    data_(data),
    segment_(seg),
    capacity_(capacity),
    mask_(capacity - 1),
    max_message_(max_message),
    slot_(slot),
    policy_(policy) {
  // nop
}

uint64_t ring_writer::try_write_limit() const noexcept {
  // Two full fragment frames fill exactly half the ring (max_frame_size is a quarter).
  auto half = 2 * internal::max_frame_size(capacity_);
  return std::min(max_message_,
                  half - 2 * internal::frame_header_size - internal::first_prefix_size);
}

caf::error ring_writer::attach() {
  // The claim in outbox::open was an acquire RMW on writer_pid, pairing with the release store
  // in detach (or inbox::reset_ring): the previous writer's last head store is visible.
  auto head = ring_->head.load(std::memory_order_relaxed);
  // SYNC POINT READ: pairs with the release store of `tail` in ring_reader::publish_tail.
  auto tail = ring_->tail.load(std::memory_order_acquire);
  if (head - tail > capacity_ || head % internal::frame_alignment != 0
      || tail % internal::frame_alignment != 0)
    return fail(make_error(error::corrupt_ring, slot_,
                           "counters out of range: head " + std::to_string(head) + ", tail "
                             + std::to_string(tail)));
  if (ring_->closed.load(std::memory_order_acquire) != 0)
    return fail(make_error(error::ring_closed, slot_));
  head_ = published_ = head;
  cached_tail_ = tail;
  return {};
}

bool ring_writer::detach(int32_t pid) noexcept {
  if (broken_)
    return false;
  if (cancel_pending_) {
    // A new writer would start a message while the reader still assembles ours: cancel it
    // now if there is room, else leave the slot claimed until the owner resets the ring.
    auto needed = place(head_, internal::frame_header_size) - head_;
    if ((free_space() < needed && (refresh_tail() || free_space() < needed)))
      return false;
    put_frame(kind_value(frame_kind::cancel), 0, 0, nullptr, 0);
    cancel_pending_ = false;
  }
  publish();
  // SYNC POINT WRITE: release pairs with the acquire claim in outbox::open: the next writer
  // sees our final head. A CAS, not a store: if the owner reset the ring and another writer
  // claimed it meanwhile, the claim is theirs.
  auto expected = pid;
  return ring_->writer_pid.compare_exchange_strong(expected, 0, std::memory_order_release,
                                                   std::memory_order_relaxed);
}

uint64_t ring_writer::place(uint64_t head, uint64_t bytes) const noexcept {
  auto offset = head & mask_;
  // A frame never crosses the end of the data area: pad to the end first.
  auto padding = offset + bytes > capacity_ ? capacity_ - offset : 0;
  return head + padding + bytes;
}

caf::error ring_writer::fail(caf::error err) {
  broken_ = err;
  return err;
}

caf::error ring_writer::refresh_tail() {
  // SYNC POINT READ: acquire pairs with the release store of `tail` in
  // ring_reader::publish_tail: the reader has copied out every byte before `tail`, so we may
  // overwrite them.
  auto tail = ring_->tail.load(std::memory_order_acquire);
  // The reader only moves `tail` forward, never past what we published, in whole frames.
  if (tail - cached_tail_ > published_ - cached_tail_ || tail % internal::frame_alignment != 0)
    return fail(make_error(error::corrupt_ring, slot_,
                           "tail counter " + std::to_string(tail) + " outside ["
                             + std::to_string(cached_tail_) + ", " + std::to_string(published_)
                             + "]"));
  cached_tail_ = tail;
  // SYNC POINT READ: pairs with the release store of `closed` in ring_reader::corrupt.
  if (ring_->closed.load(std::memory_order_acquire) != 0)
    return fail(make_error(error::ring_closed, slot_));
  return {};
}

void ring_writer::put_frame(uint32_t kind, uint64_t payload_length, uint64_t total,
                            const char* data, uint64_t data_length) noexcept {
  auto bytes = internal::frame_size(payload_length);
  auto offset = head_ & mask_;
  if (offset + bytes > capacity_) {
    internal::frame_header pad{static_cast<uint32_t>(capacity_ - offset - 8),
                               kind_value(frame_kind::padding)};
    std::memcpy(data_ + offset, &pad, sizeof(pad));
    head_ += capacity_ - offset;
    offset = 0;
  }
  // Plain stores: the reader reads them only after the release store of `head` in publish().
  internal::frame_header header{static_cast<uint32_t>(payload_length), kind};
  auto* out = data_ + offset;
  std::memcpy(out, &header, sizeof(header));
  out += sizeof(header);
  if (kind == kind_value(frame_kind::first)) {
    std::memcpy(out, &total, sizeof(total));
    out += sizeof(total);
  }
  if (data_length > 0)
    std::memcpy(out, data, data_length);
  head_ += bytes;
}

void ring_writer::publish() noexcept {
  if (head_ == published_)
    return;
  // SYNC POINT WRITE: release publishes the frames written before it; pairs with the acquire
  // load of `head` in ring_reader::refresh_head.
  ring_->head.store(head_, std::memory_order_release);
  published_ = head_;
  wake_receiver();
}

void ring_writer::wake_receiver() noexcept {
  // Dekker pair with inbox::receive, which stores receiver_sleeping = 1, then checks every
  // head. We stored head, now we check receiver_sleeping. With a seq_cst fence between the
  // store and the load on both sides, at least one side sees the other's store: either the
  // receiver sees our frames and does not sleep, or we see it sleeping and wake it.
  // (Release/acquire alone would let both loads miss: a store may pass a later load.)
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (segment_->receiver_sleeping.load(std::memory_order_relaxed) == 0)
    return;
  // SYNC POINT WRITE: pairs with the receiver's acquire load of wake_seq before it sleeps: if
  // it loaded the old value, FUTEX_WAIT sees the new one and returns at once.
  segment_->wake_seq.fetch_add(1, std::memory_order_release);
  internal::futex_wake_all(segment_->wake_seq);
}

caf::error ring_writer::wait_for_space(uint64_t needed, clock::time_point deadline) {
  if (policy_.max_spin.count() > 0) {
    auto limit = std::min(deadline, clock::now() + policy_.max_spin);
    for (uint32_t i = 1;; ++i) {
      if (auto err = refresh_tail())
        return err;
      if (free_space() >= needed)
        return {};
      internal::cpu_relax();
      if (i % spins_per_clock_check == 0 && clock::now() >= limit)
        break;
    }
  }
  for (;;) {
    // SYNC POINT READ: pairs with the release increment in ring_reader::publish_tail. Read
    // before the re-check below: an increment after it makes FUTEX_WAIT return at once.
    auto seq = ring_->space_seq.load(std::memory_order_acquire);
    ring_->writer_waiting.store(1, std::memory_order_relaxed);
    // Dekker pair with ring_reader::publish_tail (store tail, fence, load writer_waiting): we
    // store writer_waiting, fence, load tail. One of us sees the other's store.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    auto err = refresh_tail();
    if (err || free_space() >= needed) {
      ring_->writer_waiting.store(0, std::memory_order_relaxed);
      return err;
    }
    auto now = clock::now();
    if (now >= deadline) {
      ring_->writer_waiting.store(0, std::memory_order_relaxed);
      return make_error(error::ring_full, slot_,
                        "needed " + std::to_string(needed) + " bytes, "
                          + std::to_string(free_space()) + " free");
    }
    internal::futex_wait(ring_->space_seq, seq, deadline - now);
    ring_->writer_waiting.store(0, std::memory_order_relaxed);
  }
}

caf::error ring_writer::reserve(uint64_t frame_bytes, clock::time_point deadline) {
  auto needed = place(head_, frame_bytes) - head_;
  if (free_space() >= needed)
    return {};
  if (auto err = refresh_tail())
    return err;
  if (free_space() >= needed)
    return {};
  // Let the reader drain what we wrote so far (a message larger than the ring needs it).
  publish();
  return wait_for_space(needed, deadline);
}

caf::error ring_writer::try_write(caf::span<const char> message) {
  if (broken_)
    return broken_;
  if (message.size() > max_message_)
    return make_error(error::message_too_large, message.size(), max_message_);
  if (message.size() > try_write_limit())
    return make_error(error::exceeds_ring, message.size(), try_write_limit());
  // All or nothing: find the room the frames need from here, padding included.
  auto end = cancel_pending_ ? place(head_, internal::frame_header_size) : head_;
  for (internal::frame_plan plan{message.size(), capacity_}; !plan.done(); plan.next())
    end = place(end, plan.frame_bytes());
  auto needed = end - head_;
  if (free_space() < needed) {
    if (auto err = refresh_tail())
      return err;
    if (free_space() < needed)
      return make_error(error::would_block, slot_);
  }
  if (cancel_pending_) {
    put_frame(kind_value(frame_kind::cancel), 0, 0, nullptr, 0);
    cancel_pending_ = false;
  }
  for (internal::frame_plan plan{message.size(), capacity_}; !plan.done(); plan.next())
    put_frame(kind_value(plan.kind()), plan.payload_length(), message.size(),
              message.data() + plan.data_offset(), plan.data_length());
  publish();
  return {};
}

caf::error ring_writer::write(caf::span<const char> message, clock::time_point deadline) {
  if (broken_)
    return broken_;
  if (message.size() > max_message_)
    return make_error(error::message_too_large, message.size(), max_message_);
  if (cancel_pending_) {
    if (auto err = reserve(internal::frame_header_size, deadline))
      return err;
    put_frame(kind_value(frame_kind::cancel), 0, 0, nullptr, 0);
    cancel_pending_ = false;
  }
  auto start = head_;
  for (internal::frame_plan plan{message.size(), capacity_}; !plan.done(); plan.next()) {
    if (auto err = reserve(plan.frame_bytes(), deadline)) {
      // reserve() published our fragments before it waited: the reader has them.
      if (head_ != start)
        cancel_pending_ = true;
      return err;
    }
    put_frame(kind_value(plan.kind()), plan.payload_length(), message.size(),
              message.data() + plan.data_offset(), plan.data_length());
  }
  publish();
  return {};
}

} // namespace strata::nodes
