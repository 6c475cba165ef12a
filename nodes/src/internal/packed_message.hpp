#pragma once

// A decoded message of a few scalar values, in one allocation.
//
// The general decoder builds a CAF `dynamic_message_data`: a vector of type-erased values,
// one allocation per element, plus the vector and the data itself. An Erlang-style tuple such
// as `(add_atom, 1, 2)` then costs five allocations to read and five frees once handled. This
// message data keeps up to `max_size` values of CAF's builtin scalar types (atoms, integers,
// bool, floating point, timespan) inline instead, behind the same `type_erased_tuple`
// interface: behaviors match it by its type token and read its values by position, as they
// do any message.

#include <cstddef>
#include <cstdint>

#include <caf/deserializer.hpp>
#include <caf/detail/message_data.hpp>
#include <caf/error.hpp>
#include <caf/serializer.hpp>
#include <caf/timestamp.hpp>
#include <caf/type_nr.hpp>

namespace strata::nodes::internal {

template <class T>
struct scalar_tag {
  using type = T;
};

/// Calls `f(scalar_tag<T>{})` for the scalar type T of CAF type number `nr`, one that packed
/// messages hold: atoms, bool, the integers, float, double, timespan. Returns `otherwise`
/// for any other number.
template <class F, class R>
R with_scalar(uint16_t nr, F&& f, R otherwise) {
  switch (nr) {
    case caf::type_nr<caf::atom_value>::value: return f(scalar_tag<caf::atom_value>{});
    case caf::type_nr<bool>::value: return f(scalar_tag<bool>{});
    case caf::type_nr<int8_t>::value: return f(scalar_tag<int8_t>{});
    case caf::type_nr<int16_t>::value: return f(scalar_tag<int16_t>{});
    case caf::type_nr<int32_t>::value: return f(scalar_tag<int32_t>{});
    case caf::type_nr<int64_t>::value: return f(scalar_tag<int64_t>{});
    case caf::type_nr<uint8_t>::value: return f(scalar_tag<uint8_t>{});
    case caf::type_nr<uint16_t>::value: return f(scalar_tag<uint16_t>{});
    case caf::type_nr<uint32_t>::value: return f(scalar_tag<uint32_t>{});
    case caf::type_nr<uint64_t>::value: return f(scalar_tag<uint64_t>{});
    case caf::type_nr<float>::value: return f(scalar_tag<float>{});
    case caf::type_nr<double>::value: return f(scalar_tag<double>{});
    case caf::type_nr<caf::timespan>::value: return f(scalar_tag<caf::timespan>{});
    default: return otherwise;
  }
}

class packed_message_data final : public caf::detail::message_data {
public:
  static constexpr size_t max_size = 4;

  /// An empty message; append() adds its elements.
  packed_message_data() = default;

  packed_message_data(const packed_message_data&) = default;

  /// Appends an element of type number `nr`, value-initialised, and returns where it lies
  /// (an object of its own type, for the caller to set); nullptr if `nr` is not a type that
  /// `with_scalar` knows, or the message has `max_size` elements already.
  void* append(uint16_t nr) noexcept;

  // -- caf::detail::message_data --------------------------------------------------------

  packed_message_data* copy() const override;

  using message_data::copy;

  // -- caf::type_erased_tuple -------------------------------------------------------------

  void* get_mutable(size_t pos) override;
  caf::error load(size_t pos, caf::deserializer& source) override;
  size_t size() const noexcept override;
  uint32_t type_token() const noexcept override;
  caf::rtti_pair type(size_t pos) const noexcept override;
  const void* get(size_t pos) const noexcept override;
  std::string stringify(size_t pos) const override;
  caf::type_erased_value_ptr copy(size_t pos) const override;
  caf::error save(size_t pos, caf::serializer& sink) const override;

private:
  // Calls f with a reference to element `pos`, of its own type.
  template <class F>
  auto visit(size_t pos, F&& f) const;

  template <class F>
  auto visit(size_t pos, F&& f);

  uint32_t token_ = 0xFFFFFFFF; // CAF's type token: 6 bits per element's type number
  uint16_t nrs_[max_size] = {};
  uint8_t size_ = 0;
  uint64_t values_[max_size] = {}; // each holds one scalar (at most 8 bytes, trivially copied)
};

} // namespace strata::nodes::internal
