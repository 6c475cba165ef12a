#include "internal/wire.hpp"

#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/detail/dynamic_message_data.hpp>
#include <caf/detail/ieee_754.hpp>
#include <caf/detail/network_order.hpp>
#include <caf/make_counted.hpp>
#include <caf/make_message.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/sec.hpp>
#include <caf/type_nr.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "strata/nodes/error.hpp"

#include "internal/packed_message.hpp"

namespace strata::nodes::internal {

namespace {

template <class... Ts>
caf::error encode(caf::execution_unit& ctx, std::vector<char>& buf, frame_kind kind, Ts&... xs) {
  buf.clear();
  caf::binary_serializer sink{&ctx, buf};
  auto k = static_cast<uint8_t>(kind);
  return sink(k, xs...);
}

// Reads an unsigned integer as CAF's binary serialiser wrote it (network byte order), without
// the error object that every field read through the deserialiser makes. False if the input
// is too short.
template <class T>
bool read_uint(caf::binary_deserializer& source, T& x) {
  auto rest = source.remainder();
  if (rest.size() < sizeof(T))
    return false;
  T tmp;
  std::memcpy(&tmp, rest.data(), sizeof(T));
  if constexpr (sizeof(T) == 1)
    x = tmp;
  else
    x = caf::detail::from_network_order(tmp);
  source.skip(sizeof(T));
  return true;
}

// Element types of the typed fast path below: single values, and an atom followed by one.
template <class F>
bool with_fast_type(uint16_t nr, F&& f) {
  auto one = [&](auto tag) {
    using type = decltype(tag);
    if (nr != caf::type_nr<type>::value)
      return false;
    f(tag);
    return true;
  };
  return one(int32_t{}) || one(int64_t{}) || one(uint32_t{}) || one(uint64_t{}) || one(double{})
         || one(bool{}) || one(caf::atom_value{}) || one(std::string{});
}

// Reads the elements of the common small messages (one value of a builtin type, or an atom
// and one such value) into a message made in one allocation (CAF's tuple_vals), instead of a
// dynamic_message_data with one type-erased value per element (three). Leaves `source`
// untouched and returns false for any other message.
bool read_fast(caf::binary_deserializer& source, uint8_t n, caf::message& out) {
  if (n != 1 && n != 2)
    return false;
  auto start = source.remainder();
  bool done = false;
  uint16_t nr = 0;
  if (!read_uint(source, nr))
    return false;
  if (n == 1) {
    with_fast_type(nr, [&](auto tag) {
      using type = decltype(tag);
      type x{};
      if (!source(x)) {
        out = caf::make_message(std::move(x));
        done = true;
      }
    });
  } else if (nr == caf::type_nr<caf::atom_value>::value) {
    caf::atom_value a{};
    uint16_t nr2 = 0;
    if (!source(a) && read_uint(source, nr2))
      with_fast_type(nr2, [&](auto tag) {
        using type = decltype(tag);
        type x{};
        if (!source(x)) {
          out = caf::make_message(a, std::move(x));
          done = true;
        }
      });
  }
  if (!done)
    source.reset(start); // the general path reads it again, and reports what is wrong
  return done;
}

// Reads scalar `x` as put_scalar wrote it (CAF's binary format), without the deserialiser's
// virtual call and error object per field. False if the input is too short.
template <class T>
bool get_scalar(caf::binary_deserializer& source, T& x) {
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t y = 0;
    if (!read_uint(source, y))
      return false;
    x = y != 0;
  } else if constexpr (std::is_same_v<T, caf::atom_value>) {
    uint64_t y = 0;
    if (!read_uint(source, y))
      return false;
    x = static_cast<caf::atom_value>(y);
  } else if constexpr (std::is_same_v<T, caf::timespan>) {
    uint64_t y = 0;
    if (!read_uint(source, y))
      return false;
    x = caf::timespan{static_cast<int64_t>(y)};
  } else if constexpr (std::is_floating_point_v<T>) {
    std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t> y = 0;
    if (!read_uint(source, y))
      return false;
    x = caf::detail::unpack754(y);
  } else {
    std::make_unsigned_t<T> y = 0;
    if (!read_uint(source, y))
      return false;
    x = static_cast<T>(y);
  }
  return true;
}

// Reads the scalar of type number `nr` into `slot` (an object of that type; null: no
// element to read into).
bool get_scalar(caf::binary_deserializer& source, uint16_t nr, void* slot) {
  if (slot == nullptr)
    return false;
  auto get = [&](auto t) {
    using type = typename decltype(t)::type;
    return get_scalar(source, *static_cast<type*>(slot));
  };
  return with_scalar(nr, get, false);
}

// Reads a message of up to packed_message_data::max_size scalars into one allocation (see
// packed_message.hpp). Leaves `source` untouched and returns false for any other message.
bool read_packed(caf::binary_deserializer& source, uint8_t n, caf::message& out) {
  if (n > packed_message_data::max_size)
    return false;
  auto start = source.remainder();
  packed_message_data data; // on the stack until it is complete
  for (uint8_t i = 0; i < n; ++i) {
    uint16_t nr = 0;
    if (!read_uint(source, nr) || !get_scalar(source, nr, data.append(nr))) {
      source.reset(start); // the other paths read it again, and report what is wrong
      return false;
    }
  }
  out = caf::message{caf::message::data_ptr{caf::make_counted<packed_message_data>(data)}};
  return true;
}

// Appends unsigned integer `x` in network byte order, as CAF's binary serialiser does.
template <class T>
void put_uint(std::vector<char>& buf, T x) {
  auto y = caf::detail::to_network_order(x);
  auto bytes = reinterpret_cast<const char*>(&y);
  buf.insert(buf.end(), bytes, bytes + sizeof(y));
}

// Appends scalar `x` in CAF's binary format, without the serialiser's virtual call and
// error object per field: integers in network byte order, bool as one byte, floating point
// as IEEE 754 (CAF's pack754), atoms and durations as 64-bit integers. The wire test checks
// these bytes against CAF's serialiser.
template <class T>
void put_scalar(std::vector<char>& buf, const T& x) {
  if constexpr (std::is_same_v<T, bool>)
    buf.push_back(x ? 1 : 0);
  else if constexpr (std::is_same_v<T, caf::atom_value>)
    put_uint(buf, static_cast<uint64_t>(x));
  else if constexpr (std::is_same_v<T, caf::timespan>)
    put_uint(buf, static_cast<uint64_t>(x.count()));
  else if constexpr (std::is_floating_point_v<T>)
    put_uint(buf, caf::detail::pack754(x));
  else if constexpr (sizeof(T) == 1)
    buf.push_back(static_cast<char>(x));
  else
    put_uint(buf, static_cast<std::make_unsigned_t<T>>(x));
}

caf::error malformed(const char* what, const caf::error& cause = caf::error{}) {
  if (cause)
    return make_error(error::corrupt_ring, std::string{"malformed transport frame: "} + what,
                      cause);
  return make_error(error::corrupt_ring, std::string{"malformed transport frame: "} + what);
}

caf::expected<frame> decode_message(caf::execution_unit& ctx, const std::vector<char>& buf,
                                    const caf::node_id& peer, actor_cache* senders) {
  if (buf.size() < message_header_size)
    return malformed("short message header");
  frame f;
  f.kind = frame_kind::message;
  auto flags = static_cast<uint8_t>(buf[1]);
  if ((flags & ~message_flags::all) != 0
      || ((flags & message_flags::local_sender) && (flags & message_flags::remote_sender)))
    return malformed("bad message flags");
  uint64_t fixed[3];
  std::memcpy(fixed, buf.data() + 2, sizeof(fixed));
  f.actor = fixed[0];
  f.mid = caf::message_id{fixed[1]};
  if (f.actor == 0)
    return malformed("message for actor id 0");
  if (flags & message_flags::local_sender) {
    auto* proxies = ctx.proxy_registry_ptr();
    if (fixed[2] == 0 || peer == caf::none || proxies == nullptr)
      return malformed("sender of an unknown node, or id 0");
    if (senders != nullptr && senders->id == fixed[2] && senders->ptr != nullptr) {
      f.sender = senders->ptr;
    } else {
      f.sender = proxies->get_or_put(peer, fixed[2]);
      if (senders != nullptr) {
        senders->id = fixed[2];
        senders->ptr = f.sender;
      }
    }
  } else if (fixed[2] != 0) {
    return malformed("sender id without its flag");
  }
  caf::binary_deserializer source{&ctx, buf.data() + message_header_size,
                                  buf.size() - message_header_size};
  caf::error err;
  if (flags & message_flags::target)
    err = source(f.target);
  else
    f.target = ctx.system().node(); // the receiving node: us
  if (!err && (flags & message_flags::remote_sender))
    err = source(f.sender);
  if (!err && (flags & message_flags::stages))
    err = source(f.stages);
  if (err)
    return malformed("bad field", err);
  uint8_t n = 0;
  if (!read_uint(source, n))
    return malformed("no element count");
  if (f.target == caf::none)
    return malformed("message without a target node");
  if (n > 0 && !read_packed(source, n, f.content) && !read_fast(source, n, f.content)) {
    auto& types = ctx.system().types();
    caf::detail::dynamic_message_data::elements elements;
    elements.reserve(n);
    std::string name;
    for (uint8_t i = 0; i < n; ++i) {
      uint16_t nr = 0;
      if (!read_uint(source, nr))
        return malformed("no element type");
      caf::type_erased_value_ptr value;
      if (nr == 0) {
        if (auto err = source(name))
          return malformed("bad element type name", err);
        value = types.make_value(name);
      } else if (nr < caf::type_nrs) {
        value = types.make_value(nr);
      }
      if (value == nullptr)
        return malformed("element of an unknown type");
      if (auto err = value->load(source))
        return malformed("bad element", err);
      elements.push_back(std::move(value));
    }
    f.content = caf::message{caf::message::data_ptr{
      caf::make_counted<caf::detail::dynamic_message_data>(std::move(elements))}};
  }
  if (source.remaining() != 0)
    return malformed("trailing bytes");
  return f;
}

} // namespace

