#include "hub/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hearth::hub {

std::string format_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  if (u == 0) return fmt::format("{} B", n);
  if (v < 10) return fmt::format("{:.2f} {}", v, units[u]);
  if (v < 100) return fmt::format("{:.1f} {}", v, units[u]);
  return fmt::format("{:.0f} {}", v, units[u]);
}

std::string format_rate(double bps) { return format_bytes((uint64_t)std::max(0.0, bps)) + "/s"; }

std::string format_duration(double s) {
  if (s < 0 || !std::isfinite(s)) return "--";
  const uint64_t t = (uint64_t)std::llround(s);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  if (t < 100 * 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  return fmt::format("{}d{:02}h", t / 86400, (t / 3600) % 24);
}

std::string format_count(uint64_t n) {
  if (n < 1000) return std::to_string(n);
  const char* units[] = {"K", "M", "B", "T"};
  double v = (double)n;
  int u = -1;
  while (v >= 1000 && u < 3) v /= 1000, ++u;
  if (v < 10) return fmt::format("{:.2f}{}", v, units[u]);
  if (v < 100) return fmt::format("{:.1f}{}", v, units[u]);
  return fmt::format("{:.0f}{}", v, units[u]);
}

namespace {
std::string current_name(const download_status& s) {
  if (s.files.empty()) return s.spec;
  const size_t i = std::min(s.current_file, s.files.size() - 1);
  std::string name = s.files[i].name;
  if (s.files.size() > 1) name += fmt::format(" [{}/{}]", i + 1, s.files.size());
  return name;
}

// What the line says after the name and bar: percentage, bytes, speed, ETA (or the phase).
std::string figures(const download_status& s, bool plain) {
  const uint64_t total = s.total_bytes;
  if (s.state == job_state::queued) return "queued";
  if (s.state == job_state::resolving) return "resolving";
  if (s.state == job_state::verifying) {
    const uint64_t ft = s.files.empty() ? 0 : s.files[std::min(s.current_file, s.files.size() - 1)].total_bytes;
    const int pct = ft ? (int)(100.0 * (double)s.verified_bytes / (double)ft) : 0;
    return fmt::format("verifying SHA-256 {}%", pct);
  }
  const int pct = total ? (int)std::min<uint64_t>(100, 100 * s.done_bytes / total) : 0;
  std::string out = plain ? fmt::format("{}% {} of {}", pct, format_bytes(s.done_bytes), format_bytes(total))
                          : fmt::format("{:3}%  {}/{}", pct, format_bytes(s.done_bytes), format_bytes(total));
  if (s.state == job_state::completed) return out + (plain ? ", done" : "  done");
  out += (plain ? ", " : "  ") + format_rate(s.bytes_per_sec);
  out += (plain ? ", ETA " : "  ETA ") + format_duration(s.eta_seconds);
  return out;
}
}  // namespace

std::string render_bar(const download_status& s, int width) {
  width = std::max(width, 20);
  std::string name = current_name(s);
  const std::string right = figures(s, false);
  // Name, a bar of at least 10 cells, the figures; the name is shortened first.
  const int bar_cells = std::clamp(width - (int)right.size() - 4 - 24, 10, 40);
  const int name_room = std::max(8, width - bar_cells - 4 - (int)right.size());
  if ((int)name.size() > name_room) name = name.substr(0, name_room - 3) + "...";
  const double frac = s.total_bytes ? std::min(1.0, (double)s.done_bytes / (double)s.total_bytes) : 0.0;
  const int filled = (int)std::floor(frac * bar_cells + 1e-9);
  std::string line = name + " [" + std::string(filled, '#') + std::string(bar_cells - filled, '-') + "] " + right;
  if ((int)line.size() > width) line.resize(width);
  return line;
}

std::string render_plain(const download_status& s) { return current_name(s) + ": " + figures(s, true); }

}  // namespace hearth::hub
