#pragma once

// The transport's wire format: one frame per ring message, written with caf::binary_serializer
// and read with caf::binary_deserializer. Private to strata_nodes. See docs/design/nodes.md,
// "Transport: frames".

#include <cstdint>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/execution_unit.hpp>
#include <caf/expected.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/node_id.hpp>

namespace strata::nodes::internal {

/// Kinds of frames, the first byte of every frame.
enum class frame_kind : uint8_t {
  /// `node_id`, `uint32_t slot`: the sender's identity; the first frame on every ring.
  hello = 1,
  /// A message for actor `receiver` of node `target` (the receiving node itself, or a node
  /// it relays to). A fixed header written by hand: `uint8_t flags` (`message_flags`), then
  /// `actor_id receiver`, `uint64_t message_id` and the sender's `actor_id` (an actor of the
  /// sending node; 0 otherwise) in host byte order (both ends run the same binary on one
  /// host). Then, through CAF's serialiser and only if their flag is set: `node_id target`
  /// (without it: the receiving node), `strong_actor_ptr sender` (an actor of a third node),
  /// `forwarding_stack`. Then the content: `uint8_t count`, and per element `uint16_t` CAF
  /// type number (builtin types), or 0 and its portable name, then its value.
  message = 2,
  /// `node_id target`, `actor_id`: the sender holds a proxy of that actor of `target` and
  /// wants a `down` when it exits.
  monitor = 3,
  /// `node_id target`, `actor_id`, `caf::error reason`: that actor of `target` exited (or
  /// never existed).
  down = 4,
  /// `caf::error reason`: the sending node is going away; treat it as lost.
  bye = 5,
};

/// Bits of a message frame's flags byte.
namespace message_flags {
constexpr uint8_t target = 1; // a target node id follows (not the receiving node)
constexpr uint8_t local_sender = 2; // the header's sender id: an actor of the sending node
constexpr uint8_t remote_sender = 4; // a strong_actor_ptr follows (an actor of a third node)
constexpr uint8_t stages = 8; // a forwarding stack follows
constexpr uint8_t all = 15;
} // namespace message_flags

/// Bytes of a message frame's fixed header: kind, flags, receiver, message id, sender id.
constexpr size_t message_header_size = 2 + 3 * sizeof(uint64_t);

/// Elements a message may have on the wire.
constexpr size_t max_elements = 255;

/// A decoded frame; which fields are set depends on `kind`.
struct frame {
  frame_kind kind = frame_kind::hello;
  caf::node_id node; // hello
  uint32_t slot = 0; // hello
  caf::node_id target; // message, monitor, down: the node the actor lives on
  caf::strong_actor_ptr sender; // message
  caf::actor_id actor = 0; // message (receiver), monitor, down
  caf::message_id mid; // message
  caf::mailbox_element::forwarding_stack stages; // message
  caf::message content; // message
  caf::error reason; // down, bye
};

/// Encodes a frame into `buf` (replacing its contents); `ctx` must carry the actor system.
/// @returns the serialiser's error, or `unknown_type` for an element whose type was not
/// announced with `add_message_type` (checked here: CAF 0.17 would only print a line).
caf::error encode_hello(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& node,
                        uint32_t slot);
/// `peer` is the receiving node's id; the sender's own node id is `ctx.system().node()`.
/// The last local sender a thread put into its system's registry (see encode_message), for
/// one transport: `transport` is a number no other transport of the process had.
struct registered_sender {
  uint64_t transport = 0;
  caf::actor_id id = 0;
};

/// Encodes a message frame. A local sender is put into the registry (as CAF's `save_actor`
/// does: the peer may address it by id from now on), unless `last` says this thread put that
/// very actor there already: actor ids are never reused within a system, and the registry
/// drops an entry only when its actor exits. `last` is updated.
caf::error encode_message(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& peer, const caf::node_id& target,
                          const caf::strong_actor_ptr& sender, caf::actor_id receiver,
                          caf::message_id mid, const caf::mailbox_element::forwarding_stack& stages,
                          const caf::message& content, registered_sender* last = nullptr);
caf::error encode_monitor(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& target, caf::actor_id aid);
caf::error encode_down(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& target,
                       caf::actor_id aid, const caf::error& reason);
caf::error encode_bye(caf::execution_unit& ctx, std::vector<char>& buf, const caf::error& reason);

/// One actor remembered by id (see `decode`).
struct actor_cache {
  caf::actor_id id = 0;
  caf::strong_actor_ptr ptr;
};

/// Decodes one frame from node `peer` (none before its hello; a compact sender is an actor
/// of `peer`, a compact target is this node). `ctx` must carry the actor
/// system and the transport's proxy registry, so that actor handles arrive as proxies. Every field
/// is checked: an unknown kind, a short or over-long frame, or a deserialiser error returns an
/// error (the peer is then closed).
///
/// `senders`, when given, remembers the last sender that `peer`'s messages named by id and its
/// proxy, saving a look-up in the proxy registry (and its lock) per message: messages in a row
/// mostly come from one actor. Keep one per peer, and reset it when the peer changes.
caf::expected<frame> decode(caf::execution_unit& ctx, const std::vector<char>& buf,
                            const caf::node_id& peer, actor_cache* senders = nullptr);

} // namespace strata::nodes::internal
