#include "strata/nodes/middleman.hpp"

#include <caf/actor_cast.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>

#include "internal/basp_bridge.hpp"

namespace strata::nodes {

namespace {

// CAF's middleman with the default multiplexer (what `middleman::make` builds), whose
// "BASP" broker is a `basp_bridge`: the first broker spawned under a name is the one the
// middleman keeps, and `middleman::start` spawns CAF's own only if none is there yet.
class bridged_middleman final : public caf::io::middleman {
public:
  explicit bridged_middleman(caf::actor_system& sys) : caf::io::middleman(sys), backend_(&sys) {
    // nop
  }

  caf::io::network::multiplexer& backend() override {
    return backend_;
  }

  void start() override {
    auto hdl = named_broker<internal::basp_bridge>(caf::atom("BASP"));
    bridge_.store(static_cast<internal::basp_bridge*>(caf::actor_cast<caf::abstract_actor*>(hdl)),
                  std::memory_order_release); // SYNC POINT WRITE: find_basp_bridge
    caf::io::middleman::start();
  }

  void stop() override {
    bridge_.store(nullptr, std::memory_order_release); // SYNC POINT WRITE: find_basp_bridge
    caf::io::middleman::stop();
  }

  internal::basp_bridge* bridge() const {
    return bridge_.load(std::memory_order_acquire); // SYNC POINT READ: start, stop
  }

private:
  caf::io::network::default_multiplexer backend_;
  std::atomic<internal::basp_bridge*> bridge_{nullptr};
};

} // namespace

void load_middleman(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back([](caf::actor_system& sys) -> caf::actor_system::module* {
    return new bridged_middleman(sys);
  });
}

namespace internal {

basp_bridge* find_basp_bridge(caf::actor_system& sys) {
  if (!sys.has_middleman())
    return nullptr;
  auto* mm = dynamic_cast<bridged_middleman*>(&sys.middleman());
  return mm != nullptr ? mm->bridge() : nullptr;
}

} // namespace internal

} // namespace strata::nodes
