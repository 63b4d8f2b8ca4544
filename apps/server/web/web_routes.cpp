// Serves the embedded web UI.
#include <httplib.h>

#include <algorithm>
#include <string>

#include "apps/server/web/web_assets.h"

namespace hearth::web {

namespace {

// The page may load and call only its own origin: no CDN, no fonts, no images from elsewhere.
constexpr const char* k_csp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void set_common_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", k_csp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      default: out += c;
    }
  }
  return out;
}

// httplib route patterns are regular expressions.
std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// Whether an Accept-Encoding header lists `coding` with a non-zero weight.
bool accepts(const std::string& header, std::string_view coding) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view item(header.data() + pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t semi = item.find(';');
    std::string_view name = item.substr(0, semi);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name == coding) {
      if (semi == std::string_view::npos) return true;
      std::string_view q = item.substr(semi + 1);
      while (!q.empty() && q.front() == ' ') q.remove_prefix(1);
      return !(q.rfind("q=0", 0) == 0 && q.find_first_of("123456789", 3) == std::string_view::npos);
    }
    pos = end + 1;
  }
  return false;
}

}  // namespace

const asset* find_asset(std::string_view url_path) {
  if (url_path == "/") url_path = "/index.html";
  for (const auto& a : assets())
    if (a.path == url_path) return &a;
  return nullptr;
}

void add_routes(httplib::Server& svr) {
  if (assets().empty()) {
    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
      set_common_headers(res);
      res.set_content("<!doctype html><meta charset=utf-8><title>Hearth</title><h1>Hearth</h1><p>This build of hearth has no web UI: " +
                          html_escape(missing_reason()) + "</p><p>The APIs work: <code>/v1/chat/completions</code>, <code>/api/models</code>, ...</p>",
                      "text/html; charset=utf-8");
    });
    return;
  }
  auto serve = [](const httplib::Request& req, httplib::Response& res) {
    const asset* a = find_asset(req.path);
    if (!a) return;  // not reached: only asset paths are routed here
    set_common_headers(res);
    res.set_header("Vary", "Accept-Encoding");
    const std::string ae = req.get_header_value("Accept-Encoding");
    std::string_view body = a->body;
    if (!a->body_brotli.empty() && accepts(ae, "br")) {
      body = a->body_brotli;
      res.set_header("Content-Encoding", "br");
    } else if (!a->body_gzip.empty() && accepts(ae, "gzip")) {
      body = a->body_gzip;
      res.set_header("Content-Encoding", "gzip");
    }
    // A sized content provider is sent as it is: httplib compresses only plain bodies.
    res.set_content_provider(body.size(), std::string(a->content_type),
                             [body](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(body.data() + offset, std::min(length, body.size() - offset));
                             });
  };
  svr.Get("/", serve);
  for (const auto& a : assets()) svr.Get(regex_escape(a.path), serve);
}

}  // namespace hearth::web
