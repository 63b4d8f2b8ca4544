// Human-readable sizes, rates and durations, and the two renderings of a download's progress: a
// bar redrawn in place on a terminal, and plain lines for logs and pipes.
#pragma once
#include <cstdint>
#include <string>

#include "hub/download_manager.h"

namespace hearth::hub {

std::string format_bytes(uint64_t n);        // "812 B", "1.2 KiB", "3.4 GiB"
std::string format_rate(double bytes_per_sec);  // "12.3 MiB/s"
std::string format_duration(double seconds);    // "42s", "3m05s", "1h02m"; "--" when negative
std::string format_count(uint64_t n);           // parameter counts: "260K", "1.24B"

// One terminal line no wider than width columns (no newline, no control characters):
// "Qwen2.5-0.5B-Q4_K_M.gguf [1/2] [#####-------]  42%  120.3 MiB/1.2 GiB  12.3 MiB/s  ETA 1m30s"
std::string render_bar(const download_status& s, int width);
// A plain line: "Qwen2.5-0.5B-Q4_K_M.gguf: 42% 120.3 MiB of 1.2 GiB, 12.3 MiB/s, ETA 1m30s"
std::string render_plain(const download_status& s);

}  // namespace hearth::hub
