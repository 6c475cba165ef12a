// bench_report turns a run's raw JSON lines into latest.json and latest.md: medians and
// extremes per suite, system, metric and size, ratios to strata, plot scripts for scaling
// suites, and an error (not a silent skip) for a line it cannot read.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

struct scratch {
  scratch() {
    // mkdtemp replaces the trailing six characters with a unique name.
    char tmpl[] = "/tmp/strata-bench-report-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    REQUIRE(std::system(("mkdir -p " + dir + "/plots").c_str()) == 0);
  }
  ~scratch() {
    (void)std::system(("rm -rf " + dir).c_str());
  }

  int report(const std::string& raw_lines, const std::string& options = {}) {
    std::ofstream{dir + "/raw.jsonl"} << raw_lines;
    auto cmd = std::string{BENCH_REPORT} + " --out=" + dir + " --machine=test --commit=abc"
               + " --date=today " + options + " " + dir + "/raw.jsonl > " + dir + "/stdout 2>&1";
    return std::system(cmd.c_str());
  }

  std::string read(const std::string& name) const {
    std::ifstream in{dir + "/" + name};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir;
};

const nlohmann::json* find(const nlohmann::json& doc, const std::string& system,
                           const std::string& suite) {
  for (auto& r : doc.at("results"))
    if (r.at("system") == system && r.at("suite") == suite)
      return &r;
  return nullptr;
}

} // namespace

TEST_CASE("bench_report summarises runs per suite, system and metric", "[bench]") {
  scratch s;
  REQUIRE(
    s.report(
      R"({"suite":"ping-pong","system":"strata","metric":"round trip","unit":"us","value":3,"n":0,"better":"lower"}
a line that a program printed for people
{an_erlang_term,printed,"to stdout"}
{"suite":"ping-pong","system":"strata","metric":"round trip","unit":"us","value":1,"n":0,"better":"lower"}
{"suite":"ping-pong","system":"strata","metric":"round trip","unit":"us","value":2,"n":0,"better":"lower"}
{"suite":"ping-pong","system":"caf","metric":"round trip","unit":"us","value":4,"n":0,"better":"lower"}
{"suite":"round-trip","system":"caf-tcp","metric":"request round trip","unit":"us","median":150,"min":140,"max":170,"runs":3}
{"suite":"spawn","system":"strata","metric":"time per spawn","unit":"us","value":1.5,"n":1000,"better":"lower"}
{"suite":"spawn","system":"strata","metric":"time per spawn","unit":"us","value":1.7,"n":10000,"better":"lower"}
)") == 0);
  auto doc = nlohmann::json::parse(s.read("latest.json"));
  CHECK(doc.at("machine") == "test");
  CHECK(doc.at("commit") == "abc");
  auto* strata = find(doc, "strata", "ping-pong");
  REQUIRE(strata != nullptr);
  CHECK(strata->at("median") == 2.0);
  CHECK(strata->at("min") == 1.0);
  CHECK(strata->at("max") == 3.0);
  CHECK(strata->at("runs") == 3);
  auto* tcp = find(doc, "caf-tcp", "round-trip");
  REQUIRE(tcp != nullptr);
  CHECK(tcp->at("median") == 150.0);
  CHECK(tcp->at("min") == 140.0);
  CHECK(tcp->at("max") == 170.0);
  CHECK(tcp->at("runs") == 3);
  auto md = s.read("latest.md");
  // strata's 2 µs against CAF's 4 µs: strata ÷ caf.
  CHECK(md.find("| round trip (us) | 2 (1–3) | 4 (4–4) ×0.5 |") != std::string::npos);
  // The scaling suite gets a plot script with a point per size.
  auto dat = s.read("plots/spawn-time-per-spawn.dat");
  CHECK(dat.find("1000 1.5") != std::string::npos);
  CHECK(dat.find("10000 1.7") != std::string::npos);
  CHECK(s.read("plots/spawn-time-per-spawn.gp").find("spawn-time-per-spawn.png")
        != std::string::npos);
}

TEST_CASE("bench_report puts strata's placements side by side, least isolated first, "
          "without ratios",
          "[bench]") {
  scratch s;
  REQUIRE(
    s.report(
      R"({"suite":"isolation","system":"strata-process","metric":"crash to answering","unit":"us","median":900,"min":800,"max":1000,"runs":3,"better":"lower"}
{"suite":"isolation","system":"strata-task","metric":"crash to answering","unit":"us","median":50,"min":40,"max":60,"runs":3,"better":"lower"}
{"suite":"isolation","system":"strata-thread","metric":"crash to answering","unit":"us","median":200,"min":150,"max":250,"runs":3,"better":"lower"}
{"suite":"isolation","system":"strata-process","metric":"memory per child: node Pss","unit":"KiB","median":1400,"min":1400,"max":1400,"runs":1,"better":"lower"}
)") == 0);
  auto md = s.read("latest.md");
  CHECK(md.find("| metric | strata-task | strata-thread | strata-process |") != std::string::npos);
  CHECK(md.find("| crash to answering (us) | 50.0 (40.0–60.0) | 200 (150–250) | 900 (800–1000) |")
        != std::string::npos);
  // A metric of one placement only: the others' cells are empty.
  CHECK(md.find("| memory per child: node Pss (KiB) | — | — | 1400 (1400–1400) |")
        != std::string::npos);
  CHECK(md.find("×") == md.rfind("×")); // only the legend's, no ratio in a cell
}

TEST_CASE("bench_report fails on a measurement it cannot read", "[bench]") {
  scratch s;
  CHECK(s.report(R"({"suite":"ping-pong","system":"strata","unit":"us","value":3}
)") != 0);
  CHECK(s.read("stdout").find("raw.jsonl:1") != std::string::npos);
}

TEST_CASE("bench_report keeps the suites of an earlier latest.json that this run did not "
          "measure, saying where they come from",
          "[bench]") {
  scratch s;
  std::ofstream{s.dir + "/earlier.json"} << R"({"machine":"test","commit":"old","date":"yesterday",
"results":[
{"suite":"ping-pong","system":"strata","metric":"round trip","unit":"us","median":9,"min":8,"max":10,"runs":3,"better":"lower"},
{"suite":"gateway","system":"strata","metric":"held","unit":"connections","median":5,"min":5,"max":5,"runs":1,"better":"higher"}]})";
  REQUIRE(
    s.report(
      R"({"suite":"gateway","system":"strata","metric":"held","unit":"connections","value":10000,"n":0,"better":"higher"}
)",
      "--keep=" + s.dir + "/earlier.json")
    == 0);
  auto doc = nlohmann::json::parse(s.read("latest.json"));
  auto* gateway = find(doc, "strata", "gateway");
  REQUIRE(gateway != nullptr);
  CHECK(gateway->at("median") == 10000.0); // measured now: the earlier row is replaced
  CHECK(!gateway->contains("date"));
  auto* kept = find(doc, "strata", "ping-pong");
  REQUIRE(kept != nullptr);
  CHECK(kept->at("median") == 9.0);
  CHECK(kept->at("min") == 8.0);
  CHECK(kept->at("max") == 10.0);
  CHECK(kept->at("runs") == 3);
  CHECK(kept->at("date") == "yesterday");
  CHECK(kept->at("commit") == "old");
  auto md = s.read("latest.md");
  CHECK(md.find("## ping-pong\n\nFrom an earlier run: yesterday, commit old.")
        != std::string::npos);
  CHECK(md.find("| held (connections) | 10000 (10000–10000) |") != std::string::npos);
}
