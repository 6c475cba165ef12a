#pragma once

// CAF's BASP broker, taught where a cluster's nodes are. Private to strata_nodes.

#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/node_id.hpp>

namespace strata::nodes::internal {

/// What a BASP bridge asks of the cluster whose root it runs in (the root's transport).
class cluster_members {
public:
  virtual ~cluster_members() = default;

  /// Whether `nid` is a node of this cluster, or was one until lately (a dead node's id stays
  /// known for a while). @threadsafe
  virtual bool is_member(const caf::node_id& nid) const = 0;

  /// A proxy of actor `aid` on node `nid`, reached over the cluster's rings; null if `nid`
  /// is not connected (any more). Called with the BASP proxy registry's mutex held.
  /// @threadsafe
  virtual caf::strong_actor_ptr make_member_proxy(const caf::node_id& nid, caf::actor_id aid) = 0;
};

/// CAF 0.17's BASP broker, which knows only the nodes of its TCP connections, plus a cluster's
/// nodes behind its root (docs/design/nodes.md, "Across hosts"). Another host that holds a
/// handle of an actor in node K of this cluster got it from this root, so BASP there routes
/// everything for K here; CAF's own broker would drop it (no route to K). This one:
/// - resolves handles of K's actors to the cluster transport's proxies (`make_proxy`), so a
///   handle of K that comes back from another host is not routed back there;
/// - delivers routed messages for K's actors to those proxies, bouncing requests for a node
///   that is gone;
/// - answers a monitor request for an actor of K by monitoring its proxy here and, when it
///   dies, sending the host a BASP down message in K's name;
/// - never learns a route to K through another host.
/// Without members (`attach` not called: every node's own middleman) it is CAF's broker.
///
/// Lives on the middleman's multiplexer thread, like CAF's; `attach`, `detach` and
/// `make_proxy` are called from other threads.
class basp_bridge : public caf::io::basp_broker {
public:
  using super = caf::io::basp_broker;

  explicit basp_bridge(caf::actor_config& cfg);

  /// Routes for the nodes `members` names from now on (weakly held: the transport
  /// detaches before it goes). @threadsafe
  void attach(std::weak_ptr<cluster_members> members);

  /// Stops routing for the members; handles of their actors resolve as CAF's would.
  /// @threadsafe
  void detach();

  // -- caf::io::basp_broker -------------------------------------------------------------------

  const char* name() const override;

  caf::behavior make_behavior() override;

  caf::strong_actor_ptr make_proxy(caf::node_id nid, caf::actor_id aid) override;

  void purge_state(const caf::node_id& nid) override;

  void learned_new_node_indirectly(const caf::node_id& nid) override;

private:
  std::shared_ptr<cluster_members> members() const;

  // new_data_msg: a payload addressed to a member is handled here, the rest by BASP.
  void on_data(caf::io::new_data_msg& msg);

  // Whether the payload `buf` (of the header in `hdr`) was for a member; if so, handled.
  bool for_member(const caf::io::basp::header& hdr, std::vector<char>& buf);

  void deliver_to_member(const caf::io::basp::header& hdr, const caf::node_id& source,
                         const caf::node_id& dest, caf::binary_deserializer& rest);

  // Drops the registry's entry for a proxy of a member's actor that could not be made.
  void forget(const caf::node_id& member, caf::actor_id aid);

  void watch_member(const caf::node_id& watcher, const caf::node_id& member, caf::actor_id aid);

  // A BASP down message to `to` for actor `aid` of `member`, in the member's name.
  void send_member_down(const caf::node_id& to, const caf::node_id& member, caf::actor_id aid,
                        const caf::error& reason);

  void on_down(caf::down_msg& msg);

  mutable std::mutex members_mtx_; // guards members_
  std::weak_ptr<cluster_members> members_;
  // Proxies of members' actors that other hosts monitor, and which hosts. Broker only.
  std::unordered_map<caf::actor_addr, std::unordered_set<caf::node_id>> watched_;
};

/// The BASP bridge of `sys`'s middleman; null if the middleman is not loaded or was loaded
/// without `load_middleman` (CAF's own broker). @threadsafe
basp_bridge* find_basp_bridge(caf::actor_system& sys);

} // namespace strata::nodes::internal
