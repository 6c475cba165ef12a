// strata-chaos: injects faults into a running strata system by rule, through its observer's
// POST /fault (docs/design/chaos.md). The system must run with --strata.observer.listen and
// --strata.observer.faults.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* usage
  = "usage: strata-chaos --connect=HOST:PORT --target=TARGET [--kind=KIND] [--every=DURATION]\n"
    "                    (--count=N | --for=DURATION) [--seed=N] [--hang=DURATION]\n"
    "                    [--tag=PREFIX] [--allow-process-exit] [--dry-run]\n"
    "  TARGET   random:SUPERVISOR  a random child of the subtree at SUPERVISOR per fault\n"
    "           child:PATH         the child at PATH, e.g. root/rooms/lobby\n"
    "           node:PID|PATH      the node (OS process) of a process child\n"
    "  KIND     exception | kill | segv | abort | hang[:MS] | mix (default exception;\n"
    "           a node: kill); mix draws one per fault: exception, kill, hang, and for a\n"
    "           process child (or with --allow-process-exit) segv and abort too\n"
    "  DURATION 250ms, 2s, 1m (default --every=1s, --hang=1s)\n"
    "  --allow-process-exit  lets segv and abort hit task and thread children: that takes\n"
    "           down the OS process hosting them, the observer included\n"
    "  --dry-run  prints the faults it would inject, without injecting them\n"
    "The system must run with --strata.observer.listen and --strata.observer.faults.\n";

// -- command line ---------------------------------------------------------------------------

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string target_kind; // random, child, node
  std::string target;
  std::string kind = "exception";
  bool kind_given = false;
  milliseconds every{1000};
  milliseconds hang{1000};
  std::optional<uint64_t> count;
  std::optional<milliseconds> duration;
  uint64_t seed = 0;
  bool seed_given = false;
  std::string tag;
  bool allow_process_exit = false;
  bool dry_run = false;
};

std::optional<uint64_t> parse_number(const std::string& x) {
  if (x.empty() || x.size() > 18 || x.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(x);
}

std::optional<milliseconds> parse_duration(const std::string& x) {
  auto digits = x.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string::npos)
    return std::nullopt;
  auto n = parse_number(x.substr(0, digits));
  auto unit = x.substr(digits);
  if (!n)
    return std::nullopt;
  if (unit == "ms")
    return milliseconds(*n);
  if (unit == "s")
    return milliseconds(*n * 1000);
  if (unit == "m")
    return milliseconds(*n * 60000);
  return std::nullopt;
}

// Parses the command line; nullopt (and `why`) on a wrong flag.
std::optional<options> parse_args(int argc, char** argv, std::string& why) {
  options opts;
  bool connect_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    auto key = arg.substr(0, eq);
    auto value = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    auto bad = [&](const std::string& what) {
      why = "bad " + key + " '" + value + "': " + what;
      return std::nullopt;
    };
    if (key == "--connect") {
      auto colon = value.rfind(':');
      if (colon == std::string::npos || !parse_number(value.substr(colon + 1))
          || std::stoull(value.substr(colon + 1)) > 65535)
        return bad("expected HOST:PORT");
      if (colon > 0)
        opts.host = value.substr(0, colon);
      opts.port = value.substr(colon + 1);
      connect_given = true;
    } else if (key == "--target") {
      auto colon = value.find(':');
      auto kind = value.substr(0, colon);
      if (colon == std::string::npos || colon + 1 == value.size()
          || (kind != "random" && kind != "child" && kind != "node"))
        return bad("expected random:SUPERVISOR, child:PATH or node:PID|PATH");
      opts.target_kind = kind;
      opts.target = value.substr(colon + 1);
    } else if (key == "--kind") {
      auto colon = value.find(':');
      auto name = value.substr(0, colon);
      if (name != "exception" && name != "kill" && name != "segv" && name != "abort"
          && name != "hang" && name != "mix")
        return bad("expected exception, kill, segv, abort, hang[:MS] or mix");
      if (colon != std::string::npos) {
        auto ms = parse_number(value.substr(colon + 1));
        if (name != "hang" || !ms || *ms == 0)
          return bad("only hang takes a duration: hang:MS");
        opts.hang = milliseconds(*ms);
      }
      opts.kind = name;
      opts.kind_given = true;
    } else if (key == "--every" || key == "--for" || key == "--hang") {
      auto d = parse_duration(value);
      if (!d)
        return bad("expected a duration such as 250ms, 2s or 1m");
      (key == "--every" ? opts.every : key == "--hang" ? opts.hang : opts.duration.emplace()) = *d;
    } else if (key == "--count") {
      auto n = parse_number(value);
      if (!n || *n == 0)
        return bad("expected a whole number above 0");
      opts.count = *n;
    } else if (key == "--seed") {
      auto n = parse_number(value);
      if (!n)
        return bad("expected a whole number");
      opts.seed = *n;
      opts.seed_given = true;
    } else if (key == "--tag") {
      opts.tag = value;
    } else if (key == "--allow-process-exit" && eq == std::string::npos) {
      opts.allow_process_exit = true;
    } else if (key == "--dry-run" && eq == std::string::npos) {
      opts.dry_run = true;
    } else {
      why = "unknown argument '" + arg + "'";
      return std::nullopt;
    }
  }
  if (!connect_given)
    why = "--connect=HOST:PORT is required";
  else if (opts.target_kind.empty())
    why = "--target is required";
  else if (opts.count.has_value() == opts.duration.has_value())
    why = "give one of --count=N and --for=DURATION";
  else if (opts.duration && opts.every.count() == 0)
    why = "--for needs --every above 0 ms (else it is a count without end)";
  if (!why.empty())
    return std::nullopt;
  if (opts.target_kind == "node" && !opts.kind_given)
    opts.kind = "kill";
  if (opts.target_kind == "node" && opts.kind == "exception")
    why = "a node takes kill, segv, abort, hang or mix, not exception";
  if (!why.empty())
    return std::nullopt;
  if (!opts.seed_given)
    opts.seed = std::random_device{}(); // printed, so that the run can be repeated
  if (opts.tag.empty())
    opts.tag = "chaos-" + std::to_string(opts.seed);
  return opts;
}

