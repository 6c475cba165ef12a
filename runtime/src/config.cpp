#include "strata/config.hpp"

#include <fstream>

#include <caf/actor_system.hpp>
#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "strata/error.hpp"
#include "strata/fault.hpp"
#include "strata/observe.hpp"
#include "strata/supervision_event.hpp"
#include "strata/supervisor.hpp"

#include "internal/events_channel.hpp"
#include "internal/observer_http.hpp"
#include "internal/scheduler.hpp"

namespace strata {

namespace {

constexpr caf::string_view placement_prefix = "--strata.placement.";
constexpr const char* placement_key = "strata.placement";

std::string render_error(uint8_t code, caf::atom_value, const caf::message& ctx) {
  return to_text(caf::error{code, error_category, ctx});
}

} // namespace

config::config() {
  add_message_type<child_spec>("strata::child_spec");
  add_message_type<supervision_event>("strata::supervision_event");
  add_message_type<child_info>("strata::child_info");
  add_message_type<std::vector<child_info>>("std::vector<strata::child_info>");
  add_message_type<child_counts>("strata::child_counts");
  add_message_type<supervisor_report>("strata::supervisor_report");
  add_message_type<fault_request>("strata::fault_request");
  add_error_category(error_category, render_error);
  opt_group{custom_options_, "strata"}.add<std::string>(
    "event-log", "append every supervision event to this file as JSON lines");
  opt_group{custom_options_, "strata.observer"}.add<std::string>(
    "listen", "serve /tree and /metrics over HTTP on [HOST:]PORT (127.0.0.1 unless named)");
  opt_group{custom_options_, "strata.observer"}.add<bool>(
    "faults", "let the observer inject faults (POST /fault, the chaos tool)");
  opt_group{custom_options_, "strata.scheduler"}.add<bool>(
    "stock", "use CAF's own scheduler instead of strata's (docs/design/scheduler.md)");
  module_factories.push_back(internal::make_scheduler);
  // An idle worker polls aggressively, then sleeps until woken. CAF's default polls 500
  // more times with 50 µs sleeps in between first (25 ms): on a machine with fewer cores
  // than workers those pollers take the CPU from the busy ones (a one_for_all restart of
  // 1,000: 10 against 6 ms; see docs/design/scheduler.md). Still overridable as usual.
  set("work-stealing.moderate-poll-attempts", 1);
}

caf::error config::parse(int argc, char** argv, const char* ini_file) {
  string_list args;
  if (argc > 1)
    args.assign(argv + 1, argv + argc);
  return parse(std::move(args), ini_file);
}

caf::error config::parse(string_list args, const char* ini_file) {
  // Mirrors caf::actor_system_config::parse(string_list, const char*) so that the config
  // file is opened the same way, then goes through our istream overload.
  if (ini_file != nullptr)
    config_file_path = ini_file;
  for (auto i = args.begin(); i != args.end(); ++i) {
    constexpr caf::string_view flag = "--config-file=";
    if (i->compare(0, flag.size(), flag.data()) == 0)
      config_file_path = i->substr(flag.size());
  }
  std::ifstream ini{config_file_path};
  return parse(std::move(args), ini);
}

caf::error config::parse(string_list args, std::istream& ini) {
  // CAF rejects options it does not know, and child ids are not known in advance: take the
  // placement overrides out, let CAF parse the rest, then store them where a config file
  // puts them (the command line wins, as it does in CAF).
  string_list rest;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (auto& arg : args) {
    if (arg.compare(0, placement_prefix.size(), placement_prefix.data()) != 0) {
      rest.emplace_back(std::move(arg));
      continue;
    }
    auto eq = arg.find('=');
    auto id = arg.substr(placement_prefix.size(), eq == std::string::npos
                                                    ? std::string::npos
                                                    : eq - placement_prefix.size());
    if (eq == std::string::npos || id.empty())
      return make_error(error::invalid_config, arg,
                        "expected --strata.placement.<child-id>=task|thread|process");
    overrides.emplace_back(std::move(id), arg.substr(eq + 1));
  }
  if (auto err = caf::actor_system_config::parse(std::move(rest), ini))
    return err;
  for (auto& [id, value] : overrides) {
    auto where = parse_placement(value);
    if (!where)
      return make_error(error::invalid_config, "strata.placement." + id, to_text(where.error()));
    set_placement(id, *where);
  }
  if (auto err = check_placements())
    return err;
  return check_observer();
}

caf::error config::check_observer() const {
  if (auto listen = observer_listen(); !listen.empty())
    if (auto where = internal::parse_listen(listen); !where)
      return std::move(where.error());
  return caf::none;
}

caf::error config::check_placements() const {
  auto entries = caf::get_if<caf::settings>(&content, placement_key);
  if (!entries)
    return caf::none;
  for (const auto& [id, value] : *entries) {
    auto text = caf::get_if<std::string>(&value);
    if (text == nullptr)
      return make_error(error::invalid_config, "strata.placement." + id,
                        "expected a string: task, thread or process");
    if (auto where = parse_placement(*text); !where)
      return make_error(error::invalid_config, "strata.placement." + id, to_text(where.error()));
  }
  return caf::none;
}

config& config::set_placement(const std::string& child_id, placement where) {
  caf::put(content, std::string{placement_key} + "." + child_id, to_string(where));
  return *this;
}

caf::expected<placement> config::placement_for(const std::string& child_id,
                                               placement fallback) const {
  auto entries = caf::get_if<caf::settings>(&content, placement_key);
  if (!entries)
    return fallback;
  auto i = entries->find(child_id);
  if (i == entries->end())
    return fallback;
  auto text = caf::get_if<std::string>(&i->second);
  if (text == nullptr)
    return make_error(error::invalid_config, "strata.placement." + child_id,
                      "expected a string: task, thread or process");
  return parse_placement(*text);
}

config& config::set_placement_provider(std::shared_ptr<placement_provider> provider) {
  provider_ = std::move(provider);
  return *this;
}

std::string config::event_log_path() const {
  return caf::get_or(content, "strata.event-log", std::string{});
}

config& config::set_event_log(const std::string& path) {
  caf::put(content, "strata.event-log", path);
  return *this;
}

config& config::set_observer_listen(const std::string& listen) {
  caf::put(content, "strata.observer.listen", listen);
  return *this;
}

std::string config::observer_listen() const {
  return caf::get_or(content, "strata.observer.listen", std::string{});
}

config& config::set_observer_faults(bool enabled) {
  caf::put(content, "strata.observer.faults", enabled);
  return *this;
}

bool config::observer_faults() const {
  return caf::get_or(content, "strata.observer.faults", false);
}

config& config::set_observed_elsewhere(bool yes) {
  observed_elsewhere_ = yes;
  return *this;
}

bool config::observed() const {
  return observed_elsewhere_ || !observer_listen().empty();
}

bool config::wrap_workers() const {
  return observer_faults() || observed();
}

caf::group config::events_channel(caf::actor_system& sys) const {
  std::lock_guard<std::mutex> guard{events_mtx_};
  if (!events_ || events_sys_ != &sys) {
    events_ = std::make_shared<internal::events_module>(sys);
    events_sys_ = &sys;
  }
  return caf::group{&events_->channel()};
}

void config::stop_events() const {
  std::lock_guard<std::mutex> guard{events_mtx_};
  if (events_)
    events_->stop();
}

caf::expected<const config*> strata_config(caf::actor_system& sys) {
  if (auto cfg = dynamic_cast<const config*>(&sys.config()))
    return cfg;
  return make_error(error::not_a_strata_system,
                    "the actor system was not created from a strata::config");
}

placement_provider::~placement_provider() = default;

caf::error placement_provider::before_start(config&) {
  return caf::none;
}

void placement_provider::started(caf::actor_system&) {
  // nop
}

void placement_provider::stopping(caf::actor_system&) {
  // nop
}

void placement_provider::start(caf::event_based_actor* self, const child_spec& child,
                               child_type type, start_handler done) {
  done(spawn(self->system(), child, type), false);
}

std::vector<placement_provider::node_traffic> placement_provider::traffic() const {
  return {};
}

std::vector<int64_t> placement_provider::mailbox_depths(const std::vector<caf::actor>& children,
                                                        caf::timespan) {
  return std::vector<int64_t>(children.size(), -1);
}

caf::expected<int> placement_provider::signal_process(const caf::actor&, int) {
  return make_error(error::placement_unavailable, "this placement provider signals no process");
}

} // namespace strata
