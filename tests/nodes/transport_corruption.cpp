// A peer that writes garbage into the transport's inbox: frames that are well framed in the
// ring but are not transport frames. The transport closes that peer cleanly (its proxies die
// with the error, so monitors get down_msg), never crashes. Node 1 is played by the test
// itself, in one process: an inbox for node 1 (so the transport can answer) and an outbox
// into node 0's slot 1. A second case spoils the ring itself (a counter out of range).

#include <functional>
#include <mutex>

#include "internal/shm_layout.hpp"
#include "internal/wire.hpp"
#include "transport_test_support.hpp"

using namespace strata::nodes;
using namespace strata::nodes::test;

namespace {

std::vector<std::vector<char>> garbage_frames() {
  std::vector<std::vector<char>> result;
  result.push_back({}); // empty
  result.push_back({char{99}}); // unknown kind
  result.push_back({char{2}, char{1}, char{2}}); // a message frame cut short
  result.push_back({char{4}, char{0}, char{0}, char{0}, char{0}}); // down for actor id 0
  std::vector<char> noise(300);
  for (size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<char>(splitmix64(i));
  noise[0] = char{2};
  result.push_back(noise); // a message kind followed by random bytes
  return result;
}

// Node 0's transport, node 1 played by hand; `inject` spoils node 1's ring in node 0's inbox.
void check_peer_closed(const std::function<void(outbox&, const cluster_token&)>& inject) {
  {
    auto token = fresh_token();
    node_config cfg;
    caf::actor_system sys{cfg};
    std::mutex mtx;
    std::vector<caf::error> closed;
    auto opts = node_options(token, 0);
    opts.on_peer_closed = [&](uint32_t peer, const caf::error& reason) {
      std::lock_guard<std::mutex> guard{mtx};
      CHECK(peer == 1);
      closed.push_back(reason);
    };
    auto t = transport::create(sys, opts);
    REQUIRE(t);
    // Node 1, played by hand: its inbox, and a hello in node 0's ring of slot 1.
    inbox_options box1;
    box1.token = token;
    box1.node_index = 1;
    box1.ring_count = 2;
    box1.ring_capacity = uint64_t{1} << 16;
    auto inbox1 = inbox::create(box1);
    REQUIRE(inbox1);
    outbox_options oo;
    oo.token = token;
    oo.node_index = 0;
    oo.slot = 1;
    auto out = outbox::open(oo);
    REQUIRE(out);
    auto fake_node = caf::make_node_id(4242, "0123456789abcdef0123456789abcdef01234567");
    REQUIRE(fake_node);
    caf::scoped_execution_unit ctx{&sys};
    std::vector<char> hello;
    REQUIRE(!internal::encode_hello(ctx, hello, *fake_node, 1));
    REQUIRE(!out->try_write(caf::span<const char>{hello.data(), hello.size()}));
    auto nid = (*t)->connect(1, std::chrono::seconds{10});
    REQUIRE(nid);
    CHECK(*nid == *fake_node);
    auto proxy = (*t)->remote_actor(1, 42);
    REQUIRE(proxy);
    caf::scoped_actor self{sys};
    self->monitor(*proxy);
    inject(*out, token);
    auto down_reason = caf::error{};
    self->receive([&](caf::down_msg& down) { down_reason = down.reason; },
                  caf::after(std::chrono::seconds{10}) >> [] { FAIL("no down_msg"); });
    INFO(text(down_reason));
    CHECK(is(down_reason, error::corrupt_ring));
    {
      std::lock_guard<std::mutex> guard{mtx};
      REQUIRE(closed.size() == 1);
      CHECK(is(closed[0], error::corrupt_ring));
    }
    // Requests to the closed peer fail at once.
    self->request(*proxy, caf::infinite, add_atom::value, 1, 2)
      .receive([](int) { FAIL("a closed peer answered"); }, [](caf::error& err) { CHECK(err); });
    t->reset();
  }
  (void)remove_stale_segments();
}

} // namespace

TEST_CASE("garbage frames from a peer close that peer and kill its proxies",
          "[transport][corruption]") {
  for (auto& junk : garbage_frames())
    check_peer_closed([&](outbox& out, const cluster_token&) {
      REQUIRE(!out.try_write(caf::span<const char>{junk.data(), junk.size()}));
    });
}

TEST_CASE("a ring counter spoiled by a peer closes that peer and kills its proxies",
          "[transport][corruption]") {
  check_peer_closed([](outbox&, const cluster_token& token) {
    // As tests/nodes/corruption.cpp does: through a raw mapping of node 0's inbox, a head
    // counter far beyond what the ring can hold.
    raw_mapping raw{segment_name(token, 0)};
    auto* ring = reinterpret_cast<internal::ring_header_data*>(
      raw.base() + internal::ring_offset(1, uint64_t{1} << 16));
    auto tail = ring->tail.load(std::memory_order_acquire);
    ring->head.store(tail + (uint64_t{1} << 40), std::memory_order_release);
  });
}
