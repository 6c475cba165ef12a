#pragma once

// The channel strata's supervision events go to (strata::events_group), in place of a CAF
// local group (docs/design/scheduler.md).

#include <map>
#include <mutex>
#include <string>

#include <caf/abstract_group.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/actor_system.hpp>
#include <caf/group.hpp>
#include <caf/group_module.hpp>
#include <caf/intrusive_ptr.hpp>

namespace strata::internal {

/// A CAF group that delivers straight to its subscribers. CAF 0.17's local group also hands
/// every message to a broker actor, for remote subscribers: one more actor to run per event
/// even with no subscriber at all, ~25% of a one_for_all restart. And `wanted` lets the
/// supervisor skip building an event nobody receives.
class events_channel final : public caf::abstract_group {
public:
  events_channel(caf::group_module& mod, caf::actor_system& sys);

  /// Whether anyone subscribed. @threadsafe
  bool wanted() const noexcept {
    return subscribers_count_.load(std::memory_order_acquire) > 0;
  }

  bool subscribe(caf::strong_actor_ptr who) override;
  void unsubscribe(const caf::actor_control_block* who) override;
  void enqueue(caf::strong_actor_ptr sender, caf::message_id mid, caf::message content,
               caf::execution_unit* host) override;
  caf::error save(caf::serializer& sink) const override;
  void stop() override;

private:
  mutable std::mutex mtx_;
  std::map<const caf::actor_control_block*, caf::strong_actor_ptr> subscribers_;
  std::atomic<size_t> subscribers_count_{0};
};

/// The group module of `events_channel` ("strata"); not registered with CAF's group manager
/// (CAF 0.17's module factories get no actor system), so a channel sent to another process
/// does not load there: an error, not a crash.
class events_module final : public caf::group_module {
public:
  explicit events_module(caf::actor_system& sys);

  caf::expected<caf::group> get(const std::string& name) override;
  caf::error load(caf::deserializer& source, caf::group& storage) override;
  void stop() override;

  events_channel& channel() {
    return *channel_;
  }

private:
  caf::intrusive_ptr<events_channel> channel_;
};

/// Whether an event sent to `g` reaches anyone (always true for a group that is not an
/// `events_channel`). @threadsafe
bool events_wanted(const caf::group& g) noexcept;

} // namespace strata::internal
