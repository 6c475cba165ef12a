// chat_gateway: a WebSocket chat service on strata (README, "Chat gateway").
//
//   chat_gateway [--port=8080] [--address=0.0.0.0] [--io-threads=N] [--gateway-nodes=0]
//                [--sessions=task|thread] [--rooms=task|process] [CAF and strata options]
//
// The service is three supervision trees: "rooms" (simple_one_for_one: a room actor per
// room, started on demand), "directory" (one_for_one over the directory that finds rooms,
// registered as "chat.directory"), and "gateways" (one_for_one: the servers, one in this
// process or one per gateway node, sharing the port). Every connection is a session actor
// in the gateway that accepted it. SIGINT or SIGTERM closes every
// connection with a close frame (1001) and exits.

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "strata/nodes/provider.hpp"
#include "strata/strata.hpp"

#include "actors.hpp"
#include "gateway.hpp"
#include "server.hpp"

namespace {

constexpr const char* usage = R"(usage: chat_gateway [options]

  --port=N             TCP port to listen on (default 8080; 0 picks a free one)
  --address=A          address to bind (default 0.0.0.0)
  --io-threads=N       threads for network I/O, per gateway (default: one per core); each
                       also runs the session and room actors its connections wake; CAF
                       gets half as many workers, at least one, for the rest, unless
                       --scheduler.max-threads says otherwise
  --gateway-nodes=N    0 (default): the gateway runs in this process; N: N gateways, each a
                       node of its own (another OS process) holding its connections and their
                       sessions, all on one port; kill one and only its connections drop,
                       and its supervisor starts it again
  --sessions=task|thread
                       a session per connection as an event-based actor on the shared
                       thread pool (task, default) or on a thread of its own (thread: the
                       thread-per-connection model, for comparison)
  --rooms=task|process rooms on the shared pool (task, default) or in a node of their own
                       (process: another OS process; kill it and its supervisor restarts it,
                       and the sessions join their rooms again)
  --help               this text

Any other --key=value goes to CAF and strata (e.g. --scheduler.max-threads=2,
--strata.placement.gateway-1=thread).
Limits: frames up to 16 KiB (bigger: close 1009); nicks up to 32 bytes, room names up to 64
of [A-Za-z0-9_.-], texts up to 4000 bytes; 50 frames/s per client with bursts of 100 (more:
error rate_limited; sending on at over twice that rate: close 1008 once 200 refused frames
pile up, draining at 50/s); 1024 frames queued for a slow client (more: close 1008).
)";

struct options {
  chat::server_options server;
  bool rooms_in_process = false;
  size_t gateway_nodes = 0;
  std::vector<std::string> rest; // for CAF and strata
};

[[noreturn]] void bad(const std::string& what) {
  std::fprintf(stderr, "chat_gateway: %s (see --help)\n", what.c_str());
  std::exit(2);
}

long number(const std::string& key, const std::string& value, long lo, long hi) {
  char* end = nullptr;
  auto x = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || x < lo || x > hi)
    bad("--" + key + " wants a number from " + std::to_string(lo) + " to " + std::to_string(hi)
        + ", not '" + value + "'");
  return x;
}

options parse(int argc, char** argv) {
  options opts;
  opts.server.io_threads = 0; // one per core, unless given
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    auto eq = arg.find('=');
    auto key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto value = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    if (arg.rfind("--", 0) != 0)
      bad("unexpected argument '" + arg + "'");
    if (key == "port")
      opts.server.port = static_cast<uint16_t>(number(key, value, 0, 65535));
    else if (key == "address")
      opts.server.address = value;
    else if (key == "io-threads")
      opts.server.io_threads = static_cast<unsigned>(number(key, value, 1, 64));
    else if (key == "gateway-nodes")
      opts.gateway_nodes = static_cast<size_t>(number(key, value, 0, 64));
    else if (key == "sessions") {
      if (value != "task" && value != "thread")
        bad("--sessions is task or thread, not '" + value + "'");
      opts.server.session_threads = value == "thread";
    } else if (key == "rooms") {
      if (value != "task" && value != "process")
        bad("--rooms is task or process, not '" + value + "'");
      opts.rooms_in_process = value == "process";
    } else
      opts.rest.push_back(arg);
  }
  return opts;
}

