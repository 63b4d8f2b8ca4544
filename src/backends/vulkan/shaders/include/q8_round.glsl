// Activations rounded to the int8 blocks of a product's vec_dot_type exactly as the CPU reference
// does: quant_b.comp rounds with these, and the kernels that round their own output for the next
// product (matvec_dp.comp GLU_ROUND, attention_split.comp ROUND) share them, so that what they write
// is quant_b's output bit for bit. Needs common.glsl (div_rn).

// q8_0 / q8_1: a block of 32 whose largest magnitude is amax. Its scale (stored rounded to f16;
// q8_1's block sum takes it unrounded, as the CPU) and the int8 value of x.
float q8_0_scale(float amax) { return div_rn(amax, 127.0); }
int q8_0_value(float x, float amax) {
  const float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
  return clamp(int(roundEven(x * id)), -128, 127);
}

// q8_K: a block of 256 whose first element of the largest magnitude is mx (not 0). The inverse
// scale, the int8 value of x and the block's d.
float q8_k_iscale(float mx) { return div_rn(-127.0, mx); }
int q8_k_value(float x, float iscale) { return clamp(int(roundEven(iscale * x)), -128, 127); }
float q8_k_d(float iscale) { return div_rn(1.0, iscale); }

#ifdef Q8K_BLOCK_WG128
// A q8_K block rounded by a workgroup of 128 invocations, x0 = element tid and x1 = element tid + 128:
// the int8 values at i8 (256 bytes), d and the sums of the 8 runs of 32 in the 48 bytes at meta,
// as quant_b.comp writes them for matvec_dp.comp. Called in uniform control flow.
shared float q8k_x[256];
shared int q8k_q[256];
shared float q8k_m[128];  // per subgroup (sized for subgroups of one)
shared uint q8k_i[128];
void q8k_round_block(float x0, float x1, uint tid, uint64_t i8, uint64_t meta) {
  q8k_x[tid] = x0;
  q8k_x[tid + 128u] = x1;
  const float a = subgroupMax(max(abs(x0), abs(x1)));
  if (subgroupElect()) q8k_m[gl_SubgroupID] = a;
  barrier();
  float amax = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) amax = max(amax, q8k_m[i]);
  // The signed value of the first element with the largest magnitude.
  const uint c = subgroupMin(min(abs(x0) == amax ? tid : 0xffffffffu, abs(x1) == amax ? tid + 128u : 0xffffffffu));
  if (subgroupElect()) q8k_i[gl_SubgroupID] = c;
  barrier();
  uint first = 0xffffffffu;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) first = min(first, q8k_i[i]);
  int q0 = 0, q1 = 0;
  float d = 0.0;
  if (amax != 0.0) {
    const float iscale = q8_k_iscale(q8k_x[first]);
    q0 = q8_k_value(x0, iscale);
    q1 = q8_k_value(x1, iscale);
    d = q8_k_d(iscale);
  }
  i8_ref(i8).v[tid] = int8_t(q0);
  i8_ref(i8).v[tid + 128u] = int8_t(q1);
  q8k_q[tid] = q0;
  q8k_q[tid + 128u] = q1;
  barrier();
  if (tid == 0u) st_f32(meta, d);
  if (tid < 8u) {
    int s = 0;
    for (uint k = 0u; k < 32u; ++k) s += q8k_q[32u * tid + k];
    i32_ref(meta + 4u + 4u * tid).v[0] = s;
  }
}
#endif
