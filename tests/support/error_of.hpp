#pragma once

// `caf::expected<T>::error()` on an expected that holds a value reads the value as an error
// (CAF 0.17 only asserts in debug builds of CAF): undefined behaviour, which ThreadSanitizer
// caught as a race on the actor a `whereis` had found. Tests that check for an error ask
// `error_of(x)` instead: the error, or an empty one when `x` holds a value.

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace strata::test {

template <class T>
caf::error error_of(const caf::expected<T>& x) {
  return x ? caf::error{} : x.error();
}

} // namespace strata::test
