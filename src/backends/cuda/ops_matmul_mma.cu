// Matrix products, part 3: prompt processing on the integer tensor cores of NVIDIA sm_80+ GPUs.
// A block computes a 64 x 128 tile of outputs (8 warps of 32 x 32). Per 256 values of K it unpacks
// the weight blocks of its rows into int8 (with their integer sub-block scales) and the rounded
// activations of its columns into shared memory; warps multiply them with int8 mma instructions,
// one sub-block at a time (16 or 32 values, the span of one integer scale). The integer sums of
// every sub-block, the integer scaling and the float factors of each block are the reference's
// (the vec_dot kernels), so only the float summation order across blocks differs, as in the other
// product kernels.
// HIP builds have no such instructions: run_mul_mat_mma answers false there and the dp4a kernels run.
#include <type_traits>

#include "backends/cuda/mmv.cuh"
#include "backends/cuda/ops.h"

namespace hearth::gpu {

#if !defined(HEARTH_GPU_HIP)
namespace {

// Per weight type: values of sub-block g (kg of them, int8 range), its integer scale and (corr 2)
// its integer min multiplier, and the block's float factors. corr: 0 none; 1 + m * s (q8_1 sums of
// the activation block, q4_1 / q5_1); 2 - dmin * d_a * sum_g min_g * bsum_g (k-quants with mins).
template <dtype T> struct tc;

template <> struct tc<dtype::q4_0> {
  using W = block_q4_0;
  static constexpr int qk = 32, kg = 32, corr = 0;
  static __device__ __forceinline__ void unpack(const W* b, int, int* v) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int w = load_i32_a2(b->qs + 4 * i);
      v[i] = __vsub4(w & k_lo4, 0x08080808);
      v[4 + i] = __vsub4((w >> 4) & k_lo4, 0x08080808);
    }
  }
  static __device__ __forceinline__ int scale(const W*, int) { return 1; }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W*) { return 0.0f; }
};
template <> struct tc<dtype::q8_0> {
  using W = block_q8_0;
  static constexpr int qk = 32, kg = 32, corr = 0;
  static __device__ __forceinline__ void unpack(const W* b, int, int* v) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = load_i32_a2(reinterpret_cast<const uint8_t*>(b->qs) + 4 * i);
  }
  static __device__ __forceinline__ int scale(const W*, int) { return 1; }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W*) { return 0.0f; }
};
// Q4_K and Q5_K: 6-bit scales and mins per 32 values, d and dmin per block.
template <typename B> struct k4_factors {
  static __device__ __forceinline__ int scale(const B* b, int j) {
    int sc, mn;
    k4_scale_min(b->scales, j, sc, mn);
    return sc;
  }
  static __device__ __forceinline__ int mn(const B* b, int j) {
    int sc, mn;
    k4_scale_min(b->scales, j, sc, mn);
    return mn;
  }
  static __device__ __forceinline__ float d(const B* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const B* b) { return h2f(b->dmin); }
};

template <> struct tc<dtype::q4_k> : k4_factors<block_q4_k> {
  using W = block_q4_k;
  static constexpr int qk = 256, kg = 32, corr = 2;
  static __device__ __forceinline__ void unpack(const W* b, int j, int* v) {
    const int* q = reinterpret_cast<const int*>(b->qs + 32 * (j / 2));
    const int shift = 4 * (j % 2);
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = (q[i] >> shift) & k_lo4;
  }
};
template <> struct tc<dtype::q6_k> {
  using W = block_q6_k;
  static constexpr int qk = 256, kg = 16, corr = 0;
  // Values 16g .. 16g + 15 lie in half h, quarter k, positions l0 .. l0 + 15: 16 consecutive bytes
  // of ql (low or high nibbles) and of qh (2 bits each), taken four values to a 32-bit word.
  static __device__ __forceinline__ void unpack(const W* b, int g, int* v) {
    const int h = g / 8, k = (g / 2) % 4, l0 = 16 * (g % 2);
    const uint8_t* ql = b->ql + 64 * h + 32 * (k % 2) + l0;
    const uint8_t* qh = b->qh + 32 * h + l0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int lo = (load_i32_a2(ql + 4 * i) >> (4 * (k / 2))) & k_lo4;
      const int hi = ((load_i32_a2(qh + 4 * i) >> (2 * k)) & 0x03030303) << 4;
      v[i] = __vsub4(lo | hi, 0x20202020);
    }
  }
  static __device__ __forceinline__ int scale(const W* b, int g) { return b->scales[g]; }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W*) { return 0.0f; }
};

