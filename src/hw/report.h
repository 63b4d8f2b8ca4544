// The survey for people (text, as `hearth hw` prints it) and for scripts (JSON, `hearth hw --json`).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "hw/survey.h"

namespace hearth::hw {

nlohmann::json to_json(const api_device_view& v);
nlohmann::json to_json(const memory_budget& b);
nlohmann::json to_json(const device_verdict& v);
nlohmann::json to_json(const hw_survey& s);
std::string format_survey(const hw_survey& s);

}  // namespace hearth::hw
