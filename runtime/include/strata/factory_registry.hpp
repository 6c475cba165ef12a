#pragma once

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_config.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/spawn_options.hpp>

#include "strata/child_spec.hpp"
#include "strata/detail/guarded_init.hpp"
#include "strata/error.hpp"
#include "strata/fault.hpp"
#include "strata/supervisor_spec.hpp"

namespace strata {

/// A registered way to start a child: its type and a spawn function. `spawn` starts the
/// actor unlinked and uninitialised, with the flags in `cfg` (e.g. detached for `thread`
/// placement); the supervisor then links it and runs the init handshake.
struct factory {
  using spawn_fn
    = std::function<caf::expected<caf::actor>(caf::actor_config& cfg, caf::message& args)>;
  child_type type = child_type::worker;
  spawn_fn spawn;
  /// For a worker: `spawn`, with the actor able to take injected faults and to count its
  /// mailbox (`detail::fault_injectable`, fault.hpp), used when the system accepts faults
  /// (`strata.observer.faults`) or serves an observer. Null for a supervisor, which always can.
  spawn_fn spawn_injectable;

  /// `spawn_injectable` if `wrapped` and there is one, else `spawn`.
  const spawn_fn& spawner(bool wrapped) const noexcept {
    return wrapped && spawn_injectable ? spawn_injectable : spawn;
  }
};

namespace detail {

/// Spawns a supervisor actor that builds its spec with `make_spec` during its init.
caf::actor spawn_supervisor(caf::actor_config& cfg, std::function<supervisor_spec()> make_spec);

/// The init behavior of a worker started from `fun` with the arguments in `args`.
template <class... Args, class Self, class F, size_t... Is>
caf::behavior guarded_worker_behavior(Self* self, const F& fun, const caf::message& args,
                                      std::index_sequence<Is...>) {
  return first_behavior(self, [fun, self, xs = std::make_tuple(args.get_as<Args>(Is)...)] {
    return call_user_init(fun, self, std::get<Is>(xs)...);
  });
}

template <class F, class... Args, size_t... Is>
std::function<supervisor_spec()>
bind_spec_fun(const F& fun, const caf::message& args, std::index_sequence<Is...>) {
  return [fun, args] { return fun(args.get_as<std::decay_t<Args>>(Is)...); };
}

} // namespace detail

/// Factories by name: OTP's `{M, F, A}` table. Filled before the actor system starts (through
/// `strata::config`), read-only afterwards, hence safe to read from any thread then.
class factory_registry {
public:
  /// Registers a worker: `fun` is a CAF function-based actor, `caf::behavior
  /// fun(caf::event_based_actor* self, Args...)` or `(caf::stateful_actor<State>* self, ...)`,
  /// returning a behavior or void. The same code runs under every placement. An exception
  /// thrown by `fun` fails the child's start; one thrown by a handler becomes its exit reason.
  template <class F>
  void add_worker(std::string name, F fun) {
    using args = typename caf::detail::get_callable_trait<F>::arg_types;
    add_worker_impl(std::move(name), std::move(fun), args{});
  }

  /// Registers a supervisor: `fun(Args...)` returns the `supervisor_spec` (OTP's `Mod:init/1`),
  /// called inside the new supervisor when it starts; an exception fails its start.
  template <class F>
  void add_supervisor(std::string name, F fun) {
    using args = typename caf::detail::get_callable_trait<F>::arg_types;
    add_supervisor_impl(std::move(name), std::move(fun), args{});
  }

  /// Returns the factory called `name`, or nullptr.
  const factory* find(const std::string& name) const;

  /// Returns the registered names (sorted).
  std::vector<std::string> names() const;

private:
  // Spawns a worker of class `Self` running `fun`, as `Impl`: `Self` or a class derived
  // from it.
  template <class Impl, class Self, class... Args, class F>
  static factory::spawn_fn worker_spawner(const F& fun, const std::string& name) {
    // What caf::make_actor_factory does for a function-based actor, minus what a restart
    // does not need: the arguments are read from the (shared) message, not from a private
    // copy of it (a non-const read of a message detaches it: one copy per spawn), and no set
    // of the handle's message types is built per spawn.
    return [fun, name](caf::actor_config& cfg, caf::message& args) -> caf::expected<caf::actor> {
      if (!args.match_elements<std::decay_t<Args>...>())
        return make_error(error::bad_arguments, name, caf::to_string(args));
      cfg.init_fun
        = caf::actor_config::init_fun_type{[fun, args](caf::local_actor* ptr) -> caf::behavior {
            auto self = static_cast<Self*>(ptr);
            return detail::guarded_worker_behavior<std::decay_t<Args>...>(
              self, fun, args, std::index_sequence_for<Args...>{});
          }};
      return cfg.host->system().spawn_class<Impl, caf::no_spawn_options>(cfg);
    };
  }

  template <class F, class Self, class... Args>
  void add_worker_impl(std::string name, F fun, caf::detail::type_list<Self, Args...>) {
    static_assert(std::is_pointer<Self>::value, "a worker's first parameter is its self pointer");
    using self_type = std::remove_pointer_t<Self>;
    factory f;
    f.type = child_type::worker;
    f.spawn = worker_spawner<self_type, self_type, Args...>(fun, name);
    // Only when the system accepts faults: taking the fault message before the behavior costs
    // every message of the worker ~6-11 ns (docs/design/chaos.md), which a system that does not
    // inject faults has no reason to pay.
    f.spawn_injectable
      = worker_spawner<detail::fault_injectable<self_type>, self_type, Args...>(fun, name);
    entries_[std::move(name)] = std::move(f);
  }

  template <class F, class... Args>
  void add_supervisor_impl(std::string name, F fun, caf::detail::type_list<Args...>) {
    factory f;
    f.type = child_type::supervisor;
    f.spawn = [fun, name](caf::actor_config& cfg, caf::message& args) -> caf::expected<caf::actor> {
      if (!args.match_elements<std::decay_t<Args>...>())
        return make_error(error::bad_arguments, name, caf::to_string(args));
      return detail::spawn_supervisor(
        cfg, detail::bind_spec_fun<F, Args...>(fun, args, std::index_sequence_for<Args...>{}));
    };
    entries_[std::move(name)] = std::move(f);
  }

  std::map<std::string, factory> entries_;
};

} // namespace strata
