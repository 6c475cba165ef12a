#include "strata/error.hpp"

#include <map>
#include <mutex>

#include <caf/exit_reason.hpp>
#include <caf/pec.hpp>
#include <caf/sec.hpp>

namespace strata {

std::string to_string(error x) {
  switch (x) {
    case error::none: return "none";
    case error::invalid_spec: return "invalid_spec";
    case error::unknown_factory: return "unknown_factory";
    case error::bad_arguments: return "bad_arguments";
    case error::start_failed: return "start_failed";
    case error::exception: return "exception";
    case error::already_started: return "already_started";
    case error::already_present: return "already_present";
    case error::not_found: return "not_found";
    case error::running: return "running";
    case error::restarting: return "restarting";
    case error::simple_one_for_one: return "simple_one_for_one";
    case error::placement_unavailable: return "placement_unavailable";
    case error::invalid_config: return "invalid_config";
    case error::shutdown: return "shutdown";
    case error::not_a_strata_system: return "not_a_strata_system";
    case error::timeout: return "timeout";
    case error::name_taken: return "name_taken";
    case error::name_not_found: return "name_not_found";
    case error::fault_refused: return "fault_refused";
  }
  return "error(" + std::to_string(static_cast<int>(x)) + ")";
}

bool is(const caf::error& err, error code) noexcept {
  // CAF 0.17: code() and category() dereference the error's data, null for an empty error.
  return err && err.category() == error_category && err.code() == static_cast<uint8_t>(code);
}

namespace {

// Joins the context's elements as plain text: strings unquoted, others as CAF prints them.
std::string context_text(const caf::message& ctx) {
  std::string out;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (i > 0)
      out += ": ";
    if (ctx.match_element<std::string>(i))
      out += ctx.get_as<std::string>(i);
    else
      out += ctx.cvals()->stringify(i);
  }
  return out;
}

} // namespace

namespace {

struct category_names {
  std::mutex mtx; // guards names
  std::map<caf::atom_value, std::string (*)(uint8_t)> names;
};

category_names& registered() {
  static category_names instance;
  return instance;
}

// The name of `code` in a registered category, or an empty string.
std::string registered_name(caf::atom_value category, uint8_t code) {
  auto& r = registered();
  std::string (*name_of)(uint8_t) = nullptr;
  {
    std::lock_guard<std::mutex> guard{r.mtx};
    auto i = r.names.find(category);
    if (i != r.names.end())
      name_of = i->second;
  }
  return name_of != nullptr ? name_of(code) : std::string{};
}

} // namespace

void register_error_category(caf::atom_value category, std::string (*name_of)(uint8_t code)) {
  auto& r = registered();
  std::lock_guard<std::mutex> guard{r.mtx};
  r.names[category] = name_of;
}

std::string to_text(const caf::error& err) {
  if (!err)
    return "normal";
  std::string name;
  if (err.category() == error_category)
    name = to_string(static_cast<error>(err.code()));
  else if (err.category() == caf::atom("system"))
    name = caf::to_string(static_cast<caf::sec>(err.code()));
  else if (err == caf::exit_reason::user_shutdown)
    name = "shutdown"; // OTP's name for a deliberate stop
  else if (err == caf::exit_reason::kill)
    name = "killed"; // OTP's name for the reason of a process killed with `kill`
  else if (err.category() == caf::atom("exit"))
    name = caf::to_string(static_cast<caf::exit_reason>(err.code()));
  else if (err.category() == caf::atom("parser"))
    name = caf::to_string(static_cast<caf::pec>(err.code()));
  else if (auto known = registered_name(err.category(), err.code()); !known.empty())
    name = std::move(known);
  else
    name = caf::to_string(err.category()) + ":" + std::to_string(err.code());
  auto ctx = context_text(err.context());
  return ctx.empty() ? name : name + ": " + ctx;
}

} // namespace strata
