#include "test_workers.hpp"

namespace strata::test {

std::atomic<int> start_failures{0};

namespace {

caf::behavior echo_behavior(caf::event_based_actor* self, std::string tag) {
  return {
    [](ping_atom, int x) { return x; },
    [tag](ping_atom, int x, const std::string&) { return caf::make_message(x, tag); },
    [](crash_atom) { throw std::runtime_error("boom"); },
    [self](quit_atom, int how) {
      switch (static_cast<how_to_quit>(how)) {
        case how_to_quit::normal: self->quit(); break;
        case how_to_quit::shutdown: self->quit(caf::exit_reason::user_shutdown); break;
        case how_to_quit::shutdown_term: self->quit(make_error(error::shutdown, "done")); break;
        case how_to_quit::crash: self->quit(caf::exit_reason::unknown); break;
      }
    },
    [](thread_atom) {
      return static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    },
  };
}

} // namespace

void add_test_factories(config& cfg) {
  cfg.add_worker("echo", [](caf::event_based_actor* self) { return echo_behavior(self, ""); });
  cfg.add_worker("echo_tagged", [](caf::event_based_actor* self, std::string tag) {
    return echo_behavior(self, std::move(tag));
  });
  cfg.add_worker("failing_init", [](caf::event_based_actor*) -> caf::behavior {
    throw std::runtime_error("init exploded");
  });
  cfg.add_worker("stubborn", [](caf::event_based_actor* self) -> caf::behavior {
    self->set_exit_handler([](caf::exit_msg&) {
      // Ignores shutdown requests: only exit_reason::kill, which cannot be trapped, ends it.
    });
    return {[](ping_atom, int x) { return x; }};
  });
  cfg.add_worker("flaky_start", [](caf::event_based_actor* self) -> caf::behavior {
    if (start_failures.fetch_sub(1) > 0)
      throw std::runtime_error("not yet");
    return echo_behavior(self, "");
  });
  cfg.add_supervisor("sup", [](supervisor_spec spec) { return spec; });
}

fixture::fixture(std::function<void(config&)> customize) {
  start_failures = 0;
  add_test_factories(cfg);
  cfg.add_message_type<supervisor_spec>("strata::supervisor_spec");
  if (customize)
    customize(cfg);
  sys = std::make_unique<strata::system>(cfg);
  self = std::make_unique<caf::scoped_actor>(sys->actors());
  subscribe(self->ptr());
}

fixture::~fixture() {
  self.reset();
  sys.reset();
}

supervision_event fixture::next_event(std::chrono::milliseconds timeout) {
  supervision_event result;
  bool got = false;
  (*self)->receive(
    [&](supervision_event& ev) {
      result = std::move(ev);
      got = true;
    },
    caf::after(timeout) >> [] {});
  if (!got)
    FAIL("no supervision event within " << timeout.count() << " ms");
  return result;
}

supervision_event fixture::wait_for(event_kind kind, const std::string& child,
                                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      FAIL("no '" << to_string(kind) << " " << child << "' event within " << timeout.count()
                  << " ms");
    auto ev = next_event(left);
    if (ev.kind == kind && (child.empty() || ev.child == child))
      return ev;
  }
}

std::vector<std::string> fixture::next_events(size_t n) {
  std::vector<std::string> result;
  for (size_t i = 0; i < n; ++i)
    result.push_back(brief(next_event()));
  return result;
}

caf::expected<int> fixture::ping(const caf::actor& worker, int x) {
  caf::expected<int> result{caf::error{}};
  (*self)
    ->request(worker, std::chrono::seconds(10), ping_atom::value, x)
    .receive([&](int y) { result = y; }, [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::actor fixture::child_of(const caf::actor& sup, const std::string& id) {
  auto children = which_children(sup, std::chrono::seconds(10));
  REQUIRE(children);
  for (auto& c : *children)
    if (c.id == id)
      return c.handle;
  return nullptr;
}

caf::error fixture::wait_down(const caf::actor& hdl, std::chrono::milliseconds timeout) {
  (*self)->monitor(hdl);
  caf::error reason;
  bool got = false;
  bool timed_out = false;
  // Other messages (supervision events) stay in the mailbox for later reads.
  (*self)->receive_while([&] { return !got && !timed_out; })(
    [&](caf::down_msg& dm) {
      if (dm.source == hdl.address()) {
        reason = dm.reason;
        got = true;
      }
    },
    caf::after(timeout) >> [&] { timed_out = true; });
  if (timed_out)
    FAIL("actor not down within " << timeout.count() << " ms");
  return reason;
}

std::string brief(const supervision_event& ev) {
  return ev.child.empty() ? to_string(ev.kind) : to_string(ev.kind) + " " + ev.child;
}

} // namespace strata::test