caf::error encode_hello(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& node,
                        uint32_t slot) {
  auto n = node;
  return encode(ctx, buf, frame_kind::hello, n, slot);
}

caf::error encode_message(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& peer, const caf::node_id& target,
                          const caf::strong_actor_ptr& sender, caf::actor_id receiver,
                          caf::message_id mid, const caf::mailbox_element::forwarding_stack& stages,
                          const caf::message& content, registered_sender* last) {
  if (content.size() > max_elements)
    return caf::make_error(caf::sec::invalid_argument, "message of more than 255 elements");
  auto& sys = ctx.system();
  // The fixed part by hand (a field through CAF's serialiser costs a virtual call and an
  // error object); node ids are the bulk of a small message and cost an allocation each to
  // read: the common case (for the receiving node, from an actor of ours) sends none.
  uint8_t flags = 0;
  if (target != peer)
    flags |= message_flags::target;
  if (sender != nullptr)
    flags |= sender->node() == sys.node() ? message_flags::local_sender
                                          : message_flags::remote_sender;
  if (!stages.empty())
    flags |= message_flags::stages;
  buf.resize(message_header_size);
  buf[0] = static_cast<char>(frame_kind::message);
  buf[1] = static_cast<char>(flags);
  uint64_t fixed[3] = {receiver, mid.integer_value(),
                       (flags & message_flags::local_sender) ? sender->id() : 0};
  std::memcpy(buf.data() + 2, fixed, sizeof(fixed));
  caf::binary_serializer sink{&ctx, buf}; // appends
  caf::error err;
  if (flags & message_flags::target) {
    auto t = target;
    err = sink(t);
  }
  if (!err && (flags & message_flags::remote_sender)) {
    auto x = sender;
    err = sink(x);
  }
  if (!err && (flags & message_flags::stages)) {
    auto st = stages;
    err = sink(st);
  }
  if (err)
    return err;
  // The content: a count, then per element its CAF type number (builtin types) or 0 and its
  // portable name (announced types), then its value. CAF's own format names every type with
  // a string, parsed on every read. A type without a name was never announced: CAF alone
  // would only print a line on stderr.
  buf.push_back(static_cast<char>(content.size()));
  auto& types = sys.types();
  for (size_t i = 0; !err && i < content.size(); ++i) {
    auto rtti = content.type(i);
    uint16_t nr = rtti.first;
    put_uint(buf, nr);
    auto put = [&](auto t) {
      using type = typename decltype(t)::type;
      put_scalar(buf, *static_cast<const type*>(content.at(i)));
      return true;
    };
    if (with_scalar(nr, put, false))
      continue;
    sink.seek(buf.size()); // past what was appended without it
    if (!err && nr == 0) {
      auto name = types.portable_name(rtti);
      if (name == types.default_type_name())
        return caf::make_error(caf::sec::unknown_type,
                               std::string{"type not announced with add_message_type: "}
                                 + (rtti.second != nullptr ? rtti.second->name() : "?"));
      err = sink(name);
    }
    if (!err)
      err = content.save(i, sink);
  }
  // As CAF's save_actor does: the peer may address the sender by id from now on. Skipped for
  // the sender this thread put there last; otherwise looked up first, under the registry's
  // shared lock (a put of an actor already there takes the exclusive lock and builds and
  // frees a map node). The lookup alone, two atomic read-modify-writes on the registry's
  // lock and two on the actor's count, was a tenth of a round trip's encoding.
  if (!err && (flags & message_flags::local_sender)
      && (last == nullptr || last->id != sender->id())) {
    auto& registry = sys.registry();
    if (registry.get(sender->id()) != sender)
      registry.put(sender->id(), sender);
    if (last != nullptr)
      last->id = sender->id();
  }
  return err;
}