// The other types, element by element (their unpacking is rarer work).
template <typename B, int QK, int KG, int CORR, typename V> struct tc_generic {
  using W = B;
  static constexpr int qk = QK, kg = KG, corr = CORR;
  static __device__ __forceinline__ void unpack(const W* b, int g, int* v) {
    int8_t* o = reinterpret_cast<int8_t*>(v);
#pragma unroll
    for (int e = 0; e < KG; ++e) o[e] = (int8_t)V::value(b, KG * g + e);
  }
};
struct v_q4_1 { static __device__ int value(const block_q4_1* b, int e) { return e < 16 ? (b->qs[e] & 0xf) : (b->qs[e - 16] >> 4); } };
struct v_q5_0 { static __device__ int value(const block_q5_0* b, int e) { return q5_value(b->qs, load_qh(b->qh), e) - 16; } };
struct v_q5_1 { static __device__ int value(const block_q5_1* b, int e) { return q5_value(b->qs, load_qh(b->qh), e); } };
struct v_iq4_nl { static __device__ int value(const block_iq4_nl* b, int e) { return k_iq4nl[e < 16 ? (b->qs[e] & 0xf) : (b->qs[e - 16] >> 4)]; } };
struct v_q2_k { static __device__ int value(const block_q2_k* b, int e) { return q2_value(b, e); } };
struct v_q3_k { static __device__ int value(const block_q3_k* b, int e) { return q3_value(b, e); } };
struct v_q5_k {
  static __device__ int value(const block_q5_k* b, int e) {
    const int j = e / 32, l = e % 32;
    return ((b->qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xf) | (((b->qh[l] >> j) & 1) << 4);
  }
};
struct v_iq4_xs {
  static __device__ int value(const block_iq4_xs* b, int e) {
    const uint8_t* qs = b->qs + 16 * (e / 32);
    const int j = e % 32;
    return k_iq4nl[j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4)];
  }
};

// 32-value blocks: no sub-block scale; d, and m for the types with a minimum (q4_1, q5_1).
template <typename B, typename V, bool MIN>
struct tc_32 : tc_generic<B, 32, 32, MIN ? 1 : 0, V> {
  static __device__ __forceinline__ int scale(const B*, int) { return 1; }
  static __device__ __forceinline__ float d(const B* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const B* b) {
    if constexpr (MIN) return h2f(b->m);
    else return 0.0f;
  }
};
template <> struct tc<dtype::q4_1> : tc_32<block_q4_1, v_q4_1, true> {};
template <> struct tc<dtype::q5_0> : tc_32<block_q5_0, v_q5_0, false> {};
template <> struct tc<dtype::q5_1> : tc_32<block_q5_1, v_q5_1, true> {};
template <> struct tc<dtype::iq4_nl> : tc_32<block_iq4_nl, v_iq4_nl, false> {};
template <> struct tc<dtype::q2_k> : tc_generic<block_q2_k, 256, 16, 2, v_q2_k> {
  static __device__ __forceinline__ int scale(const W* b, int g) { return b->scales[g] & 0xf; }
  static __device__ __forceinline__ int mn(const W* b, int g) { return b->scales[g] >> 4; }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W* b) { return h2f(b->dmin); }
};
template <> struct tc<dtype::q3_k> : tc_generic<block_q3_k, 256, 16, 0, v_q3_k> {
  static __device__ __forceinline__ int scale(const W* b, int g) { return q3_scale(b->scales, g); }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W*) { return 0.0f; }
};
template <> struct tc<dtype::q5_k> : tc_generic<block_q5_k, 256, 32, 2, v_q5_k>, k4_factors<block_q5_k> {};
template <> struct tc<dtype::iq4_xs> : tc_generic<block_iq4_xs, 256, 32, 0, v_iq4_xs> {
  static __device__ __forceinline__ int scale(const W* b, int j) { return iq4_xs_scale(b, j); }
  static __device__ __forceinline__ float d(const W* b) { return h2f(b->d); }
  static __device__ __forceinline__ float m(const W*) { return 0.0f; }
};

