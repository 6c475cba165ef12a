// The restart lab runs as its README says: every placement and strategy in one tree, served by
// the observer, crashing and recovering, its events in the log, stopped cleanly by SIGTERM.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <set>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http_client.hpp"

#ifndef RESTART_LAB_PATH
#  error "RESTART_LAB_PATH must name the restart_lab executable"
#endif

namespace {

using clock_type = std::chrono::steady_clock;

// restart_lab started with a pipe on its stdout; killed at the end if still running.
class lab_process {
public:
  explicit lab_process(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(RESTART_LAB_PATH));
      for (auto& arg : args)
        argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(RESTART_LAB_PATH, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }

  ~lab_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  // Reads stdout until a line contains `what` (returns that line) or the deadline passes.
  std::string read_until(const std::string& what, std::chrono::seconds within) {
    auto deadline = clock_type::now() + within;
    for (;;) {
      auto eol = text_.find('\n', scanned_);
      if (eol != std::string::npos) {
        auto line = text_.substr(scanned_, eol - scanned_);
        scanned_ = eol + 1;
        if (line.find(what) != std::string::npos)
          return line;
        continue;
      }
      auto left
        = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0)
        return {};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return {};
      char buf[4096];
      auto n = ::read(out_, buf, sizeof buf);
      if (n <= 0)
        return {};
      text_.append(buf, static_cast<size_t>(n));
    }
  }

  // Sends SIGTERM and returns the exit status (-1 if it did not end within 20 s).
  int terminate() {
    ::kill(pid_, SIGTERM);
    auto deadline = clock_type::now() + std::chrono::seconds(20);
    while (clock_type::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  const std::string& output() const {
    return text_;
  }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
  size_t scanned_ = 0;
};

nlohmann::json tree(uint16_t port) {
  auto reply = strata::test::http_request(port, "/tree?limit=1000");
  REQUIRE(reply.status == 200);
  return nlohmann::json::parse(reply.body);
}

// Every child of the tree, by path, and every supervisor's strategy.
void walk(const nlohmann::json& sup, std::map<std::string, nlohmann::json>& children,
          std::set<std::string>& strategies) {
  strategies.insert(sup.at("strategy").get<std::string>());
  for (auto& child : sup.at("children")) {
    children[child.at("path").get<std::string>()] = child;
    if (child.contains("supervisor"))
      walk(child.at("supervisor"), children, strategies);
  }
}

} // namespace

TEST_CASE("the restart lab runs every placement and strategy, recovers from crashes and stops "
          "on SIGTERM") {
  char dir_template[] = "/tmp/strata-lab-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  std::string dir = dir_template;
  auto log = dir + "/events.jsonl";
  lab_process lab{{"--strata.observer.listen=0", "--strata.event-log=" + log, "--flaky-every=300",
                   "--sessions=50"}};
  auto line = lab.read_until("live view http://127.0.0.1:", std::chrono::seconds(30));
  INFO(lab.output());
  REQUIRE_FALSE(line.empty());
  auto at = line.find("127.0.0.1:") + 10;
  auto port = static_cast<uint16_t>(std::stoi(line.substr(at)));

  std::map<std::string, nlohmann::json> children;
  std::set<std::string> strategies;
  auto snapshot = tree(port);
  for (auto& root : snapshot.at("roots"))
    walk(root, children, strategies);
  CHECK(
    strategies
    == std::set<std::string>{"one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"});
  CHECK(children.at("lab/pipeline/parser").at("placement") == "thread");
  CHECK(children.at("lab/storage/shard_a").at("placement") == "process");
  CHECK(children.at("lab/jobs/reporter").at("placement") == "process");
  CHECK(children.at("lab/jobs/cruncher").at("placement") == "thread");
  CHECK(children.count("lab/edge/session#50") == 1);
  CHECK(children.at("lab/storage/shard_a").contains("pid"));

  // flaky throws every 300 ms and comes back (after its backoff) each time.
  auto deadline = clock_type::now() + std::chrono::seconds(20);
  int64_t restarts = 0;
  while (restarts < 2 && clock_type::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // polling an outside process
    children.clear();
    snapshot = tree(port);
    for (auto& root : snapshot.at("roots"))
      walk(root, children, strategies);
    restarts = children.at("lab/jobs/flaky").at("restarts").get<int64_t>();
  }
  CHECK(restarts >= 2);
  CHECK(children.at("lab/jobs/flaky").at("last_exit").get<std::string>().find("flaky")
        != std::string::npos);

  CHECK(lab.terminate() == 0);
  lab.read_until("shutting down", std::chrono::seconds(5));
  CHECK(lab.output().find("the sink has ") != std::string::npos);

  std::ifstream in{log};
  std::map<std::string, int> flaky_events;
  for (std::string text; std::getline(in, text);) {
    auto ev = nlohmann::json::parse(text);
    if (ev.at("child") == "flaky")
      ++flaky_events[ev.at("event").get<std::string>()];
  }
  CHECK(flaky_events["started"] == 1);
  CHECK(flaky_events["exited"] >= 2);
  CHECK(flaky_events["restarted"] >= 2);
  std::remove(log.c_str());
  ::rmdir(dir.c_str());
}