// -- HTTP -----------------------------------------------------------------------------------

struct reply {
  unsigned status = 0;
  std::string body;
};

// One request on its own connection; nullopt (and `why`) when the observer cannot be reached.
std::optional<reply> exchange(const options& opts, http::verb method, const std::string& target,
                              const std::string& body, std::string& why) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(opts.host, opts.port));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, opts.host);
    req.keep_alive(false);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return reply{res.result_int(), res.body()};
  } catch (const std::exception& e) {
    why = "cannot reach the observer at " + opts.host + ":" + opts.port + ": " + e.what();
    return std::nullopt;
  }
}

// The `error` of a JSON error answer, else the body itself.
std::string error_text(const std::string& body) {
  auto doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_string())
    return doc["error"].get<std::string>();
  auto text = body;
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text;
}

// -- targets --------------------------------------------------------------------------------

struct candidate {
  std::string path;
  std::string placement;
  int64_t pid = 0; // of its node, for a process child
};

void collect(const json& sup, std::vector<candidate>& out) {
  if (!sup.is_object() || !sup.contains("children") || !sup["children"].is_array())
    return;
  for (const auto& c : sup["children"]) {
    if (!c.is_object() || !c.contains("path") || !c["path"].is_string())
      continue;
    candidate x;
    x.path = c["path"].get<std::string>();
    if (c.contains("placement") && c["placement"].is_string())
      x.placement = c["placement"].get<std::string>();
    if (c.contains("pid") && c["pid"].is_number_integer())
      x.pid = c["pid"].get<int64_t>();
    out.push_back(std::move(x));
    if (c.contains("supervisor"))
      collect(c["supervisor"], out);
  }
}

// The children the faults are drawn from, sorted by path: with the seed, all that decides
// the sequence. nullopt (and `why`) when the target names nothing.
std::optional<std::vector<candidate>> read_candidates(const options& opts, std::string& why) {
  auto res = exchange(opts, http::verb::get, "/tree?limit=100000", {}, why);
  if (!res)
    return std::nullopt;
  if (res->status != 200) {
    why = "GET /tree answered " + std::to_string(res->status) + ": " + error_text(res->body);
    return std::nullopt;
  }
  auto doc = json::parse(res->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("roots") || !doc["roots"].is_array()) {
    why = "GET /tree did not answer a tree";
    return std::nullopt;
  }
  std::vector<candidate> all;
  std::vector<std::string> supervisors;
  std::function<void(const json&)> walk = [&](const json& sup) {
    if (sup.contains("path") && sup["path"].is_string())
      supervisors.push_back(sup["path"].get<std::string>());
    if (sup.contains("children") && sup["children"].is_array())
      for (const auto& c : sup["children"])
        if (c.is_object() && c.contains("supervisor"))
          walk(c["supervisor"]);
  };
  for (const auto& root : doc["roots"]) {
    collect(root, all);
    walk(root);
  }
  std::vector<candidate> result;
  if (opts.target_kind == "random") {
    if (std::find(supervisors.begin(), supervisors.end(), opts.target) == supervisors.end()) {
      why = "no supervisor at '" + opts.target + "'";
      return std::nullopt;
    }
    auto prefix = opts.target + "/";
    for (auto& c : all)
      if (c.path.compare(0, prefix.size(), prefix) == 0)
        result.push_back(c);
    if (result.empty()) {
      why = "the supervisor at '" + opts.target + "' has no children";
      return std::nullopt;
    }
  } else {
    auto pid = opts.target_kind == "node" ? parse_number(opts.target) : std::nullopt;
    // A node's pid is shown on every child inside it too; the node is its process child.
    for (auto& c : all)
      if (pid ? c.pid == static_cast<int64_t>(*pid) && c.placement == "process"
              : c.path == opts.target)
        result.push_back(c);
    if (result.empty()) {
      why = pid ? "no child runs in a node with pid " + opts.target
                : "no child at '" + opts.target + "'";
      return std::nullopt;
    }
    result.resize(1);
    if (opts.target_kind == "node" && result[0].placement != "process") {
      why = "'" + result[0].path + "' is placed " + result[0].placement
            + ", not in a node of its own (process placement)";
      return std::nullopt;
    }
  }
  std::sort(result.begin(), result.end(),
            [](const candidate& x, const candidate& y) { return x.path < y.path; });
  return result;
}

