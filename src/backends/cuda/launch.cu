// When kernel launches use programmatic dependent launch (common.cuh): on NVIDIA GPUs of compute
// capability 9.0 or later whose kernels in this module were compiled for sm_90 or later (the
// griddepcontrol instructions exist only there), unless HEARTH_GPU_PDL=0 (decided once per device),
// and while the calling thread's stream allows it (pdl_allow).
#include "backends/cuda/common.cuh"
#include "backends/cuda/ops.h"

namespace hearth::gpu {

#if !defined(HEARTH_GPU_HIP)
namespace {
__global__ void k_arch_probe() {}

// 1 when device dev runs this module's griddepcontrol instructions (a GPU of compute capability 9.0
// or later, kernels compiled for sm_90 or later), 2 otherwise.
int pdl_supported(int dev) {
  int major = 0;
  cudaFuncAttributes fa{};
  const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                  cudaFuncGetAttributes(&fa, k_arch_probe) == cudaSuccess;
  if (!ok) (void)cudaGetLastError();
  return ok && major >= 9 && fa.binaryVersion >= 90 ? 1 : 2;
}
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
  static const bool allowed = !env_is("HEARTH_GPU_PDL", "0");
  return allowed && per_device<pdl_supported>(2) == 1;
#endif
}

}  // namespace hearth::gpu
