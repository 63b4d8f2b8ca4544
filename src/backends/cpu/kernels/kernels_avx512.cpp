// The x86 kernels compiled for the avx512 level (this file alone gets that level's compiler flags).
#define HEARTH_KNS avx512
#define HEARTH_KERNEL_AVX512 1
#include "backends/cpu/kernels/kernels_x86.inc"
