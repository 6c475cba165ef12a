// strata-timeline: turns a JSON-lines supervision event log (strata.event-log) into a PNG or
// SVG timeline drawn by gnuplot, one lane per child, and prints a summary per placement
// (docs/design/chaos.md).

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

const char* usage
  = "usage: strata-timeline EVENTS.jsonl [-o OUT.png|OUT.svg] [--summary] [--gnuplot=PATH]\n"
    "  -o FILE     draws the timeline with gnuplot: one lane per child, crashes, restarts,\n"
    "              injected faults, give-ups and the intensity window before each give-up\n"
    "  --summary   prints per placement: crashes, restarts, mean and p99 time to recover\n"
    "              (a crash's exited to the same child's next restarted), give-ups\n"
    "  Without -o, --summary is implied. Malformed lines are counted and skipped.\n";

struct event {
  int64_t mono_ns = 0;
  std::string supervisor;
  std::string child;
  std::string placement;
  std::string kind;
  std::string reason;
  std::string fault;
  size_t line = 0;
};

// Reads one event; nullopt (and `why`) for a line that is not one.
std::optional<event> parse_line(const std::string& text, std::string& why) {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  event ev;
  auto str = [&](const char* key, std::string& out, bool required) {
    auto i = doc.find(key);
    if (i == doc.end() || !i->is_string()) {
      if (required)
        why = std::string{"no string '"} + key + "'";
      return !required;
    }
    out = i->get<std::string>();
    return true;
  };
  auto t = doc.find("mono_ns");
  if (t == doc.end() || !t->is_number_integer()) {
    why = "no whole number 'mono_ns'";
    return std::nullopt;
  }
  ev.mono_ns = t->get<int64_t>();
  if (!str("supervisor", ev.supervisor, true) || !str("child", ev.child, true)
      || !str("placement", ev.placement, true) || !str("event", ev.kind, true)
      || !str("reason", ev.reason, false) || !str("fault", ev.fault, false))
    return std::nullopt;
  return ev;
}

// A crash is an exit the supervisor did not ask for: OTP's reasons `normal` and `shutdown`
// (also `shutdown: term`) are not.
bool is_crash(const event& ev) {
  return ev.kind == "exited" && ev.reason != "normal" && ev.reason.rfind("shutdown", 0) != 0;
}

std::string lane_of(const event& ev) {
  return ev.child.empty() ? ev.supervisor : ev.supervisor + "/" + ev.child;
}

// The period of a give-up, from its reason "more than N restarts within P ms"; 0 if absent.
double period_seconds(const std::string& reason) {
  auto at = reason.find("within ");
  if (at == std::string::npos)
    return 0;
  return std::strtod(reason.c_str() + at + 7, nullptr) / 1000.0;
}

struct placement_summary {
  uint64_t crashes = 0;
  uint64_t faults = 0;
  uint64_t restarts = 0;
  uint64_t give_ups = 0;
  std::vector<double> recover_ms;
};

std::map<std::string, placement_summary> summarise(const std::vector<event>& events) {
  std::map<std::string, placement_summary> result;
  for (auto p : {"task", "thread", "process"})
    result[p];
  std::map<std::string, int64_t> crashed_at; // lane -> mono_ns of its unrecovered crash
  for (const auto& ev : events) {
    auto& s = result[ev.placement];
    auto lane = lane_of(ev);
    if (is_crash(ev)) {
      ++s.crashes;
      if (!ev.fault.empty())
        ++s.faults;
      crashed_at.emplace(lane, ev.mono_ns); // the first crash of a run of them counts
    } else if (ev.kind == "restarted") {
      ++s.restarts;
      if (auto i = crashed_at.find(lane); i != crashed_at.end()) {
        s.recover_ms.push_back(static_cast<double>(ev.mono_ns - i->second) / 1e6);
        crashed_at.erase(i);
      }
    } else if (ev.kind == "intensity_reached") {
      ++s.give_ups;
    }
  }
  return result;
}

void print_summary(const std::map<std::string, placement_summary>& sums, std::ostream& out) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%-9s %8s %8s %9s %9s %10s %10s %8s\n", "placement", "crashes",
                "faults", "restarts", "recovered", "mean_ms", "p99_ms", "give_ups");
  out << buf;
  for (const auto& [where, s] : sums) {
    auto xs = s.recover_ms;
    std::sort(xs.begin(), xs.end());
    std::string mean = "-";
    std::string p99 = "-";
    if (!xs.empty()) {
      double total = 0;
      for (auto x : xs)
        total += x;
      // Nearest rank: the smallest value with at least 99% of the values at or below it.
      auto rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(xs.size())));
      char m[32];
      std::snprintf(m, sizeof(m), "%.3f", total / static_cast<double>(xs.size()));
      mean = m;
      std::snprintf(m, sizeof(m), "%.3f", xs[std::max<size_t>(rank, 1) - 1]);
      p99 = m;
    }
    std::snprintf(buf, sizeof(buf), "%-9s %8llu %8llu %9llu %9zu %10s %10s %8llu\n", where.c_str(),
                  static_cast<unsigned long long>(s.crashes),
                  static_cast<unsigned long long>(s.faults),
                  static_cast<unsigned long long>(s.restarts), xs.size(), mean.c_str(), p99.c_str(),
                  static_cast<unsigned long long>(s.give_ups));
    out << buf;
  }
}

