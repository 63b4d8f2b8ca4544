// The kernel table: one row per weight type for each ISA level. The generic level runs the scalar
// reference; the x86 levels come from kernels_x86.inc compiled three times. Entries a level leaves
// empty (row dequantization and single-row dot products of quantized types) use the reference.
#include "backends/cpu/kernels/qkernels.h"

#include <array>

#include "core/error.h"
#include "formats/quants.h"

namespace hearth::cpu {

#if defined(HEARTH_X86_KERNELS)
namespace avx2 { void fill_table(mm_kernels* tab, isa_level level); }
namespace avx2_vnni { void fill_table(mm_kernels* tab, isa_level level); }
namespace avx512 { void fill_table(mm_kernels* tab, isa_level level); }
#endif

namespace {

template <dtype T> void ref_quantize_act(const float* x, void* y, int64_t n) { ref::quantize_row_act(vec_dot_type(T), x, y, n); }
template <dtype T> void ref_dequantize(const void* w, float* y, int64_t n) { ref::dequantize_row(T, w, y, n); }
template <dtype T> float ref_vec_dot(const void* w, const void* a, int64_t n) { return ref::vec_dot(T, w, a, n); }

// Generic matrix product: activation columns in the standard act_type rows, one dot per output.
template <dtype T> size_t ref_act_bytes(int64_t K, int64_t N) { return row_bytes(vec_dot_type(T), K) * (size_t)N; }
template <dtype T> void ref_pack_act(const float* x, int64_t K, int64_t n, int64_t, uint8_t* packed) {
  ref::quantize_row_act(vec_dot_type(T), x, packed + row_bytes(vec_dot_type(T), K) * (size_t)n, K);
}
size_t ref_scratch_bytes(int64_t, int64_t) { return 0; }
template <dtype T>
void ref_rows(const void* w, size_t ldw, int64_t K, int64_t m0, int64_t m1, const uint8_t* packed, int64_t N, float* c,
              size_t ldc, uint8_t*) {
  const size_t rb = row_bytes(vec_dot_type(T), K);
  for (int64_t m = m0; m < m1; ++m)
    for (int64_t n = 0; n < N; ++n)
      c[(size_t)n * ldc + m] = ref::vec_dot(T, static_cast<const uint8_t*>(w) + (size_t)m * ldw, packed + rb * (size_t)n, K);
}

template <dtype T> void set_ref(mm_kernels* tab) {
  mm_kernels& k = tab[(int)T];
  k.type = T;
  k.act_type = vec_dot_type(T);
  k.isa = isa_level::generic;
  k.quantize_act = ref_quantize_act<T>;
  k.dequantize = ref_dequantize<T>;
  k.vec_dot = ref_vec_dot<T>;
  k.rows_per_panel = 1;
  k.act_bytes = ref_act_bytes<T>;
  k.pack_act = ref_pack_act<T>;
  k.scratch_bytes = ref_scratch_bytes;
  k.rows = ref_rows<T>;
}

void fill_generic(mm_kernels* tab) {
  set_ref<dtype::f32>(tab);
  set_ref<dtype::f16>(tab);
  set_ref<dtype::bf16>(tab);
  set_ref<dtype::q4_0>(tab);
  set_ref<dtype::q4_1>(tab);
  set_ref<dtype::q5_0>(tab);
  set_ref<dtype::q5_1>(tab);
  set_ref<dtype::q8_0>(tab);
  set_ref<dtype::q2_k>(tab);
  set_ref<dtype::q3_k>(tab);
  set_ref<dtype::q4_k>(tab);
  set_ref<dtype::q5_k>(tab);
  set_ref<dtype::q6_k>(tab);
  set_ref<dtype::iq4_nl>(tab);
  set_ref<dtype::iq4_xs>(tab);
}

struct tables {
  std::array<std::array<mm_kernels, dtype_id_limit>, 4> level{};
  tables() {
    for (int l = 0; l < 4; ++l) fill_generic(level[l].data());
#if defined(HEARTH_X86_KERNELS)
    avx2::fill_table(level[(int)isa_level::avx2].data(), isa_level::avx2);
    avx2_vnni::fill_table(level[(int)isa_level::avx2_vnni].data(), isa_level::avx2_vnni);
    avx512::fill_table(level[(int)isa_level::avx512].data(), isa_level::avx512);
#endif
    // Levels never bigger than what the CPU runs: a table above detected_isa() is never handed out.
  }
};

const tables& all_tables() {
  static const tables t;
  return t;
}

}  // namespace

bool has_kernels(dtype t) {
  return (uint32_t)t < dtype_id_limit && all_tables().level[0][(uint32_t)t].rows != nullptr;
}

const mm_kernels& kernels_at(dtype t, isa_level l) {
  if (!has_kernels(t)) fail(error_kind::unsupported, "CPU backend: no kernels for tensor type {}", dtype_name(t));
  if ((int)l > (int)detected_isa()) l = detected_isa();
  return all_tables().level[(int)l][(uint32_t)t];
}

}  // namespace hearth::cpu
