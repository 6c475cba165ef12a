#pragma once

// What one live page waits for (docs/design/observer.md, "The live view"): the bounded,
// coalescing queue of a `/live` connection, without the connection, so that its policy is
// tested without sockets.

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace strata::internal {

/// The messages waiting to be written to one live page, bounded by count and bytes. Past
/// either bound, everything waiting is replaced by one "resnapshot" message and the page is
/// `behind`: its batches are dropped until it gets a snapshot. The message being written is
/// never dropped. Owner: the observer's thread (not thread-safe).
class live_queue {
public:
  using message = std::shared_ptr<const std::string>;

  /// Messages kept at most, the one being written included.
  static constexpr size_t max_messages = 16;

  /// Bytes kept at most, the message being written included.
  static constexpr size_t max_bytes = 8 * 1024 * 1024;

  /// `{"type":"resnapshot",...}`: what replaces the waiting messages on overflow.
  static const message& resnapshot();

  /// Queues a batch of events; dropped while `behind`, and on overflow (see above).
  void push_batch(message msg);

  /// Queues a snapshot; on overflow it replaces what waits, as it supersedes it. The page is
  /// no longer behind.
  void push_snapshot(message msg);

  /// Whether a snapshot waits to be written (not the one being written).
  [[nodiscard]] bool snapshot_waiting() const;

  /// Whether batches are dropped until the next snapshot.
  [[nodiscard]] bool behind() const noexcept {
    return behind_;
  }

  /// The next message to write, kept until `written`; nullptr when there is none or a write
  /// is in progress.
  [[nodiscard]] const message* start_write();

  /// The message from `start_write` is out (or failed): it leaves the queue.
  void written();

  /// Drops the messages not being written.
  void drop_waiting();

  /// Messages in the queue, the one being written included.
  [[nodiscard]] size_t size() const noexcept {
    return entries_.size();
  }

  /// Their bytes.
  [[nodiscard]] size_t bytes() const noexcept {
    return bytes_;
  }

private:
  struct entry {
    message text;
    bool snapshot;
  };

  bool fits(const message& msg) const;
  void push(message msg, bool snapshot);

  std::deque<entry> entries_; // the front is being written while writing_
  size_t bytes_ = 0;
  bool writing_ = false;
  bool behind_ = false;
};

} // namespace strata::internal
