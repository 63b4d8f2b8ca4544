// The HIP (ROCm) side of the portability layer: the gpu* names of vendors/cuda.h mapped onto the
// HIP runtime, for libhearth-rocm.so built by hipcc from the same sources.
#pragma once
#ifndef __HIP_PLATFORM_AMD__
#define __HIP_PLATFORM_AMD__
#endif
#include <hip/hip_runtime_api.h>

#define HEARTH_GPU_API "rocm"

using gpuError_t = hipError_t;
using gpuStream_t = hipStream_t;
using gpuGraph_t = hipGraph_t;
using gpuGraphExec_t = hipGraphExec_t;
using gpuEvent_t = hipEvent_t;
using gpuDeviceProp = hipDeviceProp_t;
constexpr gpuError_t gpuSuccess = hipSuccess;
constexpr auto gpuMemcpyHostToDevice = hipMemcpyHostToDevice;
constexpr auto gpuMemcpyDeviceToHost = hipMemcpyDeviceToHost;
constexpr auto gpuMemcpyDeviceToDevice = hipMemcpyDeviceToDevice;
constexpr auto gpuStreamNonBlocking = hipStreamNonBlocking;

#define gpuGetErrorString hipGetErrorString
#define gpuGetLastError hipGetLastError
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuGetDevice hipGetDevice
#define gpuSetDevice hipSetDevice
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuMemGetInfo hipMemGetInfo
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMallocHost(p, n) hipHostMalloc(p, n, 0)
#define gpuFreeHost hipHostFree
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemset hipMemset
#define gpuMemsetAsync hipMemsetAsync
#define gpuStreamCreateWithFlags hipStreamCreateWithFlags
#define gpuStreamDestroy hipStreamDestroy
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuDeviceSynchronize hipDeviceSynchronize
#define gpuDriverGetVersion hipDriverGetVersion
#define gpuRuntimeGetVersion hipRuntimeGetVersion
#define gpuGraphLaunch hipGraphLaunch
#define gpuGraphDestroy hipGraphDestroy
#define gpuGraphExecDestroy hipGraphExecDestroy
#define gpuEventCreate hipEventCreate
#define gpuEventDestroy hipEventDestroy
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuStreamEndCapture hipStreamEndCapture

inline gpuError_t gpuStreamBeginCaptureRelaxed(gpuStream_t s) { return hipStreamBeginCapture(s, hipStreamCaptureModeRelaxed); }
inline gpuError_t gpuGraphInstantiateSimple(gpuGraphExec_t* exec, gpuGraph_t g) { return hipGraphInstantiate(exec, g, nullptr, nullptr, 0); }
inline bool gpuGraphExecUpdateOk(gpuGraphExec_t exec, gpuGraph_t g) {
  hipGraphNode_t err_node = nullptr;
  hipGraphExecUpdateResult result;
  const bool ok = hipGraphExecUpdate(exec, g, &err_node, &result) == hipSuccess;
  if (!ok) (void)hipGetLastError();
  return ok;
}
inline int gpuMemoryClockKhz(int dev) { int v = 0; (void)hipDeviceGetAttribute(&v, hipDeviceAttributeMemoryClockRate, dev); return v; }
inline int gpuMemoryBusWidth(int dev) { int v = 0; (void)hipDeviceGetAttribute(&v, hipDeviceAttributeMemoryBusWidth, dev); return v; }
// Lets kernel f use up to bytes of dynamic shared memory; the most a block of device dev may use.
inline bool gpuAllowSharedBytes(const void* f, int bytes) { return hipFuncSetAttribute(f, hipFuncAttributeMaxDynamicSharedMemorySize, bytes) == hipSuccess; }
inline int gpuMaxSharedBytes(int dev) { int v = 0; (void)hipDeviceGetAttribute(&v, hipDeviceAttributeMaxSharedMemoryPerBlock, dev); return v; }
inline const char* gpuVisibleDevicesVar() { return "HIP_VISIBLE_DEVICES"; }