// Connections are descriptors: take as many as the hard limit allows (nodes inherit it).
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
      std::perror("chat_gateway: setrlimit(RLIMIT_NOFILE)");
  }
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  if (opts.server.io_threads == 0)
    opts.server.io_threads = std::max(1u, std::thread::hardware_concurrency());
  raise_descriptor_limit();
  strata::config cfg;
  chat::add_factories(cfg);
  // Network I/O is most of the work: CAF's default of at least 4 workers would crowd the I/O
  // threads out on a small machine. --scheduler.max-threads still decides.
  cfg.set("scheduler.max-threads", static_cast<size_t>(std::max(1u, opts.server.io_threads / 2)));
  if (opts.rooms_in_process)
    cfg.set_placement("room", strata::placement::process);
  for (size_t i = 1; i <= opts.gateway_nodes; ++i)
    cfg.set_placement(chat::gateway_id(i), strata::placement::process);
  if (opts.rooms_in_process || opts.gateway_nodes > 0)
    strata::nodes::install(cfg);
  if (auto err = cfg.parse(opts.rest))
    bad(strata::to_text(err));
  // The port first, so that a port in use is reported before anything starts.
  std::optional<chat::port_reservation> port;
  try {
    port.emplace(opts.server.address, opts.server.port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_gateway: cannot listen on %s:%u: %s\n", opts.server.address.c_str(),
                 static_cast<unsigned>(opts.server.port), e.what());
    return 1;
  }
  opts.server.port = port->port();
  // SIGINT and SIGTERM are taken by sigwait below: blocked in every thread started from here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  strata::system sys{cfg};
  // From here on failures return, not exit: the system's destructor must run (it stops the
  // actors and the nodes; exit() would run static destructors under CAF's running threads).
  if (sys.provider_error()) {
    std::fprintf(stderr, "chat_gateway: process placement is unavailable: %s\n",
                 strata::to_text(sys.provider_error()).c_str());
    return 1;
  }
  auto rooms = sys.start_supervisor("rooms", chat::rooms_spec());
  if (!rooms) {
    std::fprintf(stderr, "chat_gateway: the rooms supervisor did not start: %s\n",
                 strata::to_text(rooms.error()).c_str());
    return 1;
  }
  auto directory = sys.start_supervisor("directory", chat::directory_spec(*rooms));
  if (!directory) {
    std::fprintf(stderr, "chat_gateway: the directory did not start: %s\n",
                 strata::to_text(directory.error()).c_str());
    return 1;
  }
  auto gateways = sys.start_supervisor(
    "gateways", chat::gateways_spec(std::max<size_t>(1, opts.gateway_nodes), opts.server));
  if (!gateways) {
    std::fprintf(stderr, "chat_gateway: the gateways did not start: %s\n",
                 strata::to_text(gateways.error()).c_str());
    return 1;
  }
  auto where = opts.gateway_nodes > 0 ? std::to_string(opts.gateway_nodes) + " nodes"
                                      : std::string{"in this process"};
  std::printf("chat gateway: open http://localhost:%u/ (sessions: %s, rooms: %s, gateways: %s)\n",
              static_cast<unsigned>(opts.server.port),
              opts.server.session_threads ? "thread" : "task",
              opts.rooms_in_process ? "process" : "task", where.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("chat gateway: %s, closing every connection\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  // The gateways first (their clients get 1001); the system stops the other trees.
  if (auto err = strata::stop(*gateways))
    std::fprintf(stderr, "chat_gateway: stopping the gateways: %s\n", strata::to_text(err).c_str());
  return 0;
}
