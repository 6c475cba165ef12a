#include "gateway.hpp"

#include <utility>

namespace chat {

caf::behavior gateway(caf::stateful_actor<gateway_state>* self, server_options opts) {
  opts.reuse_port = true;
  self->state.srv = std::make_unique<server>(self->system(), opts);
  // The server runs on Asio threads of its own and stops with the actor (the state's
  // destructor closes every connection with 1001).
  return {
    [self](caf::get_atom) -> uint64_t { return self->state.srv->connections(); },
  };
}

std::string gateway_id(size_t i) {
  return "gateway-" + std::to_string(i);
}

strata::supervisor_spec gateways_spec(size_t count, server_options opts) {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_one;
  spec.intensity = 10;
  spec.period = std::chrono::seconds{1};
  for (size_t i = 1; i <= count; ++i)
    spec.children.emplace_back(gateway_id(i), strata::start("gateway", opts));
  return spec;
}

} // namespace chat
