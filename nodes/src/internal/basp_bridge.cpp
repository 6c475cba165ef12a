#include "internal/basp_bridge.hpp"

#include <caf/actor_registry.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/callback.hpp>
#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/io/basp/all.hpp>
#include <caf/mailbox_element.hpp>

namespace strata::nodes::internal {

namespace basp = caf::io::basp;

basp_bridge::basp_bridge(caf::actor_config& cfg) : super(cfg) {
  // nop
}

void basp_bridge::attach(std::weak_ptr<cluster_members> members) {
  std::lock_guard<std::mutex> guard{members_mtx_};
  members_ = std::move(members);
}

void basp_bridge::detach() {
  std::lock_guard<std::mutex> guard{members_mtx_};
  members_.reset();
}

std::shared_ptr<cluster_members> basp_bridge::members() const {
  std::lock_guard<std::mutex> guard{members_mtx_};
  return members_.lock();
}

const char* basp_bridge::name() const {
  return "strata-basp-bridge";
}

caf::behavior basp_bridge::make_behavior() {
  auto stock = super::make_behavior();
  // After CAF's behaviour set its own: down messages of members' proxies are ours.
  set_down_handler([](caf::local_actor* self, caf::down_msg& msg) {
    static_cast<basp_bridge*>(self)->on_down(msg);
  });
  // CAF's handler of new_data_msg is replaced (ours runs it for everything not for a
  // member); its other handlers stay.
  return caf::message_handler{[this](caf::io::new_data_msg& msg) { on_data(msg); }}.or_else(
    std::move(stock));
}

void basp_bridge::on_data(caf::io::new_data_msg& msg) {
  // CAF's own handler (basp_broker.cpp), with payloads for members taken out first.
  set_context(msg.handle);
  auto& ctx = *this_context;
  auto next = basp::await_header;
  if (!(ctx.cstate == basp::await_payload && for_member(ctx.hdr, msg.buf)))
    next = instance.handle(context(), msg, ctx.hdr, ctx.cstate == basp::await_payload);
  if (basp::requires_shutdown(next)) {
    connection_cleanup(msg.handle, basp::to_sec(next));
    close(msg.handle);
    return;
  }
  if (next != ctx.cstate) {
    auto rd_size = next == basp::await_payload ? ctx.hdr.payload_len : basp::header_size;
    configure_read(msg.handle, caf::io::receive_policy::exactly(rd_size));
    ctx.cstate = next;
  }
}

bool basp_bridge::for_member(const basp::header& hdr, std::vector<char>& buf) {
  if (hdr.operation != basp::message_type::routed_message
      && hdr.operation != basp::message_type::monitor_message)
    return false;
  // Anything malformed is left to BASP, which closes the connection.
  if (buf.size() != hdr.payload_len)
    return false;
  auto m = members();
  if (m == nullptr)
    return false;
  caf::binary_deserializer source{context(), buf};
  caf::node_id from;
  caf::node_id to;
  if (source(from, to) || to == caf::none || !m->is_member(to))
    return false;
  if (hdr.operation == basp::message_type::monitor_message)
    watch_member(from, to, hdr.dest_actor);
  else
    deliver_to_member(hdr, from, to, source);
  return true;
}

void basp_bridge::deliver_to_member(const basp::header& hdr, const caf::node_id& source,
                                    const caf::node_id& dest, caf::binary_deserializer& rest) {
  auto mid = caf::make_message_id(hdr.operation_data);
  caf::strong_actor_ptr src;
  if (hdr.source_actor != caf::invalid_actor_id)
    src = source == this_node() ? system().registry().get(hdr.source_actor)
                                : proxies().get_or_put(source, hdr.source_actor);
  // A named receiver (CAF's "SpawnServ" or "ConfigServ" of a node it just learned of): our
  // nodes are addressed by actor id only.
  caf::strong_actor_ptr dst;
  if (!hdr.has(basp::header::named_receiver_flag))
    dst = proxies().get_or_put(dest, hdr.dest_actor);
  if (dst == nullptr) {
    forget(dest, hdr.dest_actor);
    caf::detail::sync_request_bouncer bounce{caf::exit_reason::remote_link_unreachable};
    bounce(src, mid);
    return;
  }
  std::vector<caf::strong_actor_ptr> stages;
  caf::message content;
  if (rest(stages, content)) {
    caf::detail::sync_request_bouncer bounce{caf::sec::malformed_basp_message};
    bounce(src, mid);
    return;
  }
  // As it is, link requests included: the node that runs the actor intercepts those.
  dst->enqueue(caf::make_mailbox_element(std::move(src), mid, std::move(stages),
                                         std::move(content)),
               context());
}

void basp_bridge::forget(const caf::node_id& member, caf::actor_id aid) {
  // CAF's get_or_put keeps the entry of a refused proxy (null); a node that is gone will not
  // come back to fill it, so asking again and again must not grow the registry.
  proxies().erase(member, aid);
}

void basp_bridge::watch_member(const caf::node_id& watcher, const caf::node_id& member,
                               caf::actor_id aid) {
  auto proxy = proxies().get_or_put(member, aid);
  if (proxy == nullptr) {
    forget(member, aid);
    send_member_down(watcher, member, aid, caf::exit_reason::remote_link_unreachable);
    return;
  }
  auto& watchers = watched_[proxy->address()];
  // A proxy that is dead already sends its down message at once.
  if (watchers.empty())
    monitor(proxy);
  watchers.emplace(watcher);
}

void basp_bridge::on_down(caf::down_msg& msg) {
  auto i = watched_.find(msg.source);
  if (i == watched_.end()) {
    handle_down_msg(msg); // one of our own actors, watched by BASP itself
    return;
  }
  for (auto& watcher : i->second)
    send_member_down(watcher, msg.source.node(), msg.source.id(), msg.reason);
  watched_.erase(i);
}

void basp_bridge::send_member_down(const caf::node_id& to, const caf::node_id& member,
                                   caf::actor_id aid, const caf::error& reason) {
  auto path = instance.tbl().lookup(to);
  if (!path)
    return; // the watcher's host is gone: nobody left to tell
  basp::header hdr{basp::message_type::down_message, 0, 0, 0, aid, caf::invalid_actor_id};
  auto writer = caf::make_callback(
    [&](caf::serializer& sink) -> caf::error { return sink(member, to, reason); });
  instance.write(context(), *path, hdr, &writer);
}

caf::strong_actor_ptr basp_bridge::make_proxy(caf::node_id nid, caf::actor_id aid) {
  if (auto m = members(); m != nullptr && m->is_member(nid))
    return m->make_member_proxy(nid, aid);
  return super::make_proxy(std::move(nid), aid);
}

void basp_bridge::purge_state(const caf::node_id& nid) {
  super::purge_state(nid);
  for (auto i = watched_.begin(); i != watched_.end();) {
    i->second.erase(nid);
    if (i->second.empty()) {
      demonitor(i->first);
      i = watched_.erase(i);
    } else {
      ++i;
    }
  }
}

void basp_bridge::learned_new_node_indirectly(const caf::node_id& nid) {
  // A member's messages reached another host through us; if that host sends one back (or
  // forwards its handle), BASP would take it for a route to the member through that host,
  // and messages to the member would go round in a loop.
  if (auto m = members(); m != nullptr && m->is_member(nid)) {
    instance.tbl().erase_indirect(nid);
    return;
  }
  super::learned_new_node_indirectly(nid);
}

} // namespace strata::nodes::internal
