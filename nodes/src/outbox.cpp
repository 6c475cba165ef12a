#include "strata/nodes/outbox.hpp"

#include <cstring>
#include <unistd.h>
#include <utility>

#include "strata/nodes/error.hpp"
#include "strata/nodes/limits.hpp"
#include "strata/nodes/segments.hpp"

#include "internal/segment.hpp"
#include "internal/shm_layout.hpp"

namespace strata::nodes {

namespace {

// The header's fields, copied out of the segment once: validated and used from here on,
// because a peer could rewrite the shared copy at any time.
struct header_copy {
  uint32_t version;
  int32_t owner_pid;
  uint32_t ring_count;
  uint64_t ring_capacity;
  uint64_t max_message_size;
  uint64_t segment_size;
  cluster_token token;
};

header_copy copy_header(const internal::segment_header_data& h) noexcept {
  header_copy c{h.version,      h.owner_pid, h.ring_count, h.ring_capacity, h.max_message_size,
                h.segment_size, {}};
  std::memcpy(c.token.bytes.data(), h.token, cluster_token::size);
  return c;
}

caf::error validate(const header_copy& h, const outbox_options& opts, const std::string& name,
                    uint64_t mapped) {
  using std::to_string;
  if (h.version != internal::layout_version)
    return make_error(error::version_mismatch, name, h.version, internal::layout_version);
  if (h.token != opts.token)
    return make_error(error::token_mismatch, name);
  auto cap = h.ring_capacity;
  if (h.ring_count == 0 || h.ring_count > max_rings)
    return make_error(error::invalid_segment, name, "ring count " + to_string(h.ring_count));
  if (cap < min_ring_capacity || cap > max_ring_capacity || (cap & (cap - 1)) != 0)
    return make_error(error::invalid_segment, name, "ring capacity " + to_string(cap));
  if (h.max_message_size == 0 || h.max_message_size > max_message_size_limit)
    return make_error(error::invalid_segment, name,
                      "max message size " + to_string(h.max_message_size));
  // Bounded by the checks above: no overflow.
  auto needed = internal::segment_size(h.ring_count, cap);
  if (h.segment_size != needed || needed > mapped)
    return make_error(error::invalid_segment, name,
                      "size: header says " + to_string(h.segment_size) + ", rings need "
                        + to_string(needed) + ", mapped " + to_string(mapped));
  if (opts.slot >= h.ring_count)
    return make_error(error::invalid_argument, "slot", opts.slot, h.ring_count);
  return {};
}

} // namespace

outbox::outbox(std::unique_ptr<internal::segment> seg, ring_writer writer, int32_t owner_pid,
               int32_t pid) noexcept
  : segment_(std::move(seg)), writer_(std::move(writer)), owner_pid_(owner_pid), pid_(pid) {
  // nop
}

outbox::outbox(outbox&& other) noexcept
  : segment_(std::move(other.segment_)),
    writer_(std::move(other.writer_)),
    owner_pid_(other.owner_pid_),
    pid_(other.pid_),
    liveness_(std::exchange(other.liveness_, nullptr)),
    liveness_holder_(other.liveness_holder_) {
  // nop
}

outbox& outbox::operator=(outbox&& other) noexcept {
  if (this != &other) {
    release();
    segment_ = std::move(other.segment_);
    writer_ = std::move(other.writer_);
    owner_pid_ = other.owner_pid_;
    pid_ = other.pid_;
    liveness_ = std::exchange(other.liveness_, nullptr);
    liveness_holder_ = other.liveness_holder_;
  }
  return *this;
}

outbox::~outbox() {
  release();
}

void outbox::release() noexcept {
  // Only the holding thread can give the token back. Destroyed elsewhere (the peer was lost),
  // the token stays with the thread until it exits; the kernel's walk of its robust list then
  // stops at the unmapped entry, harmlessly.
  if (liveness_ != nullptr && ::pthread_equal(liveness_holder_, ::pthread_self()))
    ::pthread_mutex_unlock(liveness_);
  liveness_ = nullptr;
  if (segment_)
    writer_.detach(pid_); // false: the slot stays claimed until the owner resets it
}

caf::error outbox::hold_liveness() {
  if (liveness_ != nullptr)
    return {};
  auto* ring = writer_.ring_; // a friend: the ring header of our claimed slot
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  // Our slot's token: we claimed the ring, and the owner zeroes it when it resets the ring.
  auto rc = ::pthread_mutex_init(&ring->liveness, &attr);
  ::pthread_mutexattr_destroy(&attr);
  if (rc == 0)
    rc = ::pthread_mutex_lock(&ring->liveness);
  if (rc != 0)
    return make_error(error::system_error, "liveness token", std::string{std::strerror(rc)});
  liveness_ = &ring->liveness;
  liveness_holder_ = ::pthread_self();
  return {};
}

const std::string& outbox::name() const noexcept {
  return segment_->name();
}

caf::expected<outbox> outbox::open(const outbox_options& options) {
  if (options.wait.min_spin.count() < 0 || options.wait.max_spin < options.wait.min_spin)
    return make_error(error::invalid_argument, "wait policy: need 0 <= min_spin <= max_spin");
  auto name = segment_name(options.token, options.node_index);
  auto seg = internal::segment::open(name, sizeof(internal::segment_header_data));
  if (!seg)
    return std::move(seg.error());
  auto* base = (*seg)->base();
  auto* header = reinterpret_cast<internal::segment_header_data*>(base);
  // SYNC POINT READ: acquire pairs with the release store of `magic` in inbox::create: the
  // header fields are written.
  if (header->magic.load(std::memory_order_acquire) != internal::segment_magic)
    return make_error(error::invalid_segment, name, "no strata inbox magic number");
  auto copy = copy_header(*header);
  if (auto err = validate(copy, options, name, (*seg)->size()))
    return err;
  auto cap = copy.ring_capacity;
  auto* ring_base = base + internal::ring_offset(options.slot, cap);
  auto* ring = reinterpret_cast<internal::ring_header_data*>(ring_base);
  auto pid = static_cast<int32_t>(::getpid());
  auto holder = int32_t{0};
  // SYNC POINT READ: acquire pairs with the release stores of 0 in ring_writer::detach and
  // ring_reader::reset: we see the counters as the previous writer or the reset left them.
  if (!ring->writer_pid.compare_exchange_strong(holder, pid, std::memory_order_acquire,
                                                std::memory_order_relaxed))
    return make_error(error::slot_in_use, name, options.slot,
                      "claimed by pid " + std::to_string(holder)
                        + (internal::process_exists(holder)
                             ? " (alive)"
                             : " (dead: the owner must reset the ring)"));
  ring_writer writer{ring,
                     ring_base + sizeof(internal::ring_header_data),
                     header,
                     cap,
                     copy.max_message_size,
                     options.slot,
                     options.wait};
  if (auto err = writer.attach()) {
    // We wrote nothing: give the claim back (the owner has to reset the ring anyway).
    ring->writer_pid.compare_exchange_strong(pid, 0, std::memory_order_release,
                                             std::memory_order_relaxed);
    return err;
  }
  return outbox{std::move(*seg), std::move(writer), copy.owner_pid,
                static_cast<int32_t>(::getpid())};
}

} // namespace strata::nodes