// A string as a gnuplot string literal.
std::string quoted(const std::string& x) {
  std::string result = "\"";
  for (char ch : x) {
    if (ch == '"' || ch == '\\')
      result += '\\';
    if (ch == '\n')
      continue;
    result += ch;
  }
  return result + "\"";
}

bool ends_with(const std::string& x, const std::string& suffix) {
  return x.size() >= suffix.size()
         && x.compare(x.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Path order with numbers compared as numbers: session#2 before session#10.
struct natural_less {
  bool operator()(const std::string& a, const std::string& b) const {
    size_t i = 0;
    size_t j = 0;
    while (i < a.size() && j < b.size()) {
      if (std::isdigit(static_cast<unsigned char>(a[i]))
          && std::isdigit(static_cast<unsigned char>(b[j]))) {
        auto i0 = i;
        auto j0 = j;
        while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i])))
          ++i;
        while (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j])))
          ++j;
        auto x = a.substr(i0, i - i0);
        auto y = b.substr(j0, j - j0);
        x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
        y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
        if (x.size() != y.size())
          return x.size() < y.size();
        if (x != y)
          return x < y;
        continue;
      }
      if (a[i] != b[j])
        return a[i] < b[j];
      ++i;
      ++j;
    }
    return a.size() - i < b.size() - j;
  }
};

// The gnuplot script that draws `events` to `out`.
std::string plot_script(const std::vector<event>& events, const std::string& out) {
  std::map<std::string, int, natural_less> lanes;
  for (const auto& ev : events)
    lanes.emplace(lane_of(ev), 0);
  // The first lane in path order on top.
  int next = static_cast<int>(lanes.size());
  for (auto& [name, y] : lanes)
    y = --next;
  auto t0 = events.front().mono_ns;
  auto t_end = events.back().mono_ns;
  for (const auto& ev : events) {
    t0 = std::min(t0, ev.mono_ns);
    t_end = std::max(t_end, ev.mono_ns);
  }
  auto secs = [&](int64_t ns) { return static_cast<double>(ns - t0) / 1e9; };
  std::ostringstream up, crash, stop, restart, failed, fault, giveup, windows;
  std::map<std::string, double> up_since;
  for (const auto& ev : events) {
    auto lane = lane_of(ev);
    auto y = lanes[lane];
    auto t = secs(ev.mono_ns);
    if (ev.kind == "started" || ev.kind == "restarted") {
      // A child whose supervisor died without reporting its exit (a killed supervisor takes
      // its linked children along) shows up running again: its earlier span ends here.
      if (auto i = up_since.find(lane); i != up_since.end())
        up << i->second << " " << y << " " << t - i->second << "\n";
      up_since[lane] = t;
      if (ev.kind == "restarted")
        restart << t << " " << y << "\n";
    } else if (ev.kind == "exited" || ev.kind == "shutdown") {
      if (auto i = up_since.find(lane); i != up_since.end()) {
        up << i->second << " " << y << " " << t - i->second << "\n";
        up_since.erase(i);
      }
      // A supervisor child that exited took its own children with it (linked, they report
      // nothing once it is gone): their spans end here too.
      if (ev.kind == "exited") {
        auto prefix = lane + "/";
        for (auto i = up_since.lower_bound(prefix);
             i != up_since.end() && i->first.compare(0, prefix.size(), prefix) == 0;) {
          up << i->second << " " << lanes[i->first] << " " << t - i->second << "\n";
          i = up_since.erase(i);
        }
      }
      (is_crash(ev) ? crash : stop) << t << " " << y << "\n";
      if (!ev.fault.empty())
        fault << t << " " << y << "\n";
    } else if (ev.kind == "start_failed") {
      failed << t << " " << y << "\n";
    } else if (ev.kind == "intensity_reached") {
      giveup << t << " " << y << "\n";
      // The window the supervisor counted restarts in, over its children's lanes.
      auto prefix = ev.supervisor + "/";
      int lo = y;
      int hi = y;
      for (const auto& [name, ly] : lanes)
        if (name == ev.supervisor || name.compare(0, prefix.size(), prefix) == 0) {
          lo = std::min(lo, ly);
          hi = std::max(hi, ly);
        }
      windows << "set object rect from " << std::max(0.0, t - period_seconds(ev.reason)) << ","
              << lo - 0.4 << " to " << t << "," << hi + 0.4
              << " fc rgb \"#f4c7c3\" fs solid 0.5 noborder behind\n";
    }
  }
  for (const auto& [lane, since] : up_since)
    up << since << " " << lanes[lane] << " " << secs(t_end) - since << "\n";
  std::ostringstream s;
  auto svg = ends_with(out, ".svg");
  auto height = 160 + 24 * static_cast<int>(lanes.size());
  s << "set terminal " << (svg ? "svg" : "pngcairo") << " size 1200," << height
    << " noenhanced font \"sans,10\"\n";
  s << "set output " << quoted(out) << "\n";
  s << "set title \"strata supervision timeline\"\n";
  s << "set xlabel \"seconds since the first event\"\n";
  s << "set yrange [-1:" << lanes.size()
    << "]\nset xrange [0:" << std::max(secs(t_end), 1e-3) * 1.02 << "]\n";
  s << "set ytics (";
  for (const auto& [name, y] : lanes)
    s << (name == lanes.begin()->first ? "" : ", ") << quoted(name) << " " << y;
  s << ")\nset grid xtics\nset key outside bottom center horizontal\n";
  s << windows.str();
  std::vector<std::string> terms;
  auto block = [&](const char* name, const std::ostringstream& data, const std::string& how) {
    if (data.str().empty())
      return;
    s << "$" << name << " << EOD\n" << data.str() << "EOD\n";
    terms.push_back("$" + std::string{name} + " " + how);
  };
  block("up", up, "using 1:2:3:(0) with vectors nohead lw 6 lc rgb \"#9ad29a\" title \"running\"");
  block("stop", stop, "using 1:2 with points pt 1 ps 1.2 lc rgb \"#808080\" title \"stopped\"");
  block("crash", crash, "using 1:2 with points pt 2 ps 1.5 lc rgb \"#d62728\" title \"crash\"");
  block("fault", fault,
        "using 1:2 with points pt 6 ps 2.2 lc rgb \"#9467bd\" title \"injected fault\"");
  block("restart", restart,
        "using 1:2 with points pt 9 ps 1.3 lc rgb \"#1f77b4\" title \"restart\"");
  block("failed", failed,
        "using 1:2 with points pt 8 ps 1.3 lc rgb \"#ff7f0e\" title \"start failed\"");
  block("giveup", giveup,
        "using 1:2 with points pt 13 ps 2.5 lc rgb \"black\" title \"give-up (intensity)\"");
  s << "plot ";
  for (size_t i = 0; i < terms.size(); ++i)
    s << (i == 0 ? "" : ", \\\n     ") << terms[i];
  s << "\n";
  return s.str();
}

} // namespace

