#include "core/dtype.h"

#include <cctype>
#include <string>

#include "core/error.h"

namespace hearth {
namespace {
struct table {
  dtype_traits rows[dtype_id_limit] = {};
  constexpr table() {
    auto set = [&](dtype t, const char* n, int64_t bs, size_t ts, bool q, bool c) {
      rows[(uint32_t)t] = dtype_traits{n, bs, ts, q, c};
    };
    set(dtype::f32, "f32", 1, 4, false, true);
    set(dtype::f16, "f16", 1, 2, false, true);
    set(dtype::bf16, "bf16", 1, 2, false, true);
    set(dtype::f64, "f64", 1, 8, false, false);
    set(dtype::i8, "i8", 1, 1, false, false);
    set(dtype::i16, "i16", 1, 2, false, false);
    set(dtype::i32, "i32", 1, 4, false, true);
    set(dtype::i64, "i64", 1, 8, false, false);
    set(dtype::q4_0, "q4_0", 32, 18, true, true);
    set(dtype::q4_1, "q4_1", 32, 20, true, true);
    set(dtype::q5_0, "q5_0", 32, 22, true, true);
    set(dtype::q5_1, "q5_1", 32, 24, true, true);
    set(dtype::q8_0, "q8_0", 32, 34, true, true);
    set(dtype::q8_1, "q8_1", 32, 36, true, true);
    set(dtype::q2_k, "q2_K", 256, 84, true, true);
    set(dtype::q3_k, "q3_K", 256, 110, true, true);
    set(dtype::q4_k, "q4_K", 256, 144, true, true);
    set(dtype::q5_k, "q5_K", 256, 176, true, true);
    set(dtype::q6_k, "q6_K", 256, 210, true, true);
    set(dtype::q8_k, "q8_K", 256, 292, true, true);
    set(dtype::iq4_nl, "iq4_nl", 32, 18, true, true);
    set(dtype::iq4_xs, "iq4_xs", 256, 136, true, true);
    // Readable (listed, sized) but without kernels in Hearth yet.
    set(dtype::iq2_xxs, "iq2_xxs", 256, 66, true, false);
    set(dtype::iq2_xs, "iq2_xs", 256, 74, true, false);
    set(dtype::iq3_xxs, "iq3_xxs", 256, 98, true, false);
    set(dtype::iq1_s, "iq1_s", 256, 50, true, false);
    set(dtype::iq3_s, "iq3_s", 256, 110, true, false);
    set(dtype::iq2_s, "iq2_s", 256, 82, true, false);
    set(dtype::iq1_m, "iq1_m", 256, 56, true, false);
    set(dtype::tq1_0, "tq1_0", 256, 54, true, false);
    set(dtype::tq2_0, "tq2_0", 256, 66, true, false);
    set(dtype::mxfp4, "mxfp4", 32, 17, true, false);
  }
};
constexpr table k_table;
}  // namespace

const dtype_traits* dtype_info(uint32_t id) {
  if (id >= dtype_id_limit || k_table.rows[id].name == nullptr) return nullptr;
  return &k_table.rows[id];
}

const dtype_traits& traits(dtype t) {
  const dtype_traits* tr = dtype_info((uint32_t)t);
  if (!tr) fail("unknown tensor type id {}", (uint32_t)t);
  return *tr;
}

std::optional<dtype> dtype_from_name(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = (char)std::tolower((unsigned char)c);
  for (uint32_t id = 0; id < dtype_id_limit; ++id) {
    const dtype_traits* tr = dtype_info(id);
    if (!tr) continue;
    std::string n(tr->name);
    for (auto& c : n) c = (char)std::tolower((unsigned char)c);
    if (n == lower) return (dtype)id;
  }
  return std::nullopt;
}

dtype vec_dot_type(dtype t) {
  switch (t) {
    case dtype::q4_0: case dtype::q5_0: case dtype::q8_0: case dtype::iq4_nl: return dtype::q8_0;
    case dtype::q4_1: case dtype::q5_1: return dtype::q8_1;
    case dtype::q2_k: case dtype::q3_k: case dtype::q4_k: case dtype::q5_k: case dtype::q6_k:
    case dtype::iq4_xs: return dtype::q8_k;
    case dtype::f16: return dtype::f16;
    case dtype::bf16: return dtype::bf16;
    default: return dtype::f32;
  }
}

}  // namespace hearth
