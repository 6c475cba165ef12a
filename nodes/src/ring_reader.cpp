#include "strata/nodes/ring_reader.hpp"

#include <cstring>
#include <string>

#include "strata/nodes/error.hpp"

#include "internal/frame.hpp"
#include "internal/futex.hpp"
#include "internal/shm_layout.hpp"

namespace strata::nodes {

using internal::frame_kind;
using std::to_string;

ring_reader::ring_reader(internal::ring_header_data* ring, const char* data, uint64_t capacity,
                         uint64_t max_message, uint32_t slot) noexcept
  : ring_(ring),
    data_(data),
    capacity_(capacity),
    mask_(capacity - 1),
    max_frame_(internal::max_frame_size(capacity)),
    max_message_(max_message),
    slot_(slot) {
  // nop
}

bool ring_reader::has_data() const noexcept {
  // Relaxed: only a hint; try_read re-loads `head` with acquire before reading frames. The
  // caller orders this load where it matters (inbox::receive fences before it).
  return !closed_ && ring_->head.load(std::memory_order_relaxed) != tail_;
}

bool ring_reader::await_data() const noexcept {
  if (closed_)
    return false;
  // The frame the writer will publish next starts at our tail: ask for its lines (the
  // first two, where a small message lies) in the same poll as the head's. Once the head
  // moves, try_read finds them here rather than fetching them then, one cross-core trip
  // after the other. A prefetch never faults; a line the writer changes meanwhile is
  // fetched again, and try_read reads only after its acquire load of the head.
  __builtin_prefetch(data_ + (tail_ & mask_));
  __builtin_prefetch(data_ + ((tail_ + internal::cache_line_size) & mask_));
  return ring_->head.load(std::memory_order_relaxed) != tail_;
}

void ring_reader::reset() noexcept {
  // The dead producer's liveness token (it held it; nothing of it is ours to keep). Its lock
  // word through an atomic store: a liveness watch may still read it.
  internal::liveness_word(ring_)->store(0, std::memory_order_relaxed);
  std::memset(reinterpret_cast<char*>(&ring_->liveness) + sizeof(uint32_t), 0,
              sizeof(ring_->liveness) - sizeof(uint32_t));
  ring_->head.store(0, std::memory_order_relaxed);
  ring_->tail.store(0, std::memory_order_relaxed);
  ring_->writer_waiting.store(0, std::memory_order_relaxed);
  ring_->closed.store(0, std::memory_order_relaxed);
  // SYNC POINT WRITE: release pairs with the acquire claim in outbox::open: the next writer
  // sees the zeroed counters above.
  ring_->writer_pid.store(0, std::memory_order_release);
  tail_ = published_ = cached_head_ = 0;
  assembling_ = false;
  expected_ = 0;
  assembly_.clear();
  assembly_.shrink_to_fit();
  closed_ = caf::error{};
}

caf::error ring_reader::corrupt(const std::string& what) {
  closed_ = make_error(error::corrupt_ring, slot_, what + " (at byte " + to_string(tail_) + ")");
  assembling_ = false;
  assembly_.clear();
  assembly_.shrink_to_fit();
  // SYNC POINT WRITE: release pairs with the acquire load of `closed` in
  // ring_writer::refresh_tail.
  ring_->closed.store(1, std::memory_order_release);
  // A writer sleeping for space learns it now rather than at its deadline.
  ring_->space_seq.fetch_add(1, std::memory_order_release);
  internal::futex_wake_all(ring_->space_seq);
  return closed_;
}

caf::error ring_reader::refresh_head() {
  // SYNC POINT READ: acquire pairs with the release store of `head` in ring_writer::publish:
  // every frame before it is written.
  auto head = ring_->head.load(std::memory_order_acquire);
  // Unsigned: a head behind the tail wraps around to a huge distance, caught here too.
  if (head - tail_ > capacity_ || head % internal::frame_alignment != 0)
    return corrupt("head counter " + to_string(head) + " out of range (tail " + to_string(tail_)
                   + ", capacity " + to_string(capacity_) + ")");
  cached_head_ = head;
  return {};
}

void ring_reader::publish_tail() noexcept {
  if (tail_ == published_)
    return;
  // SYNC POINT WRITE: release pairs with the acquire load of `tail` in
  // ring_writer::refresh_tail: we are done reading the bytes before tail_.
  ring_->tail.store(tail_, std::memory_order_release);
  published_ = tail_;
  // Dekker pair with ring_writer::wait_for_space (store writer_waiting, fence, load tail): we
  // store tail, fence, load writer_waiting; one of us sees the other's store, so a writer
  // never sleeps on space we freed. This fence is the reader's only per-message cost beyond
  // the copy; an empty poll skips it (tail_ == published_ above).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (ring_->writer_waiting.load(std::memory_order_relaxed) == 0)
    return;
  // SYNC POINT WRITE: pairs with the writer's acquire load of space_seq before it sleeps.
  ring_->space_seq.fetch_add(1, std::memory_order_release);
  internal::futex_wake_all(ring_->space_seq);
}

void ring_reader::publish_tail_lazily() noexcept {
  // Storing the tail (and the fence after it) per message makes the writer's and the
  // reader's cores trade the counter's cache line for every message. Give space back in
  // eighths of the ring instead; all of it once everything seen is read (top of try_read),
  // so a waiting writer always gets it at the next read or before the reader sleeps.
  if (tail_ - published_ >= capacity_ / 8)
    publish_tail();
}

caf::expected<bool> ring_reader::try_read(std::vector<char>& out) {
  if (closed_)
    return make_error(error::ring_closed, slot_, to_text(closed_));
  for (;;) {
    if (tail_ == cached_head_) {
      // Everything seen so far is consumed: give the space back before looking for more (a
      // writer streaming a message larger than the ring needs it).
      publish_tail();
      // An empty ring is what most polls find: answered by has_data's relaxed load, without
      // refresh_head's checks and its error object (nothing is read when nothing is there;
      // refresh_head's acquire load orders the reads of frames).
      if (!has_data())
        return false;
      if (auto err = refresh_head())
        return err;
      if (tail_ == cached_head_)
        return false;
    }
    auto unread = cached_head_ - tail_;
    auto offset = tail_ & mask_;
    auto to_end = capacity_ - offset;
    // One copy of the header: every check below uses it, never the shared bytes, which a
    // peer may rewrite meanwhile. `unread` >= 8 (counters are multiples of 8), and offset is
    // 8-aligned, so the header lies inside the data area.
    internal::frame_header header;
    std::memcpy(&header, data_ + offset, sizeof(header));
    auto length = uint64_t{header.length};
    auto bytes = internal::frame_size(length);
    if (bytes > unread)
      return corrupt("frame of " + to_string(bytes) + " bytes, only " + to_string(unread)
                     + " published");
    const char* payload = data_ + offset + internal::frame_header_size;
    switch (static_cast<frame_kind>(header.kind)) {
      case frame_kind::padding:
        if (bytes != to_end)
          return corrupt("padding frame of " + to_string(bytes)
                         + " bytes does not end at the end of the ring");
        tail_ += bytes;
        continue;
      case frame_kind::whole:
      case frame_kind::first:
      case frame_kind::middle:
      case frame_kind::last:
      case frame_kind::cancel: break;
      default: return corrupt("unknown frame kind " + to_string(header.kind));
    }
    if (bytes > max_frame_ || bytes > to_end)
      return corrupt("frame of " + to_string(bytes) + " bytes exceeds the limit "
                     + to_string(max_frame_) + " or crosses the end of the ring");
    switch (static_cast<frame_kind>(header.kind)) {
      case frame_kind::whole:
        if (assembling_)
          return corrupt("whole frame inside a fragmented message");
        if (length > max_message_)
          return corrupt("message of " + to_string(length) + " bytes");
        out.assign(payload, payload + length);
        tail_ += bytes;
        publish_tail_lazily();
        return true;
      case frame_kind::first: {
        if (assembling_)
          return corrupt("first frame inside a fragmented message");
        if (length <= internal::first_prefix_size)
          return corrupt("first frame without data");
        uint64_t total = 0;
        std::memcpy(&total, payload, sizeof(total));
        auto data_length = length - internal::first_prefix_size;
        if (total > max_message_ || total <= data_length)
          return corrupt("first frame announces " + to_string(total) + " bytes (maximum "
                         + to_string(max_message_) + ", first fragment " + to_string(data_length)
                         + ")");
        assembly_.assign(payload + internal::first_prefix_size, payload + length);
        expected_ = total;
        assembling_ = true;
        tail_ += bytes;
        continue;
      }
      case frame_kind::middle:
        if (!assembling_)
          return corrupt("middle frame outside a fragmented message");
        if (length == 0 || assembly_.size() + length >= expected_)
          return corrupt("middle frame of " + to_string(length)
                         + " bytes leaves no data for the last one");
        assembly_.insert(assembly_.end(), payload, payload + length);
        tail_ += bytes;
        continue;
      case frame_kind::last:
        if (!assembling_)
          return corrupt("last frame outside a fragmented message");
        if (assembly_.size() + length != expected_)
          return corrupt("fragments add up to " + to_string(assembly_.size() + length)
                         + " bytes, the first frame announced " + to_string(expected_));
        assembly_.insert(assembly_.end(), payload, payload + length);
        out.swap(assembly_);
        assembly_.clear();
        assembling_ = false;
        tail_ += bytes;
        publish_tail_lazily();
        return true;
      default: // cancel
        if (!assembling_ || length != 0)
          return corrupt("cancel frame outside a fragmented message");
        assembly_.clear();
        assembling_ = false;
        tail_ += bytes;
        continue;
    }
  }
}

std::atomic<uint32_t>* ring_reader::liveness_word() noexcept {
  return internal::liveness_word(ring_);
}

} // namespace strata::nodes