// The kinds a fault on `c` is drawn from.
std::vector<std::string> kinds_for(const options& opts, const candidate& c) {
  if (opts.kind != "mix")
    return {opts.kind};
  if (c.placement == "process" || opts.allow_process_exit)
    return {"exception", "kill", "hang", "segv", "abort"};
  return {"exception", "kill", "hang"};
}

std::string format_offset(clock_type::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "+%.3fs",
                std::chrono::duration_cast<std::chrono::duration<double>>(d).count());
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string{argv[1]} == "--help" || std::string{argv[1]} == "-h")) {
    std::cout << usage;
    return 0;
  }
  std::string why;
  auto opts = parse_args(argc, argv, why);
  if (!opts) {
    std::cerr << "strata-chaos: " << why << "\n" << usage;
    return 64; // EX_USAGE
  }
  auto targets = read_candidates(*opts, why);
  if (!targets) {
    std::cerr << "strata-chaos: " << why << "\n";
    return 69; // EX_UNAVAILABLE
  }
  std::cout << "strata-chaos: seed " << opts->seed << ", " << targets->size()
            << (targets->size() == 1 ? " target" : " targets") << ", kind " << opts->kind
            << ", every " << opts->every.count() << " ms, "
            << (opts->count ? std::to_string(*opts->count) + " faults"
                            : "for " + std::to_string(opts->duration->count()) + " ms")
            << (opts->dry_run ? " (dry run)" : "") << std::endl;
  if (opts->allow_process_exit)
    std::cout << "strata-chaos: --allow-process-exit: a segv or abort of a task or thread child "
                 "takes down the whole OS process that hosts it, the observer included"
              << std::endl;
  // Every draw comes from this generator, in a fixed order (target, then kind), and `% n`
  // rather than a distribution, whose algorithm the standard leaves to the library: the
  // seed and the sorted targets decide the whole sequence.
  std::mt19937_64 rng{opts->seed};
  auto start = clock_type::now();
  uint64_t sent = 0;
  uint64_t done = 0;
  uint64_t refused = 0;
  for (uint64_t seq = 1;; ++seq) {
    auto due = start + opts->every * (seq - 1);
    if (opts->count ? seq > *opts->count : due - start > *opts->duration)
      break;
    const auto& target = (*targets)[rng() % targets->size()];
    auto kinds = kinds_for(*opts, target);
    auto kind = kinds[rng() % kinds.size()];
    if (!opts->dry_run)
      std::this_thread::sleep_until(due); // pacing the faults, as asked
    auto tag = opts->tag + "#" + std::to_string(seq) + " " + kind;
    std::string result;
    if (opts->dry_run) {
      result = "not sent (dry run)";
    } else {
      json body{{"path", target.path}, {"kind", kind}, {"tag", tag}};
      if (kind == "hang")
        body["hang_ms"] = opts->hang.count();
      if (opts->allow_process_exit)
        body["allow_process_exit"] = true;
      auto res = exchange(*opts, http::verb::post, "/fault", body.dump(), why);
      ++sent;
      if (!res) {
        // The observer is gone: expected after a fault that took its process down.
        std::cout << format_offset(clock_type::now() - start) << "  #" << seq << "  " << target.path
                  << "  " << kind << "  -> " << why << std::endl;
        ++refused;
        break;
      }
      if (res->status == 403) {
        std::cerr << "strata-chaos: faults are not enabled: " << error_text(res->body) << "\n";
        return 77; // EX_NOPERM
      }
      if (res->status == 200) {
        ++done;
        auto doc = json::parse(res->body, nullptr, false);
        result = "ok: "
                 + (doc.is_object() && doc.contains("done") && doc["done"].is_string()
                      ? doc["done"].get<std::string>()
                      : std::string{"done"});
      } else {
        ++refused;
        result = std::to_string(res->status) + ": " + error_text(res->body);
      }
    }
    std::cout << format_offset(clock_type::now() - start) << "  #" << seq << "  " << target.path
              << "  " << kind << "  -> " << result << std::endl;
  }
  if (!opts->dry_run)
    std::cout << "strata-chaos: " << sent << " faults sent, " << done << " injected, " << refused
              << " refused or failed; repeat with --seed=" << opts->seed << std::endl;
  return 0;
}
