// The message codec: what encode_message writes, decode reads back as the same message, by
// the packed path (up to four scalars in one allocation), the typed fast path (one value, or
// an atom and one value, of common builtin types) or the general one; and a damaged frame is
// an error either way, never a crash.

#include "internal/wire.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <catch2/catch.hpp>

#include "internal/packed_message.hpp"

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
                      // packed: up to four scalars of any builtin scalar type, in any order
                      caf::make_message(ping_atom::value, int32_t{1}, int32_t{2}),
                      caf::make_message(int32_t{1}, ping_atom::value),
                      caf::make_message(uint16_t{5}),
                      caf::make_message(int8_t{-1}, uint8_t{255}, int16_t{-300}, 2.5f),
                      caf::make_message(ping_atom::value, uint32_t{7}, int64_t{-8}, false),
                      caf::make_message(caf::timespan{1234}, 0.25),
                      // the general path: more elements, or other types
                      caf::make_message(int32_t{1}, int32_t{2}, int32_t{3}, int32_t{4}, int32_t{5}),
                      caf::make_message(ping_atom::value, int32_t{1}, std::string{"x"}),
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

TEST_CASE("a packed message matches, reads and copies like any message") {
  codec c;
  auto msg = caf::make_message(ping_atom::value, int32_t{1}, int64_t{-2}, 3.5);
  auto f = c.decode(c.encode(msg));
  REQUIRE(f);
  auto& got = f->content;
  // Decoded into one packed allocation, not CAF's dynamic message of type-erased values.
  CHECK(dynamic_cast<const internal::packed_message_data*>(got.cvals().get()) != nullptr);
  CHECK(got.match_elements<ping_atom, int32_t, int64_t, double>());
  CHECK_FALSE(got.match_elements<ping_atom, int32_t, int32_t, double>());
  CHECK(got.get_as<int32_t>(1) == 1);
  CHECK(got.get_as<int64_t>(2) == -2);
  CHECK(got.get_as<double>(3) == 3.5);
  bool matched = false;
  caf::behavior bhvr{
    [&](ping_atom, int32_t a, int64_t b, double x) { matched = a == 1 && b == -2 && x == 3.5; }};
  auto copy = got;
  bhvr(copy);
  CHECK(matched);
  // Copy on write: changing a shared message changes only the copy.
  copy.get_mutable_as<int32_t>(1) = 9;
  CHECK(copy.get_as<int32_t>(1) == 9);
  CHECK(got.get_as<int32_t>(1) == 1);
  // An element copied out of it is a type-erased value of the element's own type.
  auto value = got.cvals()->copy(3);
  REQUIRE(value != nullptr);
  CHECK(value->stringify() == caf::make_type_erased_value<double>(3.5)->stringify());
}

TEST_CASE("a packed message refuses a fifth element and a type it does not hold") {
  internal::packed_message_data data;
  auto i32 = caf::type_nr<int32_t>::value;
  for (size_t i = 0; i < internal::packed_message_data::max_size; ++i)
    CHECK(data.append(i32) != nullptr);
  CHECK(data.append(i32) == nullptr);
  CHECK(data.size() == internal::packed_message_data::max_size);
  internal::packed_message_data other;
  CHECK(other.append(caf::type_nr<std::string>::value) == nullptr);
  CHECK(other.append(0) == nullptr);
  CHECK(other.size() == 0);
  CHECK(other.type_token() == caf::make_type_token<>());
}

TEST_CASE("scalars are written in CAF's own binary format") {
  codec c;
  auto msg
    = GENERATE(caf::make_message(int8_t{-1}, uint8_t{255}, int16_t{-300}, uint16_t{7}),
               caf::make_message(int32_t{-5}, uint32_t{1} << 31, int64_t{-8}, uint64_t{1} << 63),
               caf::make_message(true, false, 2.5f, -0.125),
               caf::make_message(ping_atom::value, caf::timespan{-1234}),
               caf::make_message(ping_atom::value, std::string{"x"}, int32_t{3}));
  INFO(caf::to_string(msg));
  auto buf = c.encode(msg);
  // What CAF's serialiser writes for the same elements: a count, then per element its type
  // number and its value.
  std::vector<char> expected;
  caf::binary_serializer sink{&c.ctx, expected};
  auto n = static_cast<uint8_t>(msg.size());
  REQUIRE(!sink(n));
  for (size_t i = 0; i < msg.size(); ++i) {
    auto nr = msg.type(i).first;
    REQUIRE(!sink(nr));
    REQUIRE(!msg.cvals()->save(i, sink));
  }
  REQUIRE(buf.size() == internal::message_header_size + expected.size());
  CHECK(std::equal(expected.begin(), expected.end(),
                   buf.begin() + static_cast<std::ptrdiff_t>(internal::message_header_size)));
}
