#pragma once

/// @file
/// Everything a strata user needs in one include.

#include "strata/atoms.hpp"
#include "strata/child_spec.hpp"
#include "strata/config.hpp"
#include "strata/error.hpp"
#include "strata/events.hpp"
#include "strata/names.hpp"
#include "strata/observe.hpp"
#include "strata/placement.hpp"
#include "strata/supervision_event.hpp"
#include "strata/supervisor.hpp"
#include "strata/supervisor_spec.hpp"
#include "strata/system.hpp"