template <dtype T> constexpr bool has_tc() {
  return T == dtype::q4_0 || T == dtype::q4_1 || T == dtype::q5_0 || T == dtype::q5_1 || T == dtype::q8_0 || T == dtype::iq4_nl ||
         T == dtype::q2_k || T == dtype::q3_k || T == dtype::q4_k || T == dtype::q5_k || T == dtype::q6_k || T == dtype::iq4_xs;
}

// D = A (16 x kg, rows) * B (kg x 8, columns), int8 in, int32 out (accumulator starts at zero).
template <int KG> __device__ __forceinline__ void mma_s8(const int* a, const int* b, int* d) {
  if constexpr (KG == 32) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(0));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b[0]), "r"(0));
  }
}

constexpr int k_bm = 64;

// Per weight type and step of KS values of K: sub-blocks (groups) and blocks per step, and which
// of the optional shared arrays the kernel uses.
template <dtype T, int KS> struct mma_step {
  using tr = tc<T>;
  static constexpr int groups = KS / tr::kg, blocks = KS / tr::qk, groups_per_block = tr::qk / tr::kg;
  static constexpr int row = KS + 16;  // shared row stride: 16 bytes of padding keep fragment loads conflict-free
  // Q4_K / Q5_K (a min per 32 values): the sums of the activations per 32 values, two int16 to a
  // word, so that a block's min correction is four dp2a instructions per output.
  static constexpr bool pair_mins = tr::corr == 2 && groups_per_block == 8;
  static constexpr bool mins = tr::corr == 2, sums = tr::corr == 1, bsums16 = mins && !pair_mins;
};

// A block's shared memory for a 64 x BN tile (dynamic: more than the 48 KiB of static shared
// memory). The int8 rows come first, so that they are 16-byte aligned; arrays a type does not use
// keep one element.
template <dtype T, int BN, int KS, bool PIPE> struct mma_smem {
  using st = mma_step<T, KS>;
  static constexpr int G = st::groups, B = st::blocks;
  int8_t ws[k_bm * st::row];                // weights, unpacked to int8
  int8_t as[PIPE ? 2 : 1][BN * st::row];    // activations (PIPE: this step's and the next one's)
  int8_t wsc[k_bm][G];        // integer sub-block scales
  int8_t wmn[st::mins ? k_bm : 1][G];  // integer sub-block mins (k-quants with mins)
  float wd[k_bm][B], wm[k_bm][B];
  float ad[BN][B], asum[st::sums ? BN : 1][B];
  int16_t ab[st::bsums16 ? BN : 1][16 * B];
  int ab2[st::pair_mins ? BN : 1][B][4];
};

