#include "strata/nodes/inbox.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <unistd.h>
#include <utility>

#include "strata/nodes/error.hpp"
#include "strata/nodes/segments.hpp"

#include "internal/futex.hpp"
#include "internal/segment.hpp"
#include "internal/shm_layout.hpp"
#include "internal/spin.hpp"

namespace strata::nodes {

namespace {

using clock = std::chrono::steady_clock;

// How many spin iterations between two reads of the clock (a read costs ~20 ns).
constexpr uint32_t spins_per_clock_check = 64;

caf::error validate(const inbox_options& opts) {
  auto cap = opts.ring_capacity;
  if (opts.ring_count == 0 || opts.ring_count > max_rings)
    return make_error(error::invalid_argument, "ring_count", opts.ring_count);
  if (cap < min_ring_capacity || cap > max_ring_capacity || (cap & (cap - 1)) != 0)
    return make_error(error::invalid_argument, "ring_capacity (a power of two within bounds)", cap);
  if (opts.max_message_size == 0 || opts.max_message_size > max_message_size_limit)
    return make_error(error::invalid_argument, "max_message_size", opts.max_message_size);
  if (opts.wait.min_spin.count() < 0 || opts.wait.max_spin < opts.wait.min_spin)
    return make_error(error::invalid_argument, "wait policy: need 0 <= min_spin <= max_spin");
  return {};
}

// Creates the segment, replacing one of the same name whose owner is dead (a node killed
// before its inbox could remove it, now restarted under the same index).
caf::expected<std::unique_ptr<internal::segment>> create_segment(const std::string& name,
                                                                 uint64_t size) {
  auto seg = internal::segment::create(name, size);
  if (seg || !is(seg.error(), error::segment_exists))
    return seg;
  auto owner = internal::read_owner_pid(name);
  if (!owner || !*owner)
    return seg; // not a published strata header: not ours to remove
  if (internal::process_exists(**owner))
    return make_error(error::segment_exists, name, "owner pid " + std::to_string(**owner));
  internal::remove_segment(name);
  return internal::segment::create(name, size);
}

} // namespace

inbox::inbox(std::unique_ptr<internal::segment> seg, std::vector<ring_reader> readers,
             wait_policy wait) noexcept
  : segment_(std::move(seg)),
    header_(reinterpret_cast<internal::segment_header_data*>(segment_->base())),
    readers_(std::move(readers)),
    wait_(wait),
    spin_budget_(wait.max_spin),
    notified_(std::make_unique<std::atomic<bool>>(false)) {
  // nop
}

inbox::inbox(inbox&& other) noexcept
  : segment_(std::move(other.segment_)),
    header_(std::exchange(other.header_, nullptr)),
    readers_(std::move(other.readers_)),
    wait_(other.wait_),
    spin_budget_(other.spin_budget_),
    next_(other.next_),
    notified_(std::move(other.notified_)) {
  // nop
}

inbox& inbox::operator=(inbox&& other) noexcept {
  if (this != &other) {
    // Members in declaration order: the old segment goes (and is removed) first.
    segment_ = std::move(other.segment_);
    header_ = std::exchange(other.header_, nullptr);
    readers_ = std::move(other.readers_);
    wait_ = other.wait_;
    spin_budget_ = other.spin_budget_;
    next_ = other.next_;
    notified_ = std::move(other.notified_);
  }
  return *this;
}

inbox::~inbox() = default;

caf::expected<inbox> inbox::create(const inbox_options& options) {
  return create_named(options, segment_name(options.token, options.node_index));
}

caf::expected<inbox> inbox::create_spare(const inbox_options& options) {
  auto opts = options;
  opts.node_index = 0; // validated, not used in the name
  return create_named(opts,
                      segment_name(options.token, 0) + "-spare-" + std::to_string(::getpid()));
}

caf::error inbox::take_index(const cluster_token& token, uint32_t node_index) {
  auto name = segment_name(token, node_index);
  if (auto owner = internal::read_owner_pid(name);
      owner && *owner && **owner != ::getpid() && internal::process_exists(**owner))
    return make_error(error::segment_exists, name, "owner pid " + std::to_string(**owner));
  return segment_->rename(name);
}

caf::expected<inbox> inbox::create_named(const inbox_options& options, const std::string& name) {
  if (auto err = validate(options))
    return err;
  auto cap = options.ring_capacity;
  auto seg = create_segment(name, internal::segment_size(options.ring_count, cap));
  if (!seg)
    return std::move(seg.error());
  auto* base = (*seg)->base();
  // The segment is fresh and zero-filled; value-initialising the headers starts their
  // lifetime in this process.
  auto* header = new (base) internal::segment_header_data{};
  header->version = internal::layout_version;
  header->owner_pid = static_cast<int32_t>(::getpid());
  header->ring_count = options.ring_count;
  header->ring_capacity = cap;
  header->max_message_size = options.max_message_size;
  header->segment_size = internal::segment_size(options.ring_count, cap);
  std::memcpy(header->token, options.token.bytes.data(), cluster_token::size);
  std::vector<ring_reader> readers;
  readers.reserve(options.ring_count);
  for (uint32_t i = 0; i < options.ring_count; ++i) {
    auto* ring_base = base + internal::ring_offset(i, cap);
    auto* ring = new (ring_base) internal::ring_header_data{};
    readers.push_back(ring_reader{ring, ring_base + sizeof(internal::ring_header_data), cap,
                                  options.max_message_size, i});
  }
  // SYNC POINT WRITE: release publishes the header written above; pairs with the acquire
  // load of `magic` in outbox::open and internal::read_owner_pid.
  header->magic.store(internal::segment_magic, std::memory_order_release);
  return inbox{std::move(*seg), std::move(readers), options.wait};
}

const std::string& inbox::name() const noexcept {
  return segment_->name();
}

bool inbox::any_data() const noexcept {
  return std::any_of(readers_.begin(), readers_.end(),
                     [](const ring_reader& r) { return r.has_data(); });
}

bool inbox::await_any_data() const noexcept {
  return std::any_of(readers_.begin(), readers_.end(),
                     [](const ring_reader& r) { return r.await_data(); });
}

receive_result inbox::try_receive(std::vector<char>& out) {
  auto n = static_cast<uint32_t>(readers_.size());
  for (uint32_t k = 0; k < n; ++k) {
    auto slot = (next_ + k) % n;
    if (auto r = try_receive_from(slot, out); r.status != receive_status::empty)
      return r;
  }
  return {};
}

receive_result inbox::try_receive_from(uint32_t slot, std::vector<char>& out) {
  if (slot >= readers_.size())
    return {};
  auto& reader = readers_[slot];
  if (reader.closed())
    return {}; // reported once, when it was found corrupt
  auto got = reader.try_read(out);
  if (!got || *got)
    next_ = (slot + 1) % static_cast<uint32_t>(readers_.size());
  if (!got)
    return {receive_status::corrupt, slot, std::move(got.error())};
  if (*got)
    return {receive_status::message, slot, {}};
  return {};
}

bool inbox::spin(std::chrono::nanoseconds budget, clock::time_point deadline) {
  if (budget.count() <= 0)
    return any_data();
  auto limit = std::min(deadline, clock::now() + budget);
  for (uint32_t i = 1;; ++i) {
    if (await_any_data() || notified_->load(std::memory_order_relaxed))
      return true;
    internal::cpu_relax();
    if (i % spins_per_clock_check == 0 && clock::now() >= limit)
      return false;
  }
}

receive_result inbox::receive(std::vector<char>& out, std::chrono::nanoseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (auto result = try_receive(out); result.status != receive_status::empty)
      return result;
    // SYNC POINT READ: acquire pairs with the release store in notify().
    if (notified_->exchange(false, std::memory_order_acquire))
      return {};
    if (clock::now() >= deadline)
      return {};
    // Adaptive spin: grow the budget when spinning found data, or when the sleep after it
    // was short (data came soon after we gave up: a longer spin would have caught it without
    // a wake-up); shrink it when the sleep was long. Shrinking on every sleep instead made
    // slowness stick: once a ping-pong's round trip grew past the spin, each message paid
    // a wake-up, which kept the round trip past the spin.
    if (spin(spin_budget_, deadline)) {
      spin_budget_ = std::clamp(2 * spin_budget_, wait_.min_spin, wait_.max_spin);
      continue;
    }
    auto now = clock::now();
    if (now >= deadline)
      return {};
    // Eventcount: read the sequence, announce the sleep, re-check, sleep on the sequence.
    // SYNC POINT READ: pairs with the release increment in ring_writer::wake_receiver and
    // notify(): an increment after this load makes FUTEX_WAIT return at once.
    auto seq = header_->wake_seq.load(std::memory_order_acquire);
    header_->receiver_sleeping.store(1, std::memory_order_relaxed);
    // Dekker pair with ring_writer::wake_receiver (store head, fence, load
    // receiver_sleeping) and with notify() (store notified_, fence, load the same): we store
    // receiver_sleeping, fence, load every head and notified_. Either we see the writer's
    // frames or the notification here, or it sees us sleeping and wakes us.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!any_data() && !notified_->load(std::memory_order_relaxed))
      internal::futex_wait(header_->wake_seq, seq, deadline - now);
    header_->receiver_sleeping.store(0, std::memory_order_relaxed);
    // "Short": within twice the longest spin, as the sleep includes the wake-up itself.
    auto slept = clock::now() - now;
    if (slept < 2 * wait_.max_spin && any_data())
      spin_budget_ = std::clamp(2 * spin_budget_, wait_.min_spin, wait_.max_spin);
    else
      spin_budget_ = std::clamp(spin_budget_ / 2, wait_.min_spin, wait_.max_spin);
    // Woken by a writer, a notify, a fragment of a message not complete yet, the timeout or
    // spuriously: the top of the loop sorts it out.
  }
}

