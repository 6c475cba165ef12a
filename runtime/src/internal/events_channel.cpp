#include "internal/events_channel.hpp"

#include <utility>
#include <vector>

#include <caf/deserializer.hpp>
#include <caf/sec.hpp>
#include <caf/serializer.hpp>

namespace strata::internal {

events_channel::events_channel(caf::group_module& mod, caf::actor_system& sys)
  : caf::abstract_group(mod, "events", sys.node()) {
  // nop
}

bool events_channel::subscribe(caf::strong_actor_ptr who) {
  if (!who)
    return false;
  std::lock_guard<std::mutex> guard{mtx_};
  auto key = who.get();
  auto added = subscribers_.emplace(key, std::move(who)).second;
  subscribers_count_.store(subscribers_.size(), std::memory_order_release);
  return added;
}

void events_channel::unsubscribe(const caf::actor_control_block* who) {
  caf::strong_actor_ptr gone; // released outside the lock
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = subscribers_.find(who);
  if (i == subscribers_.end())
    return;
  gone = std::move(i->second);
  subscribers_.erase(i);
  subscribers_count_.store(subscribers_.size(), std::memory_order_release);
}

void events_channel::enqueue(caf::strong_actor_ptr sender, caf::message_id mid,
                             caf::message content, caf::execution_unit* host) {
  if (!wanted())
    return;
  std::vector<caf::strong_actor_ptr> to;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    to.reserve(subscribers_.size());
    for (auto& kvp : subscribers_)
      to.push_back(kvp.second);
  }
  for (auto& who : to)
    who->enqueue(sender, mid, content, host);
}

caf::error events_channel::save(caf::serializer& sink) const {
  auto id = identifier_;
  return sink(id);
}

void events_channel::stop() {
  std::map<const caf::actor_control_block*, caf::strong_actor_ptr> gone;
  std::lock_guard<std::mutex> guard{mtx_};
  gone.swap(subscribers_);
  subscribers_count_.store(0, std::memory_order_release);
}

events_module::events_module(caf::actor_system& sys)
  : caf::group_module(sys, "strata"), channel_(caf::make_counted<events_channel>(*this, sys)) {
  // nop
}

caf::expected<caf::group> events_module::get(const std::string& name) {
  if (name != channel_->identifier())
    return caf::make_error(caf::sec::invalid_argument, "no strata group named " + name);
  return caf::group{channel_.get()};
}

caf::error events_module::load(caf::deserializer& source, caf::group& storage) {
  std::string id;
  if (auto err = source(id))
    return err;
  auto g = get(id);
  if (!g)
    return std::move(g.error());
  storage = std::move(*g);
  return caf::none;
}

void events_module::stop() {
  channel_->stop();
}

bool events_wanted(const caf::group& g) noexcept {
  auto ch = dynamic_cast<const events_channel*>(g.get());
  return ch == nullptr || ch->wanted();
}

} // namespace strata::internal
