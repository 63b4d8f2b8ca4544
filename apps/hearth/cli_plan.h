// Printing an offload plan (`hearth load MODEL --estimate`): per device the layers, weights, KV
// cache, compute buffers and the headroom left, as a table or JSON.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "model/planner.h"

namespace hearth::cli {

std::string format_plan(const offload_plan& p);
nlohmann::json plan_to_json(const offload_plan& p);

}  // namespace hearth::cli
