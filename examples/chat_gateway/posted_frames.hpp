#pragma once

// The frames posted to one WebSocket connection from other threads (rooms, its session),
// waiting for the connection's I/O thread to take them: bounded, as the queue behind a client
// that does not read is (`server_options::max_outbound`).

#include <cstddef>
#include <mutex>
#include <vector>

#include <caf/message.hpp>

namespace chat {

/// A connection's cross-thread inbox. Holding more than `limit` frames means its I/O thread
/// has fallen that far behind what its client is sent: the frames are dropped at once (their
/// memory freed), later ones too, and the connection is to be closed (1008), like a client
/// that does not read. Unbounded, a lagging I/O thread would let every connection's inbox
/// grow until the process runs out of memory.
class posted_frames {
public:
  explicit posted_frames(size_t limit) : limit_(limit) {
    // nop
  }

  /// Queues `frame`, or drops it past the limit. Returns true when the caller must post a
  /// drain (`take`) to the connection's thread: none is pending. @threadsafe
  bool push(caf::message frame) {
    std::vector<caf::message> dropped; // freed after the lock is released
    std::lock_guard<std::mutex> guard{mtx_};
    if (overflowed_)
      return false;
    if (frames_.size() >= limit_) {
      overflowed_ = true;
      dropped.swap(frames_);
    } else {
      frames_.push_back(std::move(frame));
    }
    if (drain_pending_)
      return false;
    drain_pending_ = true;
    return true;
  }

  /// Moves the queued frames, in the order pushed, into `out` (emptied first) and ends the
  /// pending drain. Returns false once the limit was passed: `out` is then empty, and the
  /// connection is to be closed. Connection's thread only.
  bool take(std::vector<caf::message>& out) {
    out.clear();
    std::lock_guard<std::mutex> guard{mtx_};
    out.swap(frames_);
    drain_pending_ = false;
    return !overflowed_;
  }

private:
  const size_t limit_;
  std::mutex mtx_; // guards frames_, drain_pending_ and overflowed_
  std::vector<caf::message> frames_;
  bool drain_pending_ = false; // a push asked for a drain that has not taken the frames yet
  bool overflowed_ = false; // the limit was passed: every frame since is dropped
};

} // namespace chat
