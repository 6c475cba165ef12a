#include "internal/observer.hpp"

#include <chrono>
#include <map>
#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "strata/atoms.hpp"
#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/events.hpp"

#include "internal/observer_fault.hpp"
#include "internal/observer_page.hpp"

namespace strata::internal {

namespace {

// How long the walk waits for one supervisor; one that does not answer in time is shown as
// `undefined` with the reason, and the rest of the tree is still served.
constexpr auto supervisor_timeout = std::chrono::seconds(2);

// The most children of one supervisor a `/tree` lists at once (`limit`).
constexpr uint64_t max_limit = 100000;

// The most children of one supervisor a live page's snapshot lists (`/live?limit=`), and
// how many by default: the page shows the others a page at a time, through `/tree`.
constexpr uint64_t max_live_limit = 1000;
constexpr uint64_t default_live_limit = 100;

http_response text(http::status status, std::string body) {
  http_response res{status, 11};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

int hex_value(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

// Decodes a query string's component (%XX and '+'); nullopt for a malformed escape.
// Beast parses HTTP but not URLs (Boost.URL comes after Boost 1.74).
std::optional<std::string> decode(caf::string_view x) {
  std::string result;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == '+') {
      result += ' ';
    } else if (x[i] == '%') {
      if (i + 2 >= x.size())
        return std::nullopt;
      auto hi = hex_value(x[i + 1]);
      auto lo = hex_value(x[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      result += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      result += x[i];
    }
  }
  return result;
}

// The query's parameters; nullopt (and `why`) for a malformed or repeated one.
std::optional<std::map<std::string, std::string>> parse_query(caf::string_view query,
                                                              std::string& why) {
  std::map<std::string, std::string> result;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    query = amp == caf::string_view::npos ? caf::string_view{} : query.substr(amp + 1);
    if (part.empty())
      continue;
    auto eq = part.find('=');
    auto key = decode(part.substr(0, eq));
    auto value = decode(eq == caf::string_view::npos ? caf::string_view{} : part.substr(eq + 1));
    if (!key || !value) {
      why = "malformed %-escape in the query";
      return std::nullopt;
    }
    if (!result.emplace(std::move(*key), std::move(*value)).second) {
      why = "parameter given twice";
      return std::nullopt;
    }
  }
  return result;
}

// A count for `offset` / `limit`: decimal digits, at most `max`.
std::optional<uint64_t> parse_count(const std::string& x, uint64_t max) {
  if (x.empty() || x.size() > 12 || x.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto n = std::stoull(x);
  if (n > max)
    return std::nullopt;
  return n;
}

// Reads `path`, `offset` and `limit` into `query`; returns why not (empty when it could).
std::string parse_tree_query(const std::map<std::string, std::string>& params, uint64_t limit_max,
                             tree_query& query) {
  for (const auto& [key, value] : params) {
    if (key == "path") {
      query.path = value;
    } else if (key == "offset" || key == "limit") {
      auto n = parse_count(value, key == "limit" ? limit_max : max_limit * 1000);
      if (!n)
        return key + " must be a whole number from 0 to "
               + std::to_string(key == "limit" ? limit_max : max_limit * 1000);
      (key == "limit" ? query.limit : query.offset) = *n;
    } else {
      return "unknown parameter '" + key + "' (path, offset, limit)";
    }
  }
  return {};
}

// Splits a target into its path and parameters; nullopt (and `why`) for a bad query.
std::optional<std::map<std::string, std::string>>
parse_target(const http_request& req, caf::string_view& path, std::string& why) {
  auto target = caf::string_view{req.target().data(), req.target().size()};
  auto qmark = target.find('?');
  path = target.substr(0, qmark);
  return parse_query(
    qmark == caf::string_view::npos ? caf::string_view{} : target.substr(qmark + 1), why);
}

// A WebSocket from a page of another site would let that site read the tree: a browser
// names the page's origin, which must be this server (as the page at `/` is).
bool same_origin(const http_request& req) {
  auto origin = req[http::field::origin];
  if (origin.empty())
    return true; // not a browser: no page to protect from
  auto host = req[http::field::host];
  return !host.empty()
         && (origin == "http://" + std::string{host} || origin == "https://" + std::string{host});
}

} // namespace

observer::observer(caf::actor_system& sys, roots_fn roots, bool faults)
  : sys_(sys),
    roots_(std::move(roots)),
    faults_(faults),
    counters_(std::make_shared<counters_box>()),
    feed_(std::make_shared<live_feed>()),
    server_([this](const http_request& req) { return handle(req); }),
    live_(server_.context(), feed_, [this](const tree_query& query) { return tree(query, -1); }) {
  server_.set_upgrader(
    [this](http_request& req, boost::asio::ip::tcp::socket& socket) {
      return upgrade(req, socket);
    },
    [this](std::function<void()> done) { live_.close_all(std::move(done)); });
}

observer::~observer() {
  stop();
}

caf::expected<uint16_t> observer::start(const std::string& listen) {
  auto where = parse_listen(listen);
  if (!where)
    return std::move(where.error());
  auto count = [](caf::event_based_actor* self, std::shared_ptr<counters_box> box,
                  std::shared_ptr<live_feed> feed) -> caf::behavior {
    subscribe(self);
    return {
      [box, feed](const supervision_event& ev) {
        {
          std::lock_guard<std::mutex> guard{box->mtx};
          box->counters.add(ev);
        }
        if (feed->watched())
          feed->push(ev);
      },
      [](ok_atom) { return ok_atom::value; },
    };
  };
  // Hidden, as the event log: infrastructure, not one of the user's actors. The round trip
  // makes sure it has joined the events before the first page is served.
  subscriber_ = sys_.spawn<caf::hidden>(count, counters_, feed_);
  caf::scoped_actor self{sys_};
  self->request(subscriber_, caf::infinite, ok_atom::value)
    .receive([](ok_atom) {}, [](caf::error&) {});
  auto bound = server_.start(*where);
  if (!bound) {
    stop();
    return std::move(bound.error());
  }
  return bound->port();
}

void observer::stop() {
  std::lock_guard<std::mutex> guard{stop_mtx_};
  server_.stop();
  if (subscriber_) {
    caf::anon_send_exit(subscriber_, caf::exit_reason::user_shutdown);
    subscriber_ = nullptr;
  }
}

http_response observer::handle(const http_request& req) {
  if (auto target = caf::string_view{req.target().data(), req.target().size()};
      is_fault_route(target.substr(0, target.find('?'))))
    return handle_fault(sys_, roots_(), faults_, req);
  if (req.method() != http::verb::get) {
    auto res = text(http::status::method_not_allowed,
                    "method not allowed: only GET is served here\n");
    res.set(http::field::allow, "GET");
    return res;
  }
  caf::string_view path;
  std::string why;
  auto params = parse_target(req, path, why);
  if (!params)
    return text(http::status::bad_request, "bad query: " + why + "\n");
  if (path == "/") {
    if (!params->empty())
      return text(http::status::bad_request, "bad query: / takes no parameters\n");
    auto res = text(http::status::ok, live_page());
    res.set(http::field::content_type, "text/html; charset=utf-8");
    return res;
  }
  if (path == "/live")
    return text(http::status::upgrade_required,
                "upgrade required: /live is a WebSocket (open / in a browser)\n");
  if (path == "/tree") {
    tree_query query;
    if (auto bad = parse_tree_query(*params, max_limit, query); !bad.empty())
      return text(http::status::bad_request, "bad query: " + bad + "\n");
    auto doc = tree(query, 1);
    if (!doc)
      return text(http::status::not_found, "no supervisor at path '" + query.path + "'\n");
    auto res = text(http::status::ok, std::move(*doc));
    res.set(http::field::content_type, "application/json");
    return res;
  }
  if (path == "/metrics") {
    if (!params->empty())
      return text(http::status::bad_request, "bad query: /metrics takes no parameters\n");
    auto tree = take_snapshot(sys_, roots_(), supervisor_timeout);
    event_counters counters;
    {
      std::lock_guard<std::mutex> guard{counters_->mtx};
      counters = counters_->counters;
    }
    std::vector<placement_provider::node_traffic> nodes;
    if (auto cfg = strata_config(sys_); cfg && (*cfg)->provider() != nullptr)
      nodes = (*cfg)->provider()->traffic();
    auto res = text(http::status::ok, render_metrics(tree, counters, nodes));
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    return res;
  }
  return text(http::status::not_found, "not found: " + std::string{path.data(), path.size()}
                                         + " (try /, /tree or /metrics)\n");
}

std::optional<http_response> observer::upgrade(http_request& req,
                                               boost::asio::ip::tcp::socket& socket) {
  caf::string_view path;
  std::string why;
  auto params = parse_target(req, path, why);
  if (path != "/live")
    return text(http::status::not_found, "not found: no WebSocket here (try /live)\n");
  if (!params)
    return text(http::status::bad_request, "bad query: " + why + "\n");
  tree_query query;
  query.limit = default_live_limit;
  if (auto bad = parse_tree_query(*params, max_live_limit, query); !bad.empty())
    return text(http::status::bad_request, "bad query: " + bad + "\n");
  if (!same_origin(req))
    return text(http::status::forbidden,
                "forbidden: a page of another origin may not watch this tree\n");
  live_.accept(std::move(socket), std::move(req), std::move(query));
  return std::nullopt;
}

std::optional<std::string> observer::tree(const tree_query& query, int indent) {
  return render_tree(take_snapshot(sys_, roots_(), supervisor_timeout), query, indent);
}

} // namespace strata::internal
