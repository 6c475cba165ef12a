// bench_report: turns the JSON lines of one bench run into bench/results/latest.json,
// latest.md (a table per suite, systems side by side, with each one's ratio to strata) and
// gnuplot scripts for the scaling suites in DIR/plots (plotted by scripts/bench.sh).
//
//   bench_report --out=DIR --machine=TEXT --commit=REV --date=TEXT [--notes=FILE]
//                [--keep=LATEST.json] RAW.jsonl...
//
// A raw line is one run's measurement (`value`, from bench/common/harness.hpp) or a summary
// of several (`median`, `min`, `max`, `runs`, from bench_nodes); runs of the same suite,
// system, metric and size are summarised together. Lines that do not start with `{"` (a
// program's own output) are ignored; a JSON object without the fields is an error.
//
// --keep: a previous latest.json whose suites this run did not measure stay in the new one,
// each row with the date and commit of the run that measured it (and latest.md says so under
// the suite's heading), so that `scripts/bench.sh gateway` updates one suite of the results.

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;

struct key {
  std::string suite;
  std::string metric;
  long long n = 0;
  std::string system;

  bool operator<(const key& other) const {
    return std::tie(suite, metric, n, system)
           < std::tie(other.suite, other.metric, other.n, other.system);
  }
};

struct series {
  std::string unit;
  bool lower_is_better = true;
  std::vector<double> values; // one per run
};

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto m = xs.size() / 2;
  return xs.size() % 2 == 1 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}

