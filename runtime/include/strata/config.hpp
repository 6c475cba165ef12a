#pragma once

#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>

#include <caf/actor_system_config.hpp>
#include <caf/group.hpp>

#include "strata/factory_registry.hpp"
#include "strata/placement.hpp"
#include "strata/placement_provider.hpp"

namespace strata {

namespace internal {
class events_module;
} // namespace internal

/// The configuration of a strata system: CAF's `actor_system_config` (so every CAF option,
/// config file and command-line flag keeps working) plus strata's factories and options:
/// - `--strata.placement.<child-id>=task|thread|process` overrides a child's placement, on
///   the command line or in the config file (`[strata.placement]` then `<child-id>="thread"`);
/// - `--strata.event-log=<file>` writes every supervision event to `file` as JSON lines;
/// - `--strata.observer.listen=[HOST:]PORT` serves the live tree over HTTP (the live page at
///   `/`, `/tree`, `/metrics`; docs/design/observer.md), on 127.0.0.1 unless a host is named;
///   port 0 takes any free port (`strata::system::observer_port()` tells which); workers are
///   then spawned counting their mailbox, at a few ns per message;
/// - `--strata.observer.faults` makes the system accept faults (`inject_fault_atom`, fault.hpp)
///   and the observer inject them (`POST /fault`, the chaos tool: docs/design/chaos.md);
///   workers are then spawned able to take them, at a few ns per message. Off by default:
///   with it, any local user who can reach the port can crash children, and with
///   `allow_process_exit` the process itself.
/// Fill it (factories, options) on one thread before creating the `strata::system`.
class config : public caf::actor_system_config {
public:
  config();

  /// Registers a worker factory (see `factory_registry::add_worker`).
  template <class F>
  config& add_worker(std::string name, F fun) {
    factories_.add_worker(std::move(name), std::move(fun));
    return *this;
  }

  /// Registers a supervisor factory (see `factory_registry::add_supervisor`).
  template <class F>
  config& add_supervisor(std::string name, F fun) {
    factories_.add_supervisor(std::move(name), std::move(fun));
    return *this;
  }

  /// The registered factories. @threadsafe once the system runs (read-only then).
  const factory_registry& factories() const noexcept {
    return factories_;
  }

  /// Parses the command line and the config file like CAF does, after taking out
  /// `--strata.placement.<id>=<placement>` arguments, which CAF would reject as unknown.
  /// @returns `error::invalid_config` for a malformed placement, or CAF's parse error.
  [[nodiscard]] caf::error parse(int argc, char** argv, const char* ini_file = nullptr);
  [[nodiscard]] caf::error parse(string_list args, const char* ini_file = nullptr);
  [[nodiscard]] caf::error parse(string_list args, std::istream& ini);

  /// Overrides the placement of every child with this id, as `--strata.placement.<id>` does.
  config& set_placement(const std::string& child_id, placement where);

  /// Returns the placement for child `child_id`: the configured override, else `fallback`.
  /// @returns `error::invalid_config` when the configured value is not a placement.
  /// @threadsafe once the system runs.
  [[nodiscard]] caf::expected<placement> placement_for(const std::string& child_id,
                                                       placement fallback) const;

  /// Installs the provider of `process` placement (strata::nodes does this).
  config& set_placement_provider(std::shared_ptr<placement_provider> provider);

  /// Returns the provider of `process` placement, or nullptr. @threadsafe
  placement_provider* provider() const noexcept {
    return provider_.get();
  }

  /// Path of the JSON-lines event log (`strata.event-log`), empty when off.
  std::string event_log_path() const;

  /// Writes every supervision event to `path` (empty: no log), as `--strata.event-log` does.
  config& set_event_log(const std::string& path);

  /// Serves the observer on `listen`, as `--strata.observer.listen` does (checked when the
  /// system starts: a bad value is reported by `strata::system::observer_error()`).
  config& set_observer_listen(const std::string& listen);

  /// Where the observer listens (`strata.observer.listen`), empty when off.
  std::string observer_listen() const;

  /// Makes the system accept faults and the observer inject them (`POST /fault`), as
  /// `--strata.observer.faults` does.
  config& set_observer_faults(bool enabled);

  /// Whether the observer injects faults (`strata.observer.faults`); false by default.
  bool observer_faults() const;

  /// Makes this system's workers count their mailboxes for an observer that runs in another
  /// process and asks this one (strata::nodes sets it in a node of an observed root).
  config& set_observed_elsewhere(bool yes);

  /// Whether an observer shows this system's tree: one served here (`observer_listen`) or
  /// one elsewhere (`set_observed_elsewhere`). Workers then count their mailboxes.
  bool observed() const;

  /// Whether strata spawns its workers wrapped (`factory::spawner`): able to take faults and
  /// counting their mailboxes, when faults are accepted or the tree is observed.
  bool wrap_workers() const;

  /// The channel of `sys`'s supervision events (`strata::events_group`). @threadsafe
  caf::group events_channel(caf::actor_system& sys) const;

  /// Drops the event channel's subscribers; `strata::system` calls it as it shuts down.
  /// @threadsafe
  void stop_events() const;

private:
  caf::error check_placements() const;
  caf::error check_observer() const;

  mutable std::mutex events_mtx_;
  mutable std::shared_ptr<internal::events_module> events_;
  mutable caf::actor_system* events_sys_ = nullptr;

  factory_registry factories_;
  std::shared_ptr<placement_provider> provider_;
  bool observed_elsewhere_ = false;
};

/// Returns the `strata::config` that `sys` was created from.
/// @returns `error::not_a_strata_system` when `sys` uses another config type.
caf::expected<const config*> strata_config(caf::actor_system& sys);

} // namespace strata
