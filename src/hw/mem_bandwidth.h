// Measured memory read bandwidth: what a decode step, which streams every weight once, can at best
// reach on this machine (benchmarks report their figures as a fraction of it).
#pragma once
#include <cstddef>

namespace hearth::hw {

struct bandwidth_result {
  double bytes_per_s = 0;  // best pass
  double mean_bytes_per_s = 0;
  int n_threads = 1;
  size_t buffer_bytes = 0;
};

// Reads a buffer of `bytes` (much larger than the caches) with n_threads threads, each streaming its
// own slice, `passes` times; returns the best and mean rates.
bandwidth_result measure_read_bandwidth(int n_threads, size_t bytes = size_t(512) << 20, int passes = 10);

}  // namespace hearth::hw
