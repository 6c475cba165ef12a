#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include <caf/actor_proxy.hpp>

#include "strata/nodes/transport.hpp"

namespace strata::nodes::internal {

/// A local stand-in for an actor on another node: `enqueue` hands the message to the
/// transport, which serialises it into the peer's ring. `kill_proxy` (the peer reported the
/// actor's exit, or the peer was lost) runs `cleanup`, which fires local monitors (`down_msg`)
/// and links (`exit_msg`) with the reason, and drops the proxy's reference to the transport
/// (transport → registry → proxy → transport would be a cycle). After a kill, requests are
/// bounced with the exit reason instead of hanging.
///
/// Links are forwarded as CAF's `forwarding_actor_proxy` does: a `(link_atom, linker)` message
/// to the remote actor, which the remote transport intercepts and turns into a link between
/// the real actor and its proxy of the linker. @threadsafe (all members).
class remote_proxy final : public caf::actor_proxy {
public:
  remote_proxy(caf::actor_config& cfg, std::shared_ptr<transport::impl> owner, uint32_t peer);

  ~remote_proxy() override;

  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* ctx) override;

  void kill_proxy(caf::execution_unit* ctx, caf::error reason) override;

  bool add_backlink(caf::abstract_actor* x) override;

  bool remove_backlink(caf::abstract_actor* x) override;

private:
  std::shared_ptr<transport::impl> owner() const;

  void forward(caf::strong_actor_ptr sender, caf::message_id mid, caf::message msg,
               const caf::mailbox_element::forwarding_stack* stages);

  /// Whether `x` carries `kill` from an actor of this process that has not ended: sent
  /// with send_exit, not propagated by a link.
  bool is_kill_from_live_actor(const caf::exit_msg& x) const;

  mutable std::mutex mtx_; // guards owner_
  std::shared_ptr<transport::impl> owner_; // null once killed
  uint32_t peer_;
};

} // namespace strata::nodes::internal