// BN: the tile's columns (64 or 128); 2 x BN / 32 warps, each computing a 32 x 32 part. KS: values
// of K per step (256, or 512 for Q4_K / Q5_K: twice the loads in flight per barrier). PIPE (q8_K
// activations only, whose blocks are 16-byte aligned): the next step's activations are copied into
// a second buffer asynchronously while the current step runs. At most
// 128 registers per thread, so that two blocks of 256 threads fit a multiprocessor (Q2_K, whose
// unpacking needs more, spills otherwise).
template <dtype T, int BN, int KS, bool PIPE = false>
__global__ void __launch_bounds__(2 * BN, T == dtype::q2_k ? 1 : 256 / BN) k_mul_mat_mma(mm_args p) {
  pdl_enter();
  using tr = tc<T>;
  using st = mma_step<T, KS>;
  using W = typename tr::W;
  constexpr bool k256 = tr::qk == 256;
  using A = std::conditional_t<k256, a8_256, a8_32>;
  constexpr int kg = tr::kg, n_groups = st::groups, n_blk = st::blocks, k_row = st::row;  // per step
  constexpr int k_threads = 2 * BN;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  auto& S = *reinterpret_cast<mma_smem<T, BN, KS, PIPE>*>(smem_raw);
  static_assert(!PIPE || k256, "asynchronous staging needs 16-byte aligned activation blocks");
  constexpr bool pair_mins = st::pair_mins;

  const int tid = threadIdx.x, lane = tid % warp, wid = tid / warp;
  const int g = lane / 4, t = lane % 4;
  const int wr = 32 * (wid % 2), wc = 32 * (wid / 2);  // this warp's 32 x 32 part of the tile
  const int64_t m0 = (int64_t)blockIdx.x * k_bm, n0 = (int64_t)blockIdx.y * BN;
  const int64_t i2 = blockIdx.z % p.b2, i3 = blockIdx.z / p.b2;
  const uint8_t* a_base = p.a + (i2 / p.r2) * p.a_nb2 + (i3 / p.r3) * p.a_nb3;
  const uint8_t* y_base = p.act + (int64_t)blockIdx.z * p.N * p.act_rb;

  // a q8_K step's int8 values into buffer buf, 16 bytes per copy
  auto stage_q8k = [&](int64_t kb, int buf) {
    for (int i = tid; i < BN * (KS / 16); i += k_threads) {
      const int c = i / (KS / 16), w = i % (KS / 16);
      const A* y = reinterpret_cast<const A*>(y_base + min(n0 + c, p.N - 1) * p.act_rb) + kb + w / 16;
      int4* dst = reinterpret_cast<int4*>(S.as[buf] + c * k_row) + w;
      const int4* src = reinterpret_cast<const int4*>(y->qs) + w % 16;
      if constexpr (PIPE) copy16_async(dst, src);
      else *dst = *src;
    }
  };
  if constexpr (PIPE) {
    stage_q8k(0, 0);
    copy_async_commit();
  }
  float acc[2][4][4] = {};
  int isum[2][4][4] = {};
  for (int64_t kb = 0, step = 0; kb < p.n_blocks; kb += n_blk, ++step) {
    const int8_t* as = S.as[PIPE ? step & 1 : 0];
    __syncthreads();
    // Weights: one (row, sub-block) per thread and step.
    for (int i = tid; i < k_bm * n_groups; i += k_threads) {
      const int r = i / n_groups, gs = i % n_groups;
      const int blk = gs * kg / tr::qk, gb = (gs * kg % tr::qk) / kg;
      const W* b = reinterpret_cast<const W*>(a_base + min(m0 + r, p.M - 1) * p.a_nb1) + kb + blk;
      int v[kg / 4];
      tr::unpack(b, gb, v);
      int* dst = reinterpret_cast<int*>(S.ws + r * k_row + gs * kg);
#pragma unroll
      for (int q = 0; q < kg / 4; ++q) dst[q] = v[q];
      S.wsc[r][gs] = (int8_t)tr::scale(b, gb);
      if constexpr (st::mins) S.wmn[r][gs] = (int8_t)tr::mn(b, gb);
      if (gb == 0) {
        S.wd[r][blk] = tr::d(b);
        S.wm[r][blk] = tr::m(b);
      }
    }
    // Activations: the int8 values (a q8_K block's 256 in 16-byte words, q8_0 / q8_1 blocks' in
    // 4-byte words), then the scales (and sums) per block.
    if constexpr (PIPE) {
      if (kb + n_blk < p.n_blocks) stage_q8k(kb + n_blk, (int)((step + 1) & 1));
      copy_async_commit();  // (an empty group on the last step)
      copy_async_wait_all_but_last();  // this step's copies have landed
    } else if constexpr (k256) {
      stage_q8k(kb, 0);
    } else {
      for (int i = tid; i < BN * n_blk; i += k_threads) {  // one (column, block of 32) per item
        const int c = i / n_blk, blk = i % n_blk;
        const A* y = reinterpret_cast<const A*>(y_base + min(n0 + c, p.N - 1) * p.act_rb) + kb + blk;
        const int* q = reinterpret_cast<const int*>(y->qs);
        int4* dst = reinterpret_cast<int4*>(S.as[0] + c * k_row + 32 * blk);
        dst[0] = make_int4(q[0], q[1], q[2], q[3]);
        dst[1] = make_int4(q[4], q[5], q[6], q[7]);
      }
    }
    for (int i = tid; i < BN * n_blk; i += k_threads) {
      const int c = i / n_blk, blk = i % n_blk;
      const A* y = reinterpret_cast<const A*>(y_base + min(n0 + c, p.N - 1) * p.act_rb) + kb + blk;
      if constexpr (pair_mins) {
        S.ad[c][blk] = y->d;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int lo = y->bsums[4 * q] + y->bsums[4 * q + 1], hi = y->bsums[4 * q + 2] + y->bsums[4 * q + 3];
          S.ab2[c][blk][q] = (lo & 0xffff) | (hi << 16);
        }
      } else if constexpr (k256) {
        S.ad[c][blk] = y->d;
        if constexpr (st::bsums16) {
#pragma unroll
          for (int q = 0; q < 16; ++q) S.ab[c][16 * blk + q] = y->bsums[q];
        }
      } else {
        S.ad[c][blk] = h2f(y->d);
        if constexpr (st::sums) S.asum[c][blk] = h2f(y->s);
      }
    }
    __syncthreads();

#pragma unroll 1
    for (int gs = 0; gs < n_groups; ++gs) {
      int af[2][4], bf[4][2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int8_t* r0 = S.ws + (wr + 16 * i + g) * k_row + gs * kg + 4 * t;
        af[i][0] = *reinterpret_cast<const int*>(r0);
        af[i][1] = *reinterpret_cast<const int*>(r0 + 8 * k_row);
        if constexpr (kg == 32) {
          af[i][2] = *reinterpret_cast<const int*>(r0 + 16);
          af[i][3] = *reinterpret_cast<const int*>(r0 + 8 * k_row + 16);
        }
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int8_t* c0 = as + (wc + 8 * j + g) * k_row + gs * kg + 4 * t;
        bf[j][0] = *reinterpret_cast<const int*>(c0);
        if constexpr (kg == 32) bf[j][1] = *reinterpret_cast<const int*>(c0 + 16);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int s0 = S.wsc[wr + 16 * i + g][gs], s1 = S.wsc[wr + 16 * i + g + 8][gs];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          int d[4];
          mma_s8<kg>(af[i], bf[j], d);
          isum[i][j][0] += s0 * d[0];
          isum[i][j][1] += s0 * d[1];
          isum[i][j][2] += s1 * d[2];
          isum[i][j][3] += s1 * d[3];
        }
      }
      // A block ends after its last sub-block: its float factors fold the integer sums in.
      if ((gs + 1) * kg % tr::qk == 0) {
        const int blk = gs * kg / tr::qk;
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int r = wr + 16 * i + g + 8 * (e / 2), c = wc + 8 * j + 2 * t + (e % 2);
              float v = S.wd[r][blk] * S.ad[c][blk] * (float)isum[i][j][e];
              if constexpr (st::sums) v += S.wm[r][blk] * S.asum[c][blk];
              if constexpr (pair_mins) {
                // sum over the 8 sub-blocks of min * (sum of its 32 activations)
                const int* mn = reinterpret_cast<const int*>(&S.wmn[r][8 * blk]);
                int summs = __dp2a_lo(S.ab2[c][blk][0], mn[0], 0);
                summs = __dp2a_hi(S.ab2[c][blk][1], mn[0], summs);
                summs = __dp2a_lo(S.ab2[c][blk][2], mn[1], summs);
                summs = __dp2a_hi(S.ab2[c][blk][3], mn[1], summs);
                v -= S.wm[r][blk] * S.ad[c][blk] * (float)summs;
              } else if constexpr (tr::corr == 2) {
                int summs = 0;
#pragma unroll
                for (int q = 0; q < 16; ++q)
                  summs += S.wmn[r][blk * st::groups_per_block + q * st::groups_per_block / 16] * S.ab[c][16 * blk + q];
                v -= S.wm[r][blk] * S.ad[c][blk] * (float)summs;
              }
              acc[i][j][e] += v;
              isum[i][j][e] = 0;
            }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t m = m0 + wr + 16 * i + g + 8 * (e / 2), n = n0 + wc + 8 * j + 2 * t + (e % 2);
        if (m < p.M && n < p.N) *reinterpret_cast<float*>(p.dst + m * 4 + n * p.d_nb1 + i2 * p.d_nb2 + i3 * p.d_nb3) = acc[i][j][e];
      }
}

