#include "internal/observer_live_queue.hpp"

#include <algorithm>

namespace strata::internal {

const live_queue::message& live_queue::resnapshot() {
  static const message msg = std::make_shared<const std::string>(
    R"({"type":"resnapshot","why":"the page fell behind: events were dropped"})");
  return msg;
}

bool live_queue::fits(const message& msg) const {
  return entries_.size() < max_messages && bytes_ + msg->size() <= max_bytes;
}

void live_queue::push_batch(message msg) {
  if (behind_)
    return;
  if (!fits(msg)) {
    drop_waiting();
    behind_ = true;
    msg = resnapshot();
  }
  push(std::move(msg), false);
}

void live_queue::push_snapshot(message msg) {
  if (!fits(msg))
    drop_waiting();
  behind_ = false;
  push(std::move(msg), true);
}

bool live_queue::snapshot_waiting() const {
  auto first = entries_.begin() + (writing_ ? 1 : 0);
  return std::any_of(first, entries_.end(), [](const entry& x) { return x.snapshot; });
}

const live_queue::message* live_queue::start_write() {
  if (writing_ || entries_.empty())
    return nullptr;
  writing_ = true;
  return &entries_.front().text;
}

void live_queue::written() {
  if (!writing_)
    return;
  writing_ = false;
  bytes_ -= entries_.front().text->size();
  entries_.pop_front();
}

void live_queue::drop_waiting() {
  auto first = entries_.begin() + (writing_ ? 1 : 0);
  for (auto i = first; i != entries_.end(); ++i)
    bytes_ -= i->text->size();
  entries_.erase(first, entries_.end());
}

void live_queue::push(message msg, bool snapshot) {
  bytes_ += msg->size();
  entries_.push_back(entry{std::move(msg), snapshot});
}

} // namespace strata::internal
