#include "internal/wire.hpp"

#include <exception>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/sec.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "strata/nodes/error.hpp"

namespace strata::nodes::internal {

namespace {

template <class... Ts>
caf::error encode(caf::execution_unit& ctx, std::vector<char>& buf, frame_kind kind, Ts&... xs) {
  buf.clear();
  caf::binary_serializer sink{&ctx, buf};
  auto k = static_cast<uint8_t>(kind);
  return sink(k, xs...);
}

caf::error malformed(const char* what, const caf::error& cause = caf::error{}) {
  if (cause)
    return make_error(error::corrupt_ring, std::string{"malformed transport frame: "} + what,
                      cause);
  return make_error(error::corrupt_ring, std::string{"malformed transport frame: "} + what);
}

} // namespace

caf::error check_serializable(caf::actor_system& sys, const caf::message& msg) {
  auto& types = sys.types();
  for (size_t i = 0; i < msg.size(); ++i) {
    auto rtti = msg.type(i);
    if (types.portable_name(rtti) == types.default_type_name())
      return caf::make_error(caf::sec::unknown_type,
                             std::string{"type not announced with add_message_type: "}
                               + (rtti.second != nullptr ? rtti.second->name() : "?"));
  }
  return caf::none;
}

caf::error encode_hello(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& node,
                        uint32_t slot) {
  auto n = node;
  return encode(ctx, buf, frame_kind::hello, n, slot);
}

caf::error encode_message(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& peer, const caf::node_id& target,
                          const caf::strong_actor_ptr& sender, caf::actor_id receiver,
                          caf::message_id mid, const caf::mailbox_element::forwarding_stack& stages,
                          const caf::message& content) {
  if (auto err = check_serializable(ctx.system(), content))
    return err;
  buf.clear();
  caf::binary_serializer sink{&ctx, buf};
  auto kind = static_cast<uint8_t>(frame_kind::message);
  // Node ids are the bulk of a small message and cost an allocation each to read: the
  // common case (for the receiving node, from an actor of ours) sends none.
  uint8_t target_flag = target == peer ? 0 : 1;
  auto err = sink(kind, target_flag);
  if (!err && target_flag == 1) {
    auto t = target;
    err = sink(t);
  }
  if (err)
    return err;
  auto& sys = ctx.system();
  uint8_t sender_flag = sender == nullptr ? 0 : (sender->node() == sys.node() ? 1 : 2);
  err = sink(sender_flag);
  if (!err && sender_flag == 1) {
    // As CAF's save_actor does: the peer may address it by id from now on.
    sys.registry().put(sender->id(), sender);
    auto aid = sender->id();
    err = sink(aid);
  } else if (!err && sender_flag == 2) {
    auto s = sender;
    err = sink(s);
  }
  if (err)
    return err;
  auto m = mid.integer_value();
  auto st = stages;
  auto c = content;
  return sink(receiver, m, st, c);
}

caf::error encode_monitor(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& target, caf::actor_id aid) {
  auto t = target;
  return encode(ctx, buf, frame_kind::monitor, t, aid);
}

caf::error encode_down(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& target,
                       caf::actor_id aid, const caf::error& reason) {
  auto t = target;
  auto r = reason;
  return encode(ctx, buf, frame_kind::down, t, aid, r);
}

caf::error encode_bye(caf::execution_unit& ctx, std::vector<char>& buf, const caf::error& reason) {
  auto r = reason;
  return encode(ctx, buf, frame_kind::bye, r);
}

caf::expected<frame> decode(caf::execution_unit& ctx, const std::vector<char>& buf,
                            const caf::node_id& peer) {
  // The bytes come from another process: the deserialiser checks every length against the
  // remaining input; anything it throws (e.g. bad_alloc for an absurd but in-range count) is
  // a malformed frame too, never a crash of the receive thread.
  try {
    caf::binary_deserializer source{&ctx, buf};
    frame f;
    uint8_t kind = 0;
    if (auto err = source(kind))
      return malformed("no kind", err);
    caf::error err;
    switch (kind) {
      case static_cast<uint8_t>(frame_kind::hello):
        err = source(f.node, f.slot);
        if (!err && f.node == caf::none)
          return malformed("hello without a node id");
        break;
      case static_cast<uint8_t>(frame_kind::message): {
        uint64_t mid = 0;
        uint8_t target_flag = 0;
        uint8_t sender_flag = 0;
        err = source(target_flag);
        if (!err && target_flag == 0)
          f.target = ctx.system().node(); // the receiving node: us
        else if (!err && target_flag == 1)
          err = source(f.target);
        else if (!err)
          return malformed("bad target flag");
        if (!err)
          err = source(sender_flag);
        if (!err && sender_flag == 1) {
          caf::actor_id aid = 0;
          err = source(aid);
          auto* proxies = ctx.proxy_registry_ptr();
          if (!err && (aid == 0 || peer == caf::none || proxies == nullptr))
            return malformed("sender of an unknown node, or id 0");
          if (!err)
            f.sender = proxies->get_or_put(peer, aid);
        } else if (!err && sender_flag == 2) {
          err = source(f.sender);
        } else if (!err && sender_flag != 0) {
          return malformed("bad sender flag");
        }
        if (!err)
          err = source(f.actor, mid, f.stages, f.content);
        f.mid = caf::message_id{mid};
        if (!err && f.actor == 0)
          return malformed("message for actor id 0");
        if (!err && f.target == caf::none)
          return malformed("message without a target node");
        break;
      }
      case static_cast<uint8_t>(frame_kind::monitor):
      case static_cast<uint8_t>(frame_kind::down):
        err = source(f.target, f.actor);
        if (!err && f.target == caf::none)
          return malformed("monitor or down without a target node");
        if (!err && kind == static_cast<uint8_t>(frame_kind::down))
          err = source(f.reason);
        if (!err && f.actor == 0)
          return malformed("monitor or down for actor id 0");
        break;
      case static_cast<uint8_t>(frame_kind::bye): err = source(f.reason); break;
      default: return malformed("unknown kind");
    }
    if (err)
      return malformed("bad field", err);
    if (source.remaining() != 0)
      return malformed("trailing bytes");
    f.kind = static_cast<frame_kind>(kind);
    return f;
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
}

} // namespace strata::nodes::internal