caf::error encode_monitor(caf::execution_unit& ctx, std::vector<char>& buf,
                          const caf::node_id& target, caf::actor_id aid) {
  auto t = target;
  return encode(ctx, buf, frame_kind::monitor, t, aid);
}

caf::error encode_down(caf::execution_unit& ctx, std::vector<char>& buf, const caf::node_id& target,
                       caf::actor_id aid, const caf::error& reason) {
  auto t = target;
  auto r = reason;
  return encode(ctx, buf, frame_kind::down, t, aid, r);
}

caf::error encode_bye(caf::execution_unit& ctx, std::vector<char>& buf, const caf::error& reason) {
  auto r = reason;
  return encode(ctx, buf, frame_kind::bye, r);
}

caf::expected<frame> decode(caf::execution_unit& ctx, const std::vector<char>& buf,
                            const caf::node_id& peer, actor_cache* senders) {
  // The bytes come from another process: the deserialiser checks every length against the
  // remaining input; anything it throws (e.g. bad_alloc for an absurd but in-range count) is
  // a malformed frame too, never a crash of the receive thread.
  try {
    // A message's kind byte is all its general part: no deserialiser for it.
    if (!buf.empty() && static_cast<uint8_t>(buf[0]) == static_cast<uint8_t>(frame_kind::message))
      return decode_message(ctx, buf, peer, senders);
    caf::binary_deserializer source{&ctx, buf};
    frame f;
    uint8_t kind = 0;
    if (auto err = source(kind))
      return malformed("no kind", err);
    caf::error err;
    switch (kind) {
      case static_cast<uint8_t>(frame_kind::hello):
        err = source(f.node, f.slot);
        if (!err && f.node == caf::none)
          return malformed("hello without a node id");
        break;
      case static_cast<uint8_t>(frame_kind::message):
        return decode_message(ctx, buf, peer, senders);
      case static_cast<uint8_t>(frame_kind::monitor):
      case static_cast<uint8_t>(frame_kind::down):
        err = source(f.target, f.actor);
        if (!err && f.target == caf::none)
          return malformed("monitor or down without a target node");
        if (!err && kind == static_cast<uint8_t>(frame_kind::down))
          err = source(f.reason);
        if (!err && f.actor == 0)
          return malformed("monitor or down for actor id 0");
        break;
      case static_cast<uint8_t>(frame_kind::bye): err = source(f.reason); break;
      default: return malformed("unknown kind");
    }
    if (err)
      return malformed("bad field", err);
    if (source.remaining() != 0)
      return malformed("trailing bytes");
    f.kind = static_cast<frame_kind>(kind);
    return f;
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
}

} // namespace strata::nodes::internal
