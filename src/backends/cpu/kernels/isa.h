// Which SIMD level the CPU kernels run at: detected once from CPUID (and the OS's register-state
// support), and capped by the environment variable HEARTH_CPU_ISA=generic|avx2|avx2_vnni|avx512 for
// tests and benchmarks. Each level's kernels live in their own translation unit compiled with that
// level's flags; nothing else in the program is compiled for a specific CPU.
#pragma once
#include <optional>
#include <string_view>

namespace hearth::cpu {

enum class isa_level : int {
  generic = 0,    // portable C++
  avx2 = 1,       // AVX2 + FMA + F16C (int8 dot products through vpmaddubsw)
  avx2_vnni = 2,  // the above + AVX-VNNI (vpdpbusd on 256-bit vectors)
  avx512 = 3,     // AVX-512 F/BW/VL/DQ + VNNI (vpdpbusd on 512-bit vectors)
};

const char* isa_name(isa_level l);
std::optional<isa_level> isa_from_name(std::string_view name);

// The best level this CPU and OS support.
isa_level detected_isa();
// detected_isa(), lowered to HEARTH_CPU_ISA when that names a lower (or equal) level. An unknown or
// higher value is ignored with a warning: forcing a level the CPU lacks would crash.
isa_level active_isa();
// Every level that can run here, lowest first (the tests compare each with the reference).
inline bool isa_available(isa_level l) { return (int)l <= (int)detected_isa(); }

}  // namespace hearth::cpu
