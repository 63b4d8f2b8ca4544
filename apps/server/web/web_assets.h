// The web chat UI (apps/server/web), embedded into the program at build time, and the routes that
// serve it at / from `hearth serve`.
#pragma once
#include <span>
#include <string_view>

namespace httplib {
class Server;
}

namespace hearth::web {

struct asset {
  std::string_view path;          // URL path: "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
  std::string_view body_gzip;    // the same, gzip-compressed; empty when it would not be smaller
  std::string_view body_brotli;  // the same, brotli-compressed; empty when it would not be smaller
};

// Every file of the UI; empty when this build has none (HEARTH_WEB=OFF, or no npm packages).
std::span<const asset> assets();
// Why assets() is empty ("" when it is not).
std::string_view missing_reason();
// The file served at a URL path ("/" is "/index.html"); nullptr when there is none.
const asset* find_asset(std::string_view url_path);

// GET / and every asset path. Without a UI, / answers a page saying how to build it. Headers keep
// the page to its own origin (Content-Security-Policy) and make the browser revalidate. Files go
// out compressed at build time when the client accepts it.
void add_routes(httplib::Server& svr);

}  // namespace hearth::web
