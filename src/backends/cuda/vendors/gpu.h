// Picks the vendor runtime for this build: HEARTH_GPU_HIP selects HIP (libhearth-rocm.so), else CUDA.
#pragma once
#if defined(HEARTH_GPU_HIP)
#include "backends/cuda/vendors/hip.h"
#else
#include "backends/cuda/vendors/cuda.h"
#endif
