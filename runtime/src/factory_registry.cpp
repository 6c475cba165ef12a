#include "strata/factory_registry.hpp"

namespace strata {

const factory* factory_registry::find(const std::string& name) const {
  auto i = entries_.find(name);
  return i == entries_.end() ? nullptr : &i->second;
}

std::vector<std::string> factory_registry::names() const {
  std::vector<std::string> result;
  result.reserve(entries_.size());
  for (const auto& entry : entries_)
    result.push_back(entry.first);
  return result;
}

} // namespace strata
