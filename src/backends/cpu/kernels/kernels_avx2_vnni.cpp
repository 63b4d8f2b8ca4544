// The x86 kernels compiled for the avx2_vnni level (this file alone gets that level's compiler flags).
#define HEARTH_KNS avx2_vnni
#define HEARTH_KERNEL_VNNI 1
#include "backends/cpu/kernels/kernels_x86.inc"
