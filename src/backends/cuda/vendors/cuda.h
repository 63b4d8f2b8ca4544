// The CUDA side of the portability layer: gpu* names mapped onto the CUDA runtime. The backend's
// sources only use these names, so the same files build libhearth-cuda.so (nvcc) and
// libhearth-rocm.so (hipcc, vendors/hip.h).
#pragma once
#include <cuda_runtime_api.h>

#define HEARTH_GPU_API "cuda"

using gpuError_t = cudaError_t;
using gpuStream_t = cudaStream_t;
using gpuGraph_t = cudaGraph_t;
using gpuGraphExec_t = cudaGraphExec_t;
using gpuEvent_t = cudaEvent_t;
using gpuDeviceProp = cudaDeviceProp;
constexpr gpuError_t gpuSuccess = cudaSuccess;
constexpr auto gpuMemcpyHostToDevice = cudaMemcpyHostToDevice;
constexpr auto gpuMemcpyDeviceToHost = cudaMemcpyDeviceToHost;
constexpr auto gpuMemcpyDeviceToDevice = cudaMemcpyDeviceToDevice;
constexpr auto gpuStreamNonBlocking = cudaStreamNonBlocking;

#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDevice cudaGetDevice
#define gpuSetDevice cudaSetDevice
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuMemGetInfo cudaMemGetInfo
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMallocHost(p, n) cudaMallocHost(p, n)
#define gpuFreeHost cudaFreeHost
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemset cudaMemset
#define gpuMemsetAsync cudaMemsetAsync
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuStreamDestroy cudaStreamDestroy
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define gpuDriverGetVersion cudaDriverGetVersion
#define gpuRuntimeGetVersion cudaRuntimeGetVersion
#define gpuGraphLaunch cudaGraphLaunch
#define gpuGraphDestroy cudaGraphDestroy
#define gpuGraphExecDestroy cudaGraphExecDestroy
#define gpuEventCreate cudaEventCreate
#define gpuEventDestroy cudaEventDestroy
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuStreamEndCapture cudaStreamEndCapture

inline gpuError_t gpuStreamBeginCaptureRelaxed(gpuStream_t s) { return cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed); }
inline gpuError_t gpuGraphInstantiateSimple(gpuGraphExec_t* exec, gpuGraph_t g) { return cudaGraphInstantiate(exec, g, 0); }
// Updates exec in place to g's parameters; fails (and the caller re-instantiates) when the
// topology differs.
inline bool gpuGraphExecUpdateOk(gpuGraphExec_t exec, gpuGraph_t g) {
  cudaGraphExecUpdateResultInfo info;
  const bool ok = cudaGraphExecUpdate(exec, g, &info) == cudaSuccess;
  if (!ok) (void)cudaGetLastError();
  return ok;
}
inline int gpuMemoryClockKhz(int dev) { int v = 0; cudaDeviceGetAttribute(&v, cudaDevAttrMemoryClockRate, dev); return v; }
inline int gpuMemoryBusWidth(int dev) { int v = 0; cudaDeviceGetAttribute(&v, cudaDevAttrGlobalMemoryBusWidth, dev); return v; }
// Lets kernel f use up to bytes of dynamic shared memory (beyond the default 48 KiB); the most a
// block of device dev may use that way.
inline bool gpuAllowSharedBytes(const void* f, int bytes) { return cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) == cudaSuccess; }
inline int gpuMaxSharedBytes(int dev) { int v = 0; (void)cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev); return v; }
inline const char* gpuVisibleDevicesVar() { return "CUDA_VISIBLE_DEVICES"; }