// Compute capability major of device dev (-1 when it cannot be read).
int major_of(int dev) {
  int major = 0;
  return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess && major > 0 ? major : -1;
}

bool mma_enabled() {
  static const bool on = !env_is("HEARTH_CUDA_MMA", "0");
  return on;
}

// HEARTH_CUDA_MMA_BN=64: tiles of 64 x 64 outputs (4 warps) instead of 64 x 128 (8 warps), for
// comparisons.
int tile_columns() {
  static const int bn = env_is("HEARTH_CUDA_MMA_BN", "64") ? 64 : 128;
  return bn;
}

// HEARTH_CUDA_MMA_KS=256: steps of 256 values of K for Q4_K and Q5_K too (comparisons).
int step_values() {
  static const int ks = env_is("HEARTH_CUDA_MMA_KS", "256") ? 256 : 512;
  return ks;
}

// HEARTH_CUDA_MMA_PIPE=0: the other 256-value block types (Q6_K, Q3_K, IQ4_XS) without the
// asynchronous staging of the next step's activations; =1: Q4_K / Q5_K with it too, in steps of 256
// instead of 512 (comparisons). H200, 8B Q4_K_M pp512 (docs/device-runs/prompt-steps.txt): Q6_K
// products 292 -> 259 us with it, Q4_K 249 us in steps of 512 against 278 with it.
int pipe_mode() {
  static const int mode = env_is("HEARTH_CUDA_MMA_PIPE", "0") ? 0 : env_is("HEARTH_CUDA_MMA_PIPE", "1") ? 1 : 2;
  return mode;
}