std::string number(double x) {
  char buf[64];
  if (x >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", x);
  else if (x >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", x);
  else
    std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

// "strata" itself if measured, else its first variant ("strata-task", ...).
const std::string* strata_of(const std::map<std::string, const series*>& row) {
  if (auto i = row.find("strata"); i != row.end())
    return &i->first;
  for (auto& [system, s] : row)
    if (system.rfind("strata", 0) == 0)
      return &system;
  return nullptr;
}

// Lower case, words joined by '-': a file name for a plot.
std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out;
}

// strata first, then its placements from the least isolated to the most (task, thread,
// process: the isolation table reads left to right), other variants, then the peers, each
// group by name.
int system_rank(const std::string& name) {
  if (name == "strata")
    return 0;
  if (name == "strata-task")
    return 1;
  if (name == "strata-thread")
    return 2;
  if (name == "strata-process")
    return 3;
  return name.rfind("strata", 0) == 0 ? 4 : 5;
}

struct system_order {
  bool operator()(const std::string& a, const std::string& b) const {
    auto ra = system_rank(a);
    auto rb = system_rank(b);
    return ra != rb ? ra < rb : a < b;
  }
};

// Where a kept suite's rows come from.
struct provenance {
  std::string date;
  std::string commit;
};

// A summary row (`median`, `min`, `max`, `runs`) as the values it stands for: its median for
// the runs, its extremes kept.
void add_summary(const json& j, series& s) {
  auto runs = std::max(1, j.value("runs", 1));
  auto lo = j.at("min").get<double>();
  auto mid = j.at("median").get<double>();
  auto hi = j.at("max").get<double>();
  s.values.push_back(lo);
  for (int i = 2; i < runs; ++i)
    s.values.push_back(mid);
  if (runs > 1)
    s.values.push_back(hi);
}

// Adds the rows of a previous latest.json whose suite is not in `all` yet.
bool read_kept(const std::string& path, std::map<key, series>& all,
               std::map<std::string, provenance>& kept) {
  std::ifstream in{path};
  if (!in)
    return true; // no earlier results: nothing to keep
  try {
    auto doc = json::parse(in);
    std::set<std::string> measured;
    for (auto& [k, s] : all)
      measured.insert(k.suite);
    for (auto& r : doc.at("results")) {
      auto suite = r.at("suite").get<std::string>();
      if (measured.count(suite) > 0)
        continue;
      key k{suite, r.at("metric").get<std::string>(), r.value("n", 0LL),
            r.at("system").get<std::string>()};
      auto& s = all[k];
      s.unit = r.at("unit").get<std::string>();
      s.lower_is_better = r.value("better", std::string{"lower"}) == "lower";
      add_summary(r, s);
      kept[suite] = {r.value("date", doc.value("date", std::string{"?"})),
                     r.value("commit", doc.value("commit", std::string{"?"}))};
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_report: " << path << ": " << e.what() << "\n";
    return false;
  }
  return true;
}

bool read_raw(const std::string& path, std::map<key, series>& out) {
  std::ifstream in{path};
  if (!in) {
    std::cerr << "bench_report: cannot read " << path << "\n";
    return false;
  }
  std::string line;
  for (int nr = 1; std::getline(in, line); ++nr) {
    // A measurement is a JSON object with string keys: `{"`. Anything else is a program's
    // own output (an Erlang term printed to stdout starts with '{' too).
    if (line.rfind("{\"", 0) != 0)
      continue;
    try {
      auto j = json::parse(line);
      key k{j.at("suite").get<std::string>(), j.at("metric").get<std::string>(), j.value("n", 0LL),
            j.at("system").get<std::string>()};
      auto& s = out[k];
      s.unit = j.at("unit").get<std::string>();
      s.lower_is_better = j.value("better", std::string{"lower"}) == "lower";
      if (j.contains("value")) {
        s.values.push_back(j.at("value").get<double>());
      } else {
        // A summary of `runs` runs: its median stands for them, its extremes are kept.
        add_summary(j, s);
      }
    } catch (const std::exception& e) {
      std::cerr << "bench_report: " << path << ":" << nr << ": " << e.what() << "\n";
      return false;
    }
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  std::string out_dir = "bench/results";
  json meta = json::object();
  std::string notes_file;
  std::string keep_file;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& prefix) -> const char* {
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (auto v = value("--out="))
      out_dir = v;
    else if (auto v = value("--machine="))
      meta["machine"] = v;
    else if (auto v = value("--commit="))
      meta["commit"] = v;
    else if (auto v = value("--date="))
      meta["date"] = v;
    else if (auto v = value("--notes="))
      notes_file = v;
    else if (auto v = value("--keep="))
      keep_file = v;
    else if (arg.rfind("--", 0) == 0) {
      std::cerr << "bench_report: unknown option " << arg << "\n";
      return 2;
    } else
      inputs.push_back(arg);
  }
  std::map<key, series> all;
  for (auto& path : inputs)
    if (!read_raw(path, all))
      return 1;
  std::map<std::string, provenance> kept;
  if (!keep_file.empty() && !read_kept(keep_file, all, kept))
    return 1;

  // latest.json
  json results = json::array();
  for (auto& [k, s] : all) {
    auto [lo, hi] = std::minmax_element(s.values.begin(), s.values.end());
    json r{{"suite", k.suite},
           {"system", k.system},
           {"metric", k.metric},
           {"unit", s.unit},
           {"median", median(s.values)},
           {"min", *lo},
           {"max", *hi},
           {"runs", s.values.size()},
           {"better", s.lower_is_better ? "lower" : "higher"}};
    if (k.n != 0)
      r["n"] = k.n;
    if (auto i = kept.find(k.suite); i != kept.end()) {
      r["date"] = i->second.date;
      r["commit"] = i->second.commit;
    }
    results.push_back(std::move(r));
  }
  json doc = meta;
  doc["results"] = results;
  std::ofstream{out_dir + "/latest.json"} << doc.dump(2) << "\n";

  // latest.md: per suite, a row per metric (and size), a column per system.
  std::ostringstream md;
  md << "# strata benchmarks\n\n";
  md << "Machine: " << meta.value("machine", "?") << "  \nCommit: " << meta.value("commit", "?")
     << "  \nDate: " << meta.value("date", "?") << "\n\n";
  md << "Each cell: median of the runs (min–max). `×` is strata's value divided by the "
        "system's: below 1 strata is ahead on a time or size, above 1 on a rate.\n";
  std::map<std::string, std::set<std::string, system_order>> systems_of;
  for (auto& [k, s] : all)
    systems_of[k.suite].insert(k.system);
  std::string suite;
  std::map<std::tuple<std::string, long long>, std::map<std::string, const series*>> rows;
  auto flush_suite = [&] {
    if (suite.empty())
      return;
    auto& systems = systems_of[suite];
    md << "\n## " << suite << "\n\n";
    if (auto i = kept.find(suite); i != kept.end())
      md << "From an earlier run: " << i->second.date << ", commit " << i->second.commit << ".\n\n";
    md << "| metric |";
    for (auto& sys : systems)
      md << " " << sys << " |";
    md << "\n|---|";
    for (size_t i = 0; i < systems.size(); ++i)
      md << "---|";
    md << "\n";
    for (auto& [row_key, row] : rows) {
      auto& [metric, n] = row_key;
      auto* base_name = strata_of(row);
      const series* base = base_name ? row.at(*base_name) : nullptr;
      md << "| " << metric;
      if (n != 0)
        md << ", n = " << n;
      md << " (" << row.begin()->second->unit << ") |";
      for (auto& sys : systems) {
        auto i = row.find(sys);
        if (i == row.end()) {
          md << " — |";
          continue;
        }
        auto& s = *i->second;
        auto [lo, hi] = std::minmax_element(s.values.begin(), s.values.end());
        md << " " << number(median(s.values)) << " (" << number(*lo) << "–" << number(*hi) << ")";
        // Variants of strata (its placements) are not compared with each other.
        if (base != nullptr && sys.rfind("strata", 0) != 0 && median(s.values) != 0)
          md << " ×" << number(median(base->values) / median(s.values));
        md << " |";
      }
      md << "\n";
    }
    rows.clear();
  };
  for (auto& [k, s] : all) {
    if (k.suite != suite) {
      flush_suite();
      suite = k.suite;
    }
    rows[{k.metric, k.n}][k.system] = &s;
  }
  flush_suite();
  if (!notes_file.empty()) {
    std::ifstream notes{notes_file};
    std::string line;
    bool first = true;
    while (std::getline(notes, line)) {
      if (first)
        md << "\n## Notes\n\n";
      first = false;
      md << "- " << line << "\n";
    }
  }
  std::ofstream{out_dir + "/latest.md"} << md.str();

  // Plots of the scaling suites (n > 0): one per metric, a line per system, against n.
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::vector<const key*>>>
    plots;
  for (auto& [k, s] : all)
    if (k.n != 0)
      plots[{k.suite, k.metric}][k.system].push_back(&k);
  for (auto& [what, by_system] : plots) {
    std::set<long long> sizes;
    for (auto& [system, keys] : by_system)
      for (auto* k : keys)
        sizes.insert(k->n);
    if (sizes.size() < 2)
      continue; // one size: the table says it all
    // Names relative to the plots directory, where the script runs.
    auto base = slug(what.first) + "-" + slug(what.second);
    std::ofstream dat{out_dir + "/plots/" + base + ".dat"};
    std::ofstream gp{out_dir + "/plots/" + base + ".gp"};
    std::string unit;
    gp << "set terminal pngcairo size 800,500\nset output '" << base + ".png"
       << "'\n"
       << "set title '" << what.first << ": " << what.second << "'\nset logscale x\n"
       << "set xlabel 'n'\nset key left top\nset grid\n";
    std::vector<std::string> lines;
    int block = 0;
    for (auto& [system, keys] : by_system) {
      dat << "# " << system << "\n";
      for (auto* k : keys) {
        auto& s = all.at(*k);
        unit = s.unit;
        dat << k->n << " " << median(s.values) << "\n";
      }
      dat << "\n\n";
      lines.push_back("'" + base + ".dat' index " + std::to_string(block++)
                      + " with linespoints title '" + system + "'");
    }
    gp << "set ylabel '" << unit << "'\nplot ";
    for (size_t i = 0; i < lines.size(); ++i)
      gp << (i ? ", " : "") << lines[i];
    gp << "\n";
  }
  std::cout << "bench_report: " << all.size() << " series, " << plots.size() << " plots → "
            << out_dir << "/latest.{json,md}\n";
  return 0;
}
