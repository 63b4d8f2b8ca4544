// The asset table of a build without the web UI (see CMakeLists.txt here for why it has none).
#include "apps/server/web/web_assets.h"

namespace hearth::web {

std::span<const asset> assets() { return {}; }

std::string_view missing_reason() { return HEARTH_WEB_MISSING; }

}  // namespace hearth::web
