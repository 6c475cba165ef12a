#include "strata/events.hpp"

#include <fstream>
#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/group_manager.hpp>
#include <caf/scoped_actor.hpp>

#include "strata/atoms.hpp"
#include "strata/config.hpp"
#include "strata/error.hpp"

namespace strata {

namespace {

constexpr const char* events_group_name = "strata.events";

} // namespace

caf::group events_group(caf::actor_system& sys) {
  if (auto cfg = dynamic_cast<const config*>(&sys.config()))
    return cfg->events_channel(sys);
  return sys.groups().get_local(events_group_name);
}

caf::expected<caf::actor> start_event_log(caf::actor_system& sys, const std::string& path) {
  auto out = std::make_shared<std::ofstream>(path, std::ios::app);
  if (!out->is_open())
    return make_error(error::invalid_config, "strata.event-log",
                      "cannot open '" + path + "' for appending");
  using stream_ptr = std::shared_ptr<std::ofstream>;
  auto writer = [](caf::event_based_actor* self, stream_ptr out) -> caf::behavior {
    subscribe(self);
    return {
      [out](const supervision_event& ev) {
        // One line per event, flushed, so the file can be tailed while the tree runs.
        *out << to_json_line(ev) << '\n' << std::flush;
      },
      [](ok_atom) {
        // A round trip proving init (and so the join) happened; see below.
        return ok_atom::value;
      },
      [self](stop_atom) {
        // Answered after every event queued before it was written.
        self->quit();
        return ok_atom::value;
      },
    };
  };
  // Hidden: the log is infrastructure, not one of the user's actors.
  // `out` goes in as a spawn argument: CAF 0.17 spawning a function actor with no arguments
  // binds a reference through a null shared_ptr<tuple<>> (UBSan reports it).
  auto log = sys.spawn<caf::hidden>(writer, std::move(out));
  // The actor joins the group in its init, which runs before it handles its first message:
  // one round trip, and no event published after this function returns can be missed.
  caf::scoped_actor self{sys};
  caf::error err;
  self->request(log, caf::infinite, ok_atom::value)
    .receive([](ok_atom) {}, [&](caf::error& e) { err = std::move(e); });
  if (err)
    return err;
  return log;
}

} // namespace strata
