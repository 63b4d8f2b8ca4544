#include "backends/cpu/kernels/isa.h"

#include <cstdlib>
#include <string>

#include "core/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace hearth::cpu {

const char* isa_name(isa_level l) {
  switch (l) {
    case isa_level::generic: return "generic";
    case isa_level::avx2: return "avx2";
    case isa_level::avx2_vnni: return "avx2_vnni";
    case isa_level::avx512: return "avx512";
  }
  return "?";
}

std::optional<isa_level> isa_from_name(std::string_view name) {
  for (isa_level l : {isa_level::generic, isa_level::avx2, isa_level::avx2_vnni, isa_level::avx512})
    if (name == isa_name(l)) return l;
  return std::nullopt;
}

namespace {

isa_level detect() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return isa_level::generic;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!(osxsave && avx && fma && f16c)) return isa_level::generic;
  unsigned xlo, xhi;
  __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0x6) != 0x6) return isa_level::generic;  // XMM and YMM state enabled by the OS
  if (__get_cpuid_max(0, nullptr) < 7) return isa_level::generic;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool avx512vnni = c & (1u << 11);
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  const bool avxvnni = a1 & (1u << 4);
  if (!avx2) return isa_level::generic;
  const bool zmm_state = (xlo & 0xe6) == 0xe6;  // opmask and ZMM state too
  if (zmm_state && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni) return isa_level::avx512;
  if (avxvnni) return isa_level::avx2_vnni;
  return isa_level::avx2;
#else
  return isa_level::generic;
#endif
}

isa_level choose() {
  const isa_level best = detect();
  const char* env = std::getenv("HEARTH_CPU_ISA");
  if (!env || !*env) return best;
  const auto want = isa_from_name(env);
  if (!want) {
    log_warn("HEARTH_CPU_ISA={} is not one of generic, avx2, avx2_vnni, avx512; using {}", env, isa_name(best));
    return best;
  }
  if ((int)*want > (int)best) {
    log_warn("HEARTH_CPU_ISA={}: this CPU only supports up to {}", env, isa_name(best));
    return best;
  }
  return *want;
}

}  // namespace

isa_level detected_isa() {
  static const isa_level l = detect();
  return l;
}

isa_level active_isa() {
  static const isa_level l = choose();
  return l;
}

}  // namespace hearth::cpu