int main(int argc, char** argv) {
  std::string input;
  std::string output;
  std::string gnuplot = "gnuplot";
  bool summary = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      return 0;
    }
    if (arg == "-o" && i + 1 < argc) {
      output = argv[++i];
    } else if (arg.rfind("-o", 0) == 0 && arg.size() > 2 && arg[2] != '-') {
      output = arg.substr(2);
    } else if (arg == "--summary") {
      summary = true;
    } else if (arg.rfind("--gnuplot=", 0) == 0) {
      gnuplot = arg.substr(10);
    } else if (!arg.empty() && arg[0] != '-' && input.empty()) {
      input = arg;
    } else {
      std::cerr << "strata-timeline: unknown argument '" << arg << "'\n" << usage;
      return 64;
    }
  }
  if (input.empty()) {
    std::cerr << "strata-timeline: no event log given\n" << usage;
    return 64;
  }
  if (!output.empty() && !ends_with(output, ".png") && !ends_with(output, ".svg")) {
    std::cerr << "strata-timeline: -o takes a .png or .svg file\n";
    return 64;
  }
  if (output.empty())
    summary = true;
  std::ifstream in{input};
  if (!in) {
    std::cerr << "strata-timeline: cannot read '" << input << "'\n";
    return 66; // EX_NOINPUT
  }
  std::vector<event> events;
  size_t malformed = 0;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string why;
    if (auto ev = parse_line(line, why)) {
      ev->line = n;
      events.push_back(std::move(*ev));
    } else if (++malformed <= 5) {
      std::cerr << "strata-timeline: " << input << ":" << n << ": skipped, " << why << "\n";
    }
  }
  // A log appended to by several processes (nodes) is in arrival order; steady_clock is the
  // same clock in every process of a host, so mono_ns orders them all.
  std::stable_sort(events.begin(), events.end(),
                   [](const event& x, const event& y) { return x.mono_ns < y.mono_ns; });
  std::cout << "strata-timeline: " << events.size() << " events, " << malformed
            << " malformed lines skipped\n";
  if (summary)
    print_summary(summarise(events), std::cout);
  if (output.empty())
    return 0;
  if (events.empty()) {
    std::cerr << "strata-timeline: no events to draw\n";
    return 65; // EX_DATAERR
  }
  // A gnuplot that is missing or dies early closes the pipe before the script is written:
  // a write error then, not a SIGPIPE that would kill this tool (exit 141) without a word.
  std::signal(SIGPIPE, SIG_IGN);
  auto pipe = ::popen((gnuplot + " 2>&1").c_str(), "w");
  if (pipe == nullptr) {
    std::cerr << "strata-timeline: cannot run " << gnuplot << "\n";
    return 69;
  }
  auto script = plot_script(events, output);
  std::fwrite(script.data(), 1, script.size(), pipe);
  auto status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "strata-timeline: " << gnuplot << " failed (status " << status
              << "; is gnuplot installed? Debian: gnuplot-nox)\n";
    return 69;
  }
  std::cout << "strata-timeline: wrote " << output << "\n";
  return 0;
}
