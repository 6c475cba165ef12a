#include "internal/observer_tree.hpp"

#include <array>
#include <deque>
#include <sstream>

#include <caf/node_id.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "strata/config.hpp"
#include "strata/error.hpp"

namespace strata::internal {

namespace {

using json = nlohmann::ordered_json;

constexpr std::array<child_status, 3> all_statuses{child_status::running, child_status::restarting,
                                                   child_status::stopped};
constexpr std::array<placement, 3> all_placements{placement::task, placement::thread,
                                                  placement::process};

// A handle's node and process id when it lives in another OS process (a `process` child or a
// supervisor reached through a node's proxy); nothing for a local one.
void where(const caf::node_id& local, const caf::actor& hdl, std::string& node, uint32_t& pid) {
  if (!hdl || hdl.node() == local || !hdl.node())
    return;
  node = to_string(hdl.node());
  if (hdl.node()->implementation_id() == caf::node_id::default_data::class_id)
    pid = static_cast<const caf::node_id::default_data&>(*hdl.node()).process_id();
}

const char* state_of(const observed_supervisor& s) {
  if (!s.answered)
    return "undefined";
  return s.report.shutting_down ? "shutting_down" : "running";
}

// The kind of an exit reason, a bounded set of names for a label: `to_text` writes the
// reason's name, then ": " and its context (an exception's text, a child id...).
std::string reason_kind(const std::string& reason) {
  auto kind = reason.substr(0, reason.find(':'));
  return kind.empty() ? "unknown" : kind;
}

// How long the nodes of `process` workers have to tell their mailbox depth: short, since a
// stopped node (SIGSTOP, a hang) would hold every snapshot up this long until its heartbeat
// has it killed; its depth is then shown unknown.
constexpr auto remote_mailbox_timeout = std::chrono::milliseconds{200};

// A `process` worker's mailbox is counted in its node, not by the supervisor's proxy of it:
// the placement provider asks the nodes, all at once, after the walk.
void fill_remote_mailboxes(caf::actor_system& sys, tree_snapshot& tree) {
  auto cfg = strata_config(sys);
  if (!cfg || (*cfg)->provider() == nullptr)
    return;
  std::vector<child_report*> remote;
  std::vector<caf::actor> handles;
  for (auto& s : tree.supervisors)
    for (auto& c : s.report.children)
      if (c.type == child_type::worker && c.placement == placement::process && c.handle
          && c.mailbox < 0) {
        remote.push_back(&c);
        handles.push_back(c.handle);
      }
  if (handles.empty())
    return;
  auto depths = (*cfg)->provider()->mailbox_depths(handles, remote_mailbox_timeout);
  for (size_t i = 0; i < remote.size() && i < depths.size(); ++i)
    remote[i]->mailbox = depths[i];
}

} // namespace

tree_snapshot take_snapshot(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                            caf::timespan timeout) {
  tree_snapshot result;
  caf::scoped_actor self{sys};
  std::deque<std::pair<caf::actor, int>> pending;
  auto add = [&](const caf::actor& hdl, std::string path) {
    auto idx = static_cast<int>(result.supervisors.size());
    auto& s = result.supervisors.emplace_back();
    s.report.path = std::move(path);
    where(sys.node(), hdl, s.node, s.pid);
    pending.emplace_back(hdl, idx);
    return idx;
  };
  for (const auto& root : roots)
    result.roots.push_back(add(root, "?"));
  // Breadth first, one supervisor at a time: a supervisor answers from its own state at
  // once (observe_atom is never deferred), so the walk costs one round trip per supervisor.
  while (!pending.empty()) {
    auto [hdl, idx] = std::move(pending.front());
    pending.pop_front();
    self->request(hdl, timeout, observe_atom::value)
      .receive(
        [&](supervisor_report& rep) {
          auto& s = result.supervisors[static_cast<size_t>(idx)];
          s.report = std::move(rep);
          s.answered = true;
        },
        [&](caf::error& err) {
          result.supervisors[static_cast<size_t>(idx)].error = to_text(err);
        });
    auto at = [&]() -> observed_supervisor& {
      return result.supervisors[static_cast<size_t>(idx)];
    };
    if (!at().answered)
      continue;
    auto n = at().report.children.size();
    at().nested.assign(n, -1);
    for (size_t i = 0; i < n; ++i) {
      // `add` grows `result.supervisors` and may move them: no reference into it is held
      // across the call, and the handle and path are copies.
      const auto& c = at().report.children[i];
      if (c.type != child_type::supervisor || !c.handle)
        continue;
      auto hdl = c.handle;
      auto path = at().report.path + "/" + c.id;
      auto nested = add(hdl, std::move(path));
      at().nested[i] = nested;
    }
  }
  fill_remote_mailboxes(sys, result);
  result.local = sys.node();
  return result;
}

void event_counters::add(const supervision_event& ev) {
  switch (ev.kind) {
    case event_kind::exited: ++exits[{ev.supervisor, reason_kind(ev.reason)}]; break;
    case event_kind::restarted: ++restarts[ev.supervisor]; break;
    case event_kind::start_failed: ++start_failures[ev.supervisor]; break;
    case event_kind::intensity_reached: ++intensity_reached[ev.supervisor]; break;
    default: break;
  }
}

namespace {

json render_supervisor(const tree_snapshot& tree, int idx, const tree_query& query);

json render_child(const tree_snapshot& tree, const observed_supervisor& s, size_t i,
                  const tree_query& query) {
  const auto& c = s.report.children[i];
  json j;
  j["id"] = c.id;
  j["path"] = s.report.path + "/" + c.id;
  j["type"] = to_string(c.type);
  j["placement"] = to_string(c.placement);
  j["state"] = to_string(c.status);
  j["restarts"] = c.restarts;
  j["last_exit"] = c.last_exit.empty() ? json(nullptr) : json(c.last_exit);
  j["actor_id"] = c.handle ? json(c.handle.id()) : json(nullptr);
  std::string node;
  uint32_t pid = 0;
  where(tree.local, c.handle, node, pid);
  if (!node.empty()) {
    j["node"] = node;
    j["pid"] = pid;
  }
  // A supervisor's mailbox is in its own report; a worker's as it counts it (observer.md),
  // null where it does not (a `process` child).
  auto nested = i < s.nested.size() ? s.nested[i] : -1;
  const observed_supervisor* sub = nested >= 0 ? &tree.supervisors[static_cast<size_t>(nested)]
                                               : nullptr;
  if (sub != nullptr)
    j["mailbox"] = sub->answered ? json(sub->report.mailbox) : json(nullptr);
  else
    j["mailbox"] = c.mailbox >= 0 ? json(c.mailbox) : json(nullptr);
  if (sub != nullptr)
    j["supervisor"] = render_supervisor(tree, nested, query);
  return j;
}

json render_supervisor(const tree_snapshot& tree, int idx, const tree_query& query) {
  const auto& s = tree.supervisors[static_cast<size_t>(idx)];
  json j;
  j["path"] = s.report.path;
  j["state"] = state_of(s);
  if (!s.answered) {
    j["error"] = s.error;
  } else {
    j["strategy"] = s.report.strategy;
    j["mailbox"] = s.report.mailbox;
  }
  if (!s.node.empty()) {
    j["node"] = s.node;
    j["pid"] = s.pid;
  }
  const auto& children = s.report.children;
  json by_state;
  for (auto st : all_statuses)
    by_state[to_string(st)] = 0;
  for (const auto& c : children)
    by_state[to_string(c.status)] = by_state[to_string(c.status)].get<uint64_t>() + 1;
  json by_placement;
  for (auto pl : all_placements)
    by_placement[to_string(pl)] = 0;
  for (const auto& c : children)
    by_placement[to_string(c.placement)] = by_placement[to_string(c.placement)].get<uint64_t>() + 1;
  j["children_total"] = children.size();
  j["children_by_state"] = std::move(by_state);
  j["children_by_placement"] = std::move(by_placement);
  j["offset"] = query.offset;
  j["limit"] = query.limit;
  json list = json::array();
  auto first = std::min<uint64_t>(query.offset, children.size());
  auto last = first + std::min<uint64_t>(query.limit, children.size() - first);
  for (auto i = first; i < last; ++i)
    list.push_back(render_child(tree, s, static_cast<size_t>(i), query));
  j["children"] = std::move(list);
  return j;
}

} // namespace

std::optional<std::string> render_tree(const tree_snapshot& tree, const tree_query& query,
                                       int indent) {
  std::vector<int> tops;
  if (query.path.empty()) {
    tops = tree.roots;
  } else {
    for (size_t i = 0; i < tree.supervisors.size(); ++i)
      if (tree.supervisors[i].report.path == query.path)
        tops.push_back(static_cast<int>(i));
    if (tops.empty())
      return std::nullopt;
  }
  // Totals over the whole tree, whatever part of it is listed.
  std::map<std::string, uint64_t> by_state;
  std::map<std::string, uint64_t> by_placement;
  uint64_t total = 0;
  for (auto st : all_statuses)
    by_state[to_string(st)] = 0;
  for (auto pl : all_placements)
    by_placement[to_string(pl)] = 0;
  for (const auto& s : tree.supervisors) {
    for (const auto& c : s.report.children) {
      ++total;
      ++by_state[to_string(c.status)];
      ++by_placement[to_string(c.placement)];
    }
  }
  json doc;
  doc["supervisors"] = tree.supervisors.size();
  doc["children"] = {{"total", total}, {"by_state", by_state}, {"by_placement", by_placement}};
  json list = json::array();
  for (auto idx : tops)
    list.push_back(render_supervisor(tree, idx, query));
  doc["roots"] = std::move(list);
  // An exit reason carries user text (an exception's message) that need not be UTF-8: JSON
  // gets U+FFFD in place of what is not, rather than an exception.
  return doc.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string escape_label(const std::string& x) {
  std::string result;
  result.reserve(x.size());
  for (auto ch : x) {
    switch (ch) {
      case '\\': result += "\\\\"; break;
      case '"': result += "\\\""; break;
      case '\n': result += "\\n"; break;
      default: result += ch;
    }
  }
  return result;
}

namespace {

// The families of one exposition, in the order they were declared. A sample's labels are its
// key, so two supervisors with the same path (two roots given one name) add up into one
// series instead of writing the same series twice, which Prometheus rejects.
class exposition {
public:
  using labels = std::vector<std::pair<const char*, std::string>>;

  void declare(std::string name, std::string type, std::string help) {
    families_.push_back(family{std::move(name), std::move(type), std::move(help), {}});
  }

  void add(const labels& ls, uint64_t value) {
    std::string key;
    for (const auto& [k, v] : ls) {
      key += key.empty() ? "{" : ",";
      key += k;
      key += "=\"";
      key += escape_label(v);
      key += '"';
    }
    if (!key.empty())
      key += '}';
    families_.back().samples[key] += value;
  }

  std::string str() const {
    std::ostringstream out;
    for (const auto& f : families_) {
      if (f.samples.empty())
        continue;
      out << "# HELP " << f.name << ' ' << f.help << '\n';
      out << "# TYPE " << f.name << ' ' << f.type << '\n';
      for (const auto& [key, value] : f.samples)
        out << f.name << key << ' ' << value << '\n';
    }
    return out.str();
  }

private:
  struct family {
    std::string name;
    std::string type;
    std::string help; // no backslash or line feed, so it needs no escaping
    std::map<std::string, uint64_t> samples;
  };
  std::vector<family> families_;
};

} // namespace

std::string render_metrics(const tree_snapshot& tree, const event_counters& counters,
                           const std::vector<placement_provider::node_traffic>& nodes) {
  exposition out;
  out.declare("strata_supervisors", "gauge",
              "Supervisors in the tree by state (undefined: did not answer the observer).");
  for (const char* st : {"running", "shutting_down", "undefined"})
    out.add({{"state", st}}, 0);
  for (const auto& s : tree.supervisors)
    out.add({{"state", state_of(s)}}, 1);
  out.declare("strata_children", "gauge", "Children in the whole tree by state and placement.");
  for (auto st : all_statuses)
    for (auto pl : all_placements)
      out.add({{"state", to_string(st)}, {"placement", to_string(pl)}}, 0);
  for (const auto& s : tree.supervisors)
    for (const auto& c : s.report.children)
      out.add({{"state", to_string(c.status)}, {"placement", to_string(c.placement)}}, 1);
  out.declare("strata_supervisor_children", "gauge", "A supervisor's children by state.");
  for (const auto& s : tree.supervisors) {
    if (!s.answered)
      continue;
    for (auto st : all_statuses)
      out.add({{"supervisor", s.report.path}, {"state", to_string(st)}}, 0);
    for (const auto& c : s.report.children)
      out.add({{"supervisor", s.report.path}, {"state", to_string(c.status)}}, 1);
  }
  out.declare("strata_supervisor_child_restarts", "gauge",
              "Restarts of a supervisor's current children, summed; a removed child's "
              "restarts leave with it (strata_restarts_total keeps them).");
  for (const auto& s : tree.supervisors) {
    if (!s.answered)
      continue;
    uint64_t sum = 0;
    for (const auto& c : s.report.children)
      sum += c.restarts;
    out.add({{"supervisor", s.report.path}}, sum);
  }
  out.declare("strata_supervisor_mailbox_messages", "gauge",
              "Messages waiting in a supervisor's mailbox, as it read it when asked.");
  for (const auto& s : tree.supervisors)
    if (s.answered)
      out.add({{"supervisor", s.report.path}}, s.report.mailbox);
  out.declare("strata_supervisor_worker_mailbox_messages", "gauge",
              "Messages waiting in the mailboxes of a supervisor's running workers, summed "
              "(workers in this process that started while the observer ran).");
  for (const auto& s : tree.supervisors) {
    if (!s.answered)
      continue;
    uint64_t sum = 0;
    bool counted = false;
    for (const auto& c : s.report.children)
      if (c.mailbox >= 0) {
        sum += static_cast<uint64_t>(c.mailbox);
        counted = true;
      }
    if (counted)
      out.add({{"supervisor", s.report.path}}, sum);
  }
  out.declare("strata_restarts_total", "counter",
              "Child restarts by supervisor, from the events seen since the observer started.");
  for (const auto& [sup, n] : counters.restarts)
    out.add({{"supervisor", sup}}, n);
  out.declare("strata_exits_total", "counter",
              "Child exits by supervisor and kind of reason, from the events seen since the "
              "observer started.");
  for (const auto& [key, n] : counters.exits)
    out.add({{"supervisor", key.first}, {"reason", key.second}}, n);
  out.declare("strata_start_failures_total", "counter", "Failed child starts by supervisor.");
  for (const auto& [sup, n] : counters.start_failures)
    out.add({{"supervisor", sup}}, n);
  out.declare("strata_intensity_reached_total", "counter",
              "Times a supervisor gave up: more restarts than its intensity within its period.");
  for (const auto& [sup, n] : counters.intensity_reached)
    out.add({{"supervisor", sup}}, n);
  out.declare("strata_node_messages_total", "counter",
              "Messages this process sent to and received from each live node (a `process` "
              "child's), counted by the shared-memory transport since the node connected.");
  for (const auto& node : nodes) {
    auto index = std::to_string(node.node);
    auto pid = std::to_string(node.pid);
    out.add({{"node", index}, {"pid", pid}, {"direction", "sent"}}, node.sent);
    out.add({{"node", index}, {"pid", pid}, {"direction", "received"}}, node.received);
  }
  return out.str();
}

} // namespace strata::internal
