#include "internal/packed_message.hpp"

#include <new>
#include <type_traits>

#include <caf/detail/stringification_inspector.hpp>
#include <caf/make_type_erased_value.hpp>
#include <caf/type_erased_value.hpp>

namespace strata::nodes::internal {

namespace {

// What a slot of values_ may hold: every type with_scalar names.
template <class T>
constexpr bool fits = sizeof(T) <= sizeof(uint64_t) && alignof(T) <= alignof(uint64_t)
                      && std::is_trivially_copyable_v<T>&& std::is_trivially_destructible_v<T>;

} // namespace

template <class F>
auto packed_message_data::visit(size_t pos, F&& f) const {
  using result = decltype(f(std::declval<const int32_t&>()));
  return with_scalar(
    nrs_[pos],
    [&](auto t) -> result {
      using type = typename decltype(t)::type;
      return f(*std::launder(reinterpret_cast<const type*>(&values_[pos])));
    },
    result{});
}

template <class F>
auto packed_message_data::visit(size_t pos, F&& f) {
  using result = decltype(f(std::declval<int32_t&>()));
  return with_scalar(
    nrs_[pos],
    [&](auto t) -> result {
      using type = typename decltype(t)::type;
      return f(*std::launder(reinterpret_cast<type*>(&values_[pos])));
    },
    result{});
}

void* packed_message_data::append(uint16_t nr) noexcept {
  if (size_ == max_size)
    return nullptr;
  auto* slot = &values_[size_];
  auto init = [slot](auto t) {
    using type = typename decltype(t)::type;
    static_assert(fits<type>);
    new (slot) type{};
    return true;
  };
  if (!with_scalar(nr, init, false))
    return nullptr;
  nrs_[size_++] = nr;
  token_ = (token_ << 6) | nr;
  return slot;
}

packed_message_data* packed_message_data::copy() const {
  return new packed_message_data(*this);
}

void* packed_message_data::get_mutable(size_t pos) {
  return &values_[pos]; // every element starts its slot
}

caf::error packed_message_data::load(size_t pos, caf::deserializer& source) {
  return visit(pos, [&](auto& x) { return source(x); });
}

size_t packed_message_data::size() const noexcept {
  return size_;
}

uint32_t packed_message_data::type_token() const noexcept {
  return token_;
}

caf::rtti_pair packed_message_data::type(size_t pos) const noexcept {
  return {nrs_[pos], nullptr}; // a builtin type: its number names it
}

const void* packed_message_data::get(size_t pos) const noexcept {
  return &values_[pos];
}

std::string packed_message_data::stringify(size_t pos) const {
  std::string result;
  caf::detail::stringification_inspector f{result};
  visit(pos, [&](const auto& x) {
    auto copy = x;
    f(copy);
    return 0;
  });
  return result;
}

caf::type_erased_value_ptr packed_message_data::copy(size_t pos) const {
  return visit(pos, [](const auto& x) -> caf::type_erased_value_ptr {
    using type = std::decay_t<decltype(x)>;
    return caf::make_type_erased_value<type>(x);
  });
}

caf::error packed_message_data::save(size_t pos, caf::serializer& sink) const {
  return visit(pos, [&](const auto& x) {
    auto copy = x; // CAF's serialiser takes its arguments by non-const reference
    return sink(copy);
  });
}

} // namespace strata::nodes::internal
