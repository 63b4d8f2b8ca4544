// The x86 kernels compiled for the avx2 level (this file alone gets that level's compiler flags).
#define HEARTH_KNS avx2

#include "backends/cpu/kernels/kernels_x86.inc"
