// Starts a one-child tree from the installed strata and checks one request round trip.
// Exits 0 on success, 1 with a message otherwise.

#include <chrono>
#include <cstdint>
#include <iostream>
#include <utility>

#include <caf/all.hpp>

#include <strata/strata.hpp>

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

caf::behavior ponger(caf::event_based_actor*) {
  return {
    [](ping_atom, int32_t x) { return x + 1; },
  };
}

int fail(const char* what, const caf::error& err) {
  std::cerr << "consumer: " << what << ": " << strata::to_text(err) << '\n';
  return 1;
}

} // namespace

int main(int argc, char** argv) {
  strata::config cfg;
  cfg.add_worker("ponger", ponger);
  if (auto err = cfg.parse(argc, argv))
    return fail("bad arguments", err);
  strata::system sys{cfg};
  strata::supervisor_spec spec;
  spec.children.emplace_back("ponger", strata::start("ponger"));
  auto root = sys.start_supervisor("consumer", std::move(spec));
  if (!root)
    return fail("start_supervisor", root.error());
  auto children = strata::which_children(*root);
  if (!children)
    return fail("which_children", children.error());
  if (children->size() != 1 || children->front().id != "ponger") {
    std::cerr << "consumer: unexpected children\n";
    return 1;
  }
  caf::scoped_actor self{sys.actors()};
  int32_t answer = 0;
  caf::error failure;
  self->request(children->front().handle, std::chrono::seconds(30), ping_atom::value, 41)
    .receive([&](int32_t x) { answer = x; }, [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return fail("ping", failure);
  if (answer != 42) {
    std::cerr << "consumer: expected 42, got " << answer << '\n';
    return 1;
  }
  std::cout << "consumer: strata::runtime works (ping 41 -> " << answer << ")\n";
  return 0;
}
