// When kernel launches use programmatic dependent launch (common.cuh): on NVIDIA GPUs of compute
// capability 9.0 or later whose kernels in this module were compiled for sm_90 or later (the
// griddepcontrol instructions exist only there), unless HEARTH_GPU_PDL=0 (decided once per device),
// and while the calling thread's stream allows it (pdl_allow).
#include <array>
#include <atomic>
#include <cstdlib>

#include "backends/cuda/common.cuh"
#include "backends/cuda/ops.h"

namespace hearth::gpu {

#if !defined(HEARTH_GPU_HIP)
namespace {
__global__ void k_arch_probe() {}
}  // namespace
#endif

namespace {
thread_local bool t_allowed = true;
}  // namespace

void pdl_allow(bool yes) { t_allowed = yes; }

bool pdl_active() {
#if defined(HEARTH_GPU_HIP)
  return false;
#else
  if (!t_allowed) return false;
  static const bool allowed = [] {
    const char* e = std::getenv("HEARTH_GPU_PDL");
    return !(e && *e == '0');
  }();
  if (!allowed) return false;
  static std::array<std::atomic<int>, 64> known{};  // 0 not yet asked, 1 yes, 2 no
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= (int)known.size()) {
    (void)cudaGetLastError();
    return false;
  }
  int v = known[(size_t)dev].load(std::memory_order_relaxed);
  if (v == 0) {
    int major = 0;
    cudaFuncAttributes fa{};
    const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                    cudaFuncGetAttributes(&fa, k_arch_probe) == cudaSuccess;
    if (!ok) (void)cudaGetLastError();
    v = ok && major >= 9 && fa.binaryVersion >= 90 ? 1 : 2;
    known[(size_t)dev].store(v, std::memory_order_relaxed);
  }
  return v == 1;
#endif
}

}  // namespace hearth::gpu
