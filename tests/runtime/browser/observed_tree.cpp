// A small tree with the observer on, whose children crash on demand: what the live page's
// browser test (observer.test.mjs) watches. Prints where the page is, then reads commands,
// one per line, on stdin:
//
//   crash PATH      a child crashes (throws); PATH from the root, e.g. root/a, root/sub/c
//   crash-pool N    the first N children of root/pool crash
//   quit            (or end of input) shuts the system down and exits 0
//
// and answers each with one line: "crashed PATH", "crashed N" or "error: ...".
//
//   root (one_for_one)
//   ├── a         worker
//   ├── b         worker, on a thread of its own
//   ├── sub       supervisor (one_for_all): c, d
//   ├── fragile   supervisor (intensity 0: the first crash makes it give up): x
//   └── pool      supervisor (simple_one_for_one): --pool=N workers (default 0)
//
//   observed_tree [--pool=N] [--strata.observer.listen=HOST:PORT]   (default 127.0.0.1:0)

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include "strata/strata.hpp"

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

caf::behavior crashable(caf::event_based_actor*) {
  return {
    [](crash_atom) -> void { throw std::runtime_error("crashed on demand"); },
  };
}

strata::child_spec worker(std::string id) {
  return {std::move(id), strata::start("crashable")};
}

strata::supervisor_spec sub() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::one_for_all;
  spec.intensity = 1000;
  spec.children = {worker("c"), worker("d")};
  return spec;
}

strata::supervisor_spec fragile() {
  strata::supervisor_spec spec;
  spec.intensity = 0;
  spec.children = {worker("x")};
  return spec;
}

strata::supervisor_spec pool() {
  strata::supervisor_spec spec;
  spec.strategy = strata::strategy::simple_one_for_one;
  spec.intensity = 1000000;
  spec.children = {worker("w")};
  return spec;
}

strata::supervisor_spec root() {
  strata::supervisor_spec spec;
  spec.intensity = 1000;
  auto b = worker("b");
  b.placement = strata::placement::thread;
  spec.children = {worker("a"),
                   b,
                   {"sub", strata::start("sub")},
                   {"fragile", strata::start("fragile")},
                   {"pool", strata::start("pool")}};
  return spec;
}

class tree_config : public strata::config {
public:
  size_t pool_size = 0;

  tree_config() {
    opt_group{custom_options_, "global"}.add(pool_size, "pool", "children of root/pool");
    add_worker("crashable", crashable);
    add_supervisor("sub", sub);
    add_supervisor("fragile", fragile);
    add_supervisor("pool", pool);
  }
};

caf::actor find_child(const caf::actor& sup, const std::string& id) {
  if (auto children = strata::which_children(sup))
    for (auto& child : *children)
      if (child.id == id)
        return child.handle;
  return {};
}

// The child at `path` ("root/sub/c"): each step below the root is a child's id.
caf::actor resolve(const caf::actor& root, const std::string& path) {
  std::istringstream in{path};
  std::string step;
  if (!std::getline(in, step, '/') || step != "root")
    return {};
  auto at = root;
  while (at && std::getline(in, step, '/'))
    at = find_child(at, step);
  return at == root ? caf::actor{} : at;
}

} // namespace

int main(int argc, char** argv) {
  tree_config cfg;
  if (cfg.observer_listen().empty())
    cfg.set_observer_listen("127.0.0.1:0");
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "error: " << strata::to_text(err) << '\n';
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  strata::system sys{cfg};
  if (auto& err = sys.observer_error()) {
    std::cerr << "error: no observer: " << strata::to_text(err) << '\n';
    return 1;
  }
  auto tree = sys.start_supervisor("root", root());
  if (!tree) {
    std::cerr << "error: the tree did not start: " << strata::to_text(tree.error()) << '\n';
    return 1;
  }
  auto pool_sup = find_child(*tree, "pool");
  for (size_t i = 0; i < cfg.pool_size; ++i) {
    if (!strata::start_child(pool_sup, caf::make_message())) {
      std::cerr << "error: the pool did not start\n";
      return 1;
    }
  }
  std::cout << "observed_tree: open http://127.0.0.1:" << sys.observer_port() << "/" << std::endl;
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    std::istringstream in{line};
    std::string cmd;
    std::string arg;
    in >> cmd >> arg;
    if (cmd == "crash") {
      auto hdl = resolve(*tree, arg);
      if (!hdl) {
        std::cout << "error: no running child at '" << arg << "'" << std::endl;
        continue;
      }
      caf::anon_send(hdl, crash_atom::value);
      std::cout << "crashed " << arg << std::endl;
    } else if (cmd == "crash-pool") {
      if (arg.empty() || arg.size() > 9
          || arg.find_first_not_of("0123456789") != std::string::npos) {
        std::cout << "error: crash-pool takes a count" << std::endl;
        continue;
      }
      auto n = std::stoul(arg);
      auto children = strata::which_children(find_child(*tree, "pool"));
      size_t crashed = 0;
      if (children)
        for (auto& child : *children)
          if (crashed < n && child.handle) {
            caf::anon_send(child.handle, crash_atom::value);
            ++crashed;
          }
      std::cout << "crashed " << crashed << std::endl;
    } else {
      std::cout << "error: unknown command '" << line << "' (crash PATH, crash-pool N, quit)"
                << std::endl;
    }
  }
  return 0;
}
