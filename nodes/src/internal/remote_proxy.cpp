#include "internal/remote_proxy.hpp"

#include <caf/exit_reason.hpp>
#include <caf/make_message.hpp>
#include <caf/system_messages.hpp>

#include "internal/transport_impl.hpp"

namespace strata::nodes::internal {

remote_proxy::remote_proxy(caf::actor_config& cfg, std::shared_ptr<transport::impl> owner,
                           uint32_t peer)
  : caf::actor_proxy(cfg), owner_(std::move(owner)), peer_(peer) {
  // nop
}

remote_proxy::~remote_proxy() = default;

std::shared_ptr<transport::impl> remote_proxy::owner() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return owner_;
}

void remote_proxy::forward(caf::strong_actor_ptr sender, caf::message_id mid, caf::message msg,
                           const caf::mailbox_element::forwarding_stack* stages) {
  auto t = owner();
  if (t != nullptr && msg.match_elements<caf::exit_msg>()) {
    if (is_kill_from_live_actor(msg.get_as<caf::exit_msg>(0)))
      // Sent, not propagated: the far end must not take it for its sender's death (a
      // supervisor takes a `kill` from a child that ended for the child's `killed`). A
      // propagated exit comes from its source's cleanup, after CAF marked it cleaned up;
      // this one's source lives on. Its source becomes the receiver, as anon_send_exit
      // makes it, which keeps `kill` fatal there and leaves the link between the two, so
      // the receiver's death still reaches the sender. CAF reads a kill's source only to
      // unlink from it.
      msg = caf::make_message(caf::exit_msg{address(), caf::exit_reason::kill});
    t->defer_exit(caf::strong_actor_ptr{ctrl()}, peer_, std::move(sender), mid, std::move(msg));
    return;
  }
  if (t == nullptr) {
    // Killed: the actor is gone, so a request must fail now rather than hang.
    auto reason = fail_state();
    internal::bounce(sender, mid, reason ? reason : caf::exit_reason::unknown);
    return;
  }
  caf::mailbox_element::forwarding_stack none;
  t->forward(peer_, node(), id(), std::move(sender), mid, stages != nullptr ? *stages : none,
             std::move(msg));
}

bool remote_proxy::is_kill_from_live_actor(const caf::exit_msg& x) const {
  if (x.reason != caf::exit_reason::kill)
    return false;
  auto source = caf::actor_cast<caf::strong_actor_ptr>(x.source);
  // A source in another process (a proxy) cannot be told apart here: left as it is.
  return source != nullptr && source->node() == home_system().node()
         && !source->get()->getf(caf::abstract_actor::is_cleaned_up_flag);
}

void remote_proxy::enqueue(caf::mailbox_element_ptr what, caf::execution_unit*) {
  auto stages = std::move(what->stages);
  forward(std::move(what->sender), what->mid, what->move_content_to_message(), &stages);
}

void remote_proxy::kill_proxy(caf::execution_unit* ctx, caf::error reason) {
  std::shared_ptr<transport::impl> tmp;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    tmp.swap(owner_); // breaks the cycle transport → registry → proxy → transport
  }
  cleanup(std::move(reason), ctx);
}

bool remote_proxy::add_backlink(caf::abstract_actor* x) {
  if (caf::monitorable_actor::add_backlink(x)) {
    if (auto t = owner())
      t->request_link(peer_, node(), id(), x->ctrl(), true);
    return true;
  }
  return false;
}

bool remote_proxy::remove_backlink(caf::abstract_actor* x) {
  if (caf::monitorable_actor::remove_backlink(x)) {
    if (auto t = owner())
      t->request_link(peer_, node(), id(), x->ctrl(), false);
    return true;
  }
  return false;
}

} // namespace strata::nodes::internal