void inbox::notify() noexcept {
  if (header_ == nullptr)
    return;
  // SYNC POINT WRITE: release pairs with the acquire exchange in receive().
  notified_->store(true, std::memory_order_release);
  // Dekker pair with receive(), as in ring_writer::wake_receiver: we store `notified_`,
  // fence, load receiver_sleeping; receive() stores receiver_sleeping, fences, loads
  // `notified_`. Either it sees the flag and does not sleep, or we see it sleeping and wake
  // it. So a receiver that is awake costs no system call; the common caller is the receive
  // thread itself, queueing work (a monitor request for a proxy it just made) while it
  // handles a frame. Such a call cost 5-35 us here, cold.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->receiver_sleeping.load(std::memory_order_relaxed) == 0)
    return;
  // SYNC POINT WRITE: pairs with the acquire load of wake_seq in receive(): a receiver that
  // read the old value returns from FUTEX_WAIT at once; one that reads the new value also
  // sees `notified_` (release/acquire through wake_seq).
  header_->wake_seq.fetch_add(1, std::memory_order_release);
  internal::futex_wake_all(header_->wake_seq);
}

caf::error inbox::reset_ring(uint32_t slot) {
  if (slot >= readers_.size())
    return make_error(error::invalid_argument, "slot", slot);
  readers_[slot].reset();
  return {};
}

} // namespace strata::nodes
