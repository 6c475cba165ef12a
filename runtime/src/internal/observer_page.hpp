#pragma once

// The observer's live page (`GET /`): HTML, CSS and script in one document, no external
// resources. docs/design/observer.md, "The live view".

#include <string>

namespace strata::internal {

/// The page. @threadsafe
const std::string& live_page();

} // namespace strata::internal
