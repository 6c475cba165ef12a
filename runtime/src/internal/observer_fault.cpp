#include "internal/observer_fault.hpp"

#include <chrono>
#include <optional>
#include <string>

#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "strata/error.hpp"
#include "strata/fault.hpp"
#include "strata/observe.hpp"

namespace strata::internal {

namespace {

using json = nlohmann::ordered_json;

// How long one supervisor may take to answer (as the tree walk's).
constexpr auto supervisor_timeout = std::chrono::seconds(2);

// A tag is written into events and logs: bounded, so a client cannot bloat them.
constexpr size_t max_tag = 256;

http_response answer(http::status status, json body) {
  http_response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return res;
}

http_response fail(http::status status, const std::string& why) {
  return answer(status, json{{"ok", false}, {"error", why}});
}

struct fault_target {
  std::string supervisor;
  fault_request req;
};

// Reads the body: `{"path": "SUP/CHILD"}` or `{"supervisor": .., "child": ..}`, `"kind"`,
// and optionally `"hang_ms"`, `"tag"`, `"allow_process_exit"`. nullopt (and `why`) for
// anything else: an unknown field is an error, not ignored, so a typo does not pass unseen.
std::optional<fault_target> parse_fault(const std::string& body, std::string& why) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    why = "the body is not a JSON object";
    return std::nullopt;
  }
  fault_target result;
  std::string path;
  std::string kind;
  for (const auto& [key, value] : doc.items()) {
    auto string_field = [&, &value = value](std::string& out) {
      if (!value.is_string()) {
        why = "'" + key + "' must be a string";
        return false;
      }
      out = value.get<std::string>();
      return true;
    };
    if (key == "path" || key == "supervisor" || key == "child" || key == "kind" || key == "tag") {
      auto& out = key == "path"         ? path
                  : key == "supervisor" ? result.supervisor
                  : key == "child"      ? result.req.child
                  : key == "kind"       ? kind
                                        : result.req.tag;
      if (!string_field(out))
        return std::nullopt;
    } else if (key == "hang_ms") {
      if (!value.is_number_integer()) {
        why = "'hang_ms' must be a whole number";
        return std::nullopt;
      }
      result.req.hang_ms = value.get<int64_t>();
    } else if (key == "allow_process_exit") {
      if (!value.is_boolean()) {
        why = "'allow_process_exit' must be true or false";
        return std::nullopt;
      }
      result.req.allow_process_exit = value.get<bool>();
    } else {
      why = "unknown field '" + key
            + "' (path or supervisor and child, kind, hang_ms, tag, allow_process_exit)";
      return std::nullopt;
    }
  }
  if (!path.empty()) {
    if (!result.supervisor.empty() || !result.req.child.empty()) {
      why = "give either 'path' or 'supervisor' and 'child'";
      return std::nullopt;
    }
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == path.size()) {
      why = "'path' must be a child's path, SUPERVISOR/CHILD";
      return std::nullopt;
    }
    result.supervisor = path.substr(0, slash);
    result.req.child = path.substr(slash + 1);
  }
  if (result.supervisor.empty() || result.req.child.empty()) {
    why = "no target: give 'path' (SUPERVISOR/CHILD) or 'supervisor' and 'child'";
    return std::nullopt;
  }
  auto parsed = parse_fault_kind(kind);
  if (!parsed) {
    why = "'kind' must be exception, kill, segv, abort or hang";
    return std::nullopt;
  }
  result.req.kind = *parsed;
  if (result.req.tag.size() > max_tag) {
    why = "'tag' is longer than " + std::to_string(max_tag) + " bytes";
    return std::nullopt;
  }
  return result;
}

// Finds the supervisor at `path` by walking down from the roots, asking only those on the
// way (one request per level).
caf::actor find_supervisor(caf::scoped_actor& self, const std::vector<caf::actor>& roots,
                           const std::string& path) {
  auto leads_to = [&](const std::string& prefix) {
    return path == prefix
           || (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0
               && path[prefix.size()] == '/');
  };
  std::vector<caf::actor> level = roots;
  while (!level.empty()) {
    std::vector<caf::actor> next;
    for (const auto& hdl : level) {
      std::optional<supervisor_report> rep;
      self->request(hdl, supervisor_timeout, observe_atom::value)
        .receive([&](supervisor_report& x) { rep = std::move(x); }, [](caf::error&) {});
      if (!rep || !leads_to(rep->path))
        continue;
      if (rep->path == path)
        return hdl;
      for (const auto& c : rep->children)
        if (c.type == child_type::supervisor && c.handle && leads_to(rep->path + "/" + c.id))
          next.push_back(c.handle);
    }
    level = std::move(next);
  }
  return nullptr;
}

} // namespace

bool is_fault_route(caf::string_view path) {
  return path == "/fault";
}

http_response handle_fault(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                           bool enabled, const http_request& req) {
  if (req.method() != http::verb::post) {
    auto res = fail(http::status::method_not_allowed, "/fault takes POST");
    res.set(http::field::allow, "POST");
    return res;
  }
  if (!enabled)
    return fail(http::status::forbidden,
                "fault injection is off: start the system with --strata.observer.faults "
                "(or config::set_observer_faults) to allow it");
  std::string why;
  auto target = parse_fault(req.body(), why);
  if (!target)
    return fail(http::status::bad_request, why);
  caf::scoped_actor self{sys};
  auto sup = find_supervisor(self, roots, target->supervisor);
  if (!sup)
    return fail(http::status::not_found, "no supervisor at '" + target->supervisor + "'");
  auto path = target->supervisor + "/" + target->req.child;
  std::optional<std::string> done;
  caf::error err;
  self->request(sup, supervisor_timeout, inject_fault_atom::value, target->req)
    .receive([&](std::string& x) { done = std::move(x); }, [&](caf::error& x) { err = x; });
  if (!done) {
    auto status = is(err, error::not_found)       ? http::status::not_found
                  : is(err, error::fault_refused) ? http::status::conflict
                                                  : http::status::gateway_timeout;
    auto text = is(err, error::not_found)
                  ? "no child '" + target->req.child + "' under '" + target->supervisor + "'"
                  : to_text(err);
    return fail(status, text);
  }
  return answer(http::status::ok, json{{"ok", true},
                                       {"path", path},
                                       {"kind", to_string(target->req.kind)},
                                       {"tag", target->req.tag},
                                       {"done", *done}});
}

} // namespace strata::internal