template <dtype T, int BN, int KS, bool PIPE = false> void launch_mma(const mm_args& p, dim3 grid, gpuStream_t s) {
  constexpr size_t bytes = sizeof(mma_smem<T, BN, KS, PIPE>);
  static const bool sized = gpuAllowSharedBytes(reinterpret_cast<const void*>(k_mul_mat_mma<T, BN, KS, PIPE>), (int)bytes);
  (void)sized;
  launch(k_mul_mat_mma<T, BN, KS, PIPE>, grid, 2 * BN, bytes, s, p);
}

}  // namespace

bool run_mul_mat_mma(const tensor& dst, const mm_args& p, gpuStream_t s) {
  const tensor& a = *dst.src[0];
  const tensor& b = *dst.src[1];
  if (b.ne[1] < 16 || a.ne[0] % 256 != 0 || !mma_enabled() || per_device<major_of>(0) < 8) return false;
  const bool ks512 = step_values() == 512 && a.ne[0] % 512 == 0;
  const int bn = tile_columns();
  const dim3 grid((unsigned)((p.M + k_bm - 1) / k_bm), (unsigned)((p.N + bn - 1) / bn), (unsigned)(b.ne[2] * b.ne[3]));
  bool launched = false;
  dispatch_type(a.type, [&]<dtype T>() {
    if constexpr (has_tc<T>()) {
      launched = true;
      if constexpr (tc<T>::qk == 256 && T != dtype::q2_k) {
        const bool min_blocks = T == dtype::q4_k || T == dtype::q5_k;
        if (bn == 128 && (pipe_mode() == 1 || (pipe_mode() == 2 && !min_blocks))) return launch_mma<T, 128, 256, true>(p, grid, s);
      }
      // Steps of 512 for Q4_K / Q5_K only: on the H200 they took Q4_K products from 277 to 254 us per
      // 512-token product, but Q6_K's from 292 to 314 (docs/device-runs/prompt-steps.txt).
      if constexpr (T == dtype::q4_k || T == dtype::q5_k) {
        if (bn == 128 && ks512) return launch_mma<T, 128, 512>(p, grid, s);
      }
      if (bn == 128) launch_mma<T, 128, 256>(p, grid, s);
      else launch_mma<T, 64, 256>(p, grid, s);
    }
  });
  return launched;
}

#else

bool run_mul_mat_mma(const tensor&, const mm_args&, gpuStream_t) { return false; }

#endif

}  // namespace hearth::gpu
