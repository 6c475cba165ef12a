// The message codec: what encode_message writes, decode reads back as the same message, by
// the typed fast path (one value, or an atom and one value, of common builtin types) or by
// the general one; and a damaged frame is an error either way, never a crash.

#include "internal/wire.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <catch2/catch.hpp>

using namespace strata::nodes;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

struct codec {
  codec() : sys(make_config()), ctx(&sys) {
    // nop
  }

  static caf::actor_system_config& make_config() {
    static caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>(); // a node id of our own
    return cfg;
  }

  std::vector<char> encode(const caf::message& content) {
    std::vector<char> buf;
    auto err = internal::encode_message(ctx, buf, sys.node(), sys.node(), nullptr, 7,
                                        caf::make_message_id(), {}, content);
    REQUIRE(!err);
    return buf;
  }

  caf::expected<internal::frame> decode(const std::vector<char>& buf) {
    return internal::decode(ctx, buf, sys.node());
  }

  caf::actor_system sys;
  caf::scoped_execution_unit ctx;
};

} // namespace

TEST_CASE("messages of every shape decode to what was encoded") {
  codec c;
  auto msg = GENERATE(caf::make_message(int32_t{42}), caf::make_message(int64_t{-7}),
                      caf::make_message(uint64_t{1} << 60), caf::make_message(3.5),
                      caf::make_message(true), caf::make_message(std::string{"text"}),
                      caf::make_message(ping_atom::value, int32_t{1}),
                      caf::make_message(ping_atom::value, std::string{"x"}),
                      caf::make_message(ping_atom::value, ping_atom::value),
                      // the general path: more elements, another order, other types
                      caf::make_message(ping_atom::value, int32_t{1}, int32_t{2}),
                      caf::make_message(int32_t{1}, ping_atom::value),
                      caf::make_message(uint16_t{5}),
                      caf::make_message(std::vector<std::string>{"a", "b"}), caf::make_message());
  INFO(caf::to_string(msg));
  auto f = c.decode(c.encode(msg));
  REQUIRE(f);
  CHECK(f->actor == 7);
  CHECK(caf::to_string(f->content) == caf::to_string(msg));
  CHECK(f->content.type_token() == msg.type_token());
}

TEST_CASE("a message cut short or with bytes too many is a malformed frame") {
  codec c;
  auto msg = GENERATE(caf::make_message(int32_t{42}), caf::make_message(ping_atom::value, 1.5),
                      caf::make_message(ping_atom::value, int32_t{1}, int32_t{2}),
                      caf::make_message(std::string{"text"}));
  INFO(caf::to_string(msg));
  auto buf = c.encode(msg);
  for (size_t cut = 1; cut < buf.size() - internal::message_header_size; ++cut) {
    auto shorter = std::vector<char>{buf.begin(), buf.end() - static_cast<std::ptrdiff_t>(cut)};
    CHECK_FALSE(c.decode(shorter));
  }
  auto longer = buf;
  longer.push_back(0);
  CHECK_FALSE(c.decode(longer));
}
