#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "strata/nodes/cluster_token.hpp"

namespace strata::nodes {

/// The name of node `node_index`'s inbox segment in the cluster of `token`:
/// `strata-<token hex>-<node index>` (under /dev/shm on Linux). @threadsafe
std::string segment_name(const cluster_token& token, uint32_t node_index);

/// Removes every `strata-*` segment in /dev/shm whose header names an owner process that no
/// longer exists (`kill(pid, 0)` fails with ESRCH): the leftovers of nodes killed with
/// SIGKILL, which never ran their inbox's destructor. A cluster calls it when it starts.
///
/// Leaves alone segments whose owner lives, segments of other users (they cannot be opened),
/// and segments without a published header (creator killed inside `inbox::create`, within
/// microseconds of creating it): nothing in them names an owner whose death could be checked.
/// Pids are checked in this process's pid namespace; a pid reused by a new process keeps the
/// segment (never the other way round).
/// @returns the names removed, or `system_error` if /dev/shm cannot be listed. @threadsafe
[[nodiscard]] caf::expected<std::vector<std::string>> remove_stale_segments();

/// Removes every segment of the cluster of `token` (nodes' and spares' inboxes), whoever
/// owns it: for the cluster's own clean-up once its nodes are gone. Uses no thread.
/// @threadsafe
void remove_cluster_segments(const cluster_token& token);

} // namespace strata::nodes
