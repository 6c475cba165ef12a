#include "strata/names.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "strata/atoms.hpp"
#include "strata/error.hpp"

#include "internal/blocking_call.hpp"

namespace strata {

namespace {

struct name_server_state {
  std::unordered_map<std::string, caf::actor> names;
  // Names per registered actor, to drop them all when it exits (an actor may hold several).
  std::map<caf::actor_addr, std::vector<std::string>> by_actor;
};

// Drops every name `who` holds.
void forget(name_server_state& st, const caf::actor_addr& who) {
  auto i = st.by_actor.find(who);
  if (i == st.by_actor.end())
    return;
  for (auto& name : i->second)
    st.names.erase(name);
  st.by_actor.erase(i);
}

// The live actor holding `name`, or null. A holder that has ended (its exit is done, or its
// proxy was killed: both happen before its links and monitors hear of it) holds nothing,
// even before our monitor's down_msg arrives: as in OTP, a name is free once its process is
// dead, so a supervisor's restarted child can register the name of the one it replaces.
const caf::actor* holder(caf::stateful_actor<name_server_state>* self, const std::string& name) {
  auto& st = self->state;
  auto i = st.names.find(name);
  if (i == st.names.end())
    return nullptr;
  auto* who = caf::actor_cast<caf::abstract_actor*>(i->second);
  if (!who->getf(caf::abstract_actor::is_cleaned_up_flag))
    return &i->second;
  auto addr = i->second.address();
  self->demonitor(addr);
  forget(st, addr);
  return nullptr;
}

caf::behavior name_server_impl(caf::stateful_actor<name_server_state>* self, int) {
  // A registered actor's exit (or its node's loss, which kills its proxy) frees its names.
  self->set_down_handler([self](caf::down_msg& msg) { forget(self->state, msg.source); });
  return {
    [self](register_name_atom, const std::string& name,
           const caf::actor& who) -> caf::result<ok_atom> {
      if (name.empty() || who == nullptr)
        return make_error(error::invalid_spec, "register_name needs a name and an actor");
      if (holder(self, name) != nullptr)
        return make_error(error::name_taken, name);
      self->state.names.emplace(name, who);
      auto& held = self->state.by_actor[who.address()];
      if (held.empty())
        self->monitor(who); // a dead actor's down_msg comes at once
      held.push_back(name);
      return ok_atom::value;
    },
    [self](whereis_atom, const std::string& name) -> caf::result<caf::actor> {
      if (auto* who = holder(self, name))
        return *who;
      return make_error(error::name_not_found, name);
    },
    [self](unregister_name_atom, const std::string& name) -> caf::result<ok_atom> {
      auto* who = holder(self, name);
      if (who == nullptr)
        return make_error(error::name_not_found, name);
      auto addr = who->address();
      self->state.names.erase(name);
      auto& held = self->state.by_actor[addr];
      held.erase(std::remove(held.begin(), held.end(), name), held.end());
      if (held.empty()) {
        self->demonitor(addr);
        self->state.by_actor.erase(addr);
      }
      return ok_atom::value;
    },
  };
}

template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, call_timeout timeout, const char* what, Ts&&... xs) {
  auto server = name_server(sys);
  if (server == nullptr)
    return make_error(error::not_a_strata_system, std::string{what});
  return internal::blocking_call<T>(server, timeout, what, std::forward<Ts>(xs)...);
}

} // namespace

caf::actor name_server(caf::actor_system& sys) {
  return caf::actor_cast<caf::actor>(sys.registry().get(name_server_key));
}

caf::error register_name(caf::actor_system& sys, const std::string& name, const caf::actor& who,
                         call_timeout timeout) {
  auto res = ask<ok_atom>(sys, timeout, "register_name", register_name_atom::value, name, who);
  return res ? caf::error{} : std::move(res.error());
}

caf::expected<caf::actor> whereis(caf::actor_system& sys, const std::string& name,
                                  call_timeout timeout) {
  return ask<caf::actor>(sys, timeout, "whereis", whereis_atom::value, name);
}

caf::error unregister_name(caf::actor_system& sys, const std::string& name, call_timeout timeout) {
  auto res = ask<ok_atom>(sys, timeout, "unregister_name", unregister_name_atom::value, name);
  return res ? caf::error{} : std::move(res.error());
}

namespace detail {

caf::actor start_name_server(caf::actor_system& sys) {
  // Hidden: infrastructure, not a user actor. The unused argument avoids CAF 0.17's null
  // shared_ptr<tuple<>> for function actors spawned without arguments.
  auto server = sys.spawn<caf::hidden>(name_server_impl, 0);
  sys.registry().put(name_server_key, caf::actor_cast<caf::strong_actor_ptr>(server));
  return server;
}

void use_name_server(caf::actor_system& sys, const caf::actor& server) {
  auto old = name_server(sys);
  // CAF's named registry never overwrites an entry: erase, then put.
  sys.registry().erase(name_server_key);
  sys.registry().put(name_server_key, caf::actor_cast<caf::strong_actor_ptr>(server));
  if (old != nullptr && old != server && old->node() == sys.node())
    caf::anon_send_exit(old, caf::exit_reason::user_shutdown);
}

void stop_name_server(caf::actor_system& sys) {
  auto server = name_server(sys);
  sys.registry().erase(name_server_key);
  if (server != nullptr && server->node() == sys.node())
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
}

} // namespace detail

} // namespace strata
