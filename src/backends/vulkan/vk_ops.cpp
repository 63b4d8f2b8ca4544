// The Vulkan stream: records a graph's nodes into one command buffer (each op one or two compute
// dispatches, their arguments in a host-visible arena), submits it once, and waits on a fence in
// synchronize(). Also which ops and types the device runs.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "backends/vulkan/vk_backend.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::vk {

namespace {

bool has_kernel(dtype t) {
  switch (t) {
    case dtype::f32: case dtype::f16: case dtype::bf16: case dtype::q4_0: case dtype::q4_1: case dtype::q5_0:
    case dtype::q5_1: case dtype::q8_0: case dtype::q2_k: case dtype::q3_k: case dtype::q4_k: case dtype::q5_k:
    case dtype::q6_k: case dtype::iq4_nl: case dtype::iq4_xs: return true;
    default: return false;
  }
}

std::string lower(const char* s) {
  std::string r(s);
  for (char& c : r) c = (char)std::tolower((unsigned char)c);
  return r;
}

bool fits32(const tensor* t) {
  if (!t) return true;
  for (int i = 0; i < max_dims; ++i)
    if (t->ne[i] > 0xffffffffLL || t->nb[i] > 0xffffffffULL) return false;
  return true;
}

tdesc desc(const tensor* t) {
  tdesc d{};
  if (!t) return d;
  d.addr = (uint64_t)reinterpret_cast<uintptr_t>(t->data);
  for (int i = 0; i < 4; ++i) {
    d.ne[i] = (uint32_t)t->ne[i];
    d.nb[i] = (uint32_t)t->nb[i];
  }
  return d;
}

uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

// Bytes of the rounded activations (and their q8_1 block sums) of a product with activations b.
size_t act_scratch_bytes(const tensor& b) {
  const size_t kp = round_up((size_t)b.ne[0], 16);
  const size_t rows = (size_t)(b.ne[1] * b.ne[2] * b.ne[3]);
  return round_up(kp * rows * 4, 256) + round_up(kp / 32 * rows * 4 + 4, 256);
}

// An expert-selected product with at most this many (slot, token) pairs multiplies each pair on its
// own (mul_mat_id_vec); more are routed per expert and tiled (moe_route + mul_mat_id).
constexpr uint64_t k_id_vec_pairs = 32;

uint64_t id_pairs(const tensor& n) { return (uint64_t)(n.src[2]->ne[0] * n.src[2]->ne[1]); }

// The routing lists of a tiled expert-selected product: a count per expert, then n_pairs slots each.
size_t route_bytes(const tensor& n) {
  const uint64_t pairs = id_pairs(n);
  if (pairs <= k_id_vec_pairs) return 0;
  const uint64_t n_expert = (uint64_t)n.src[0]->ne[2];
  return round_up((size_t)((n_expert + n_expert * pairs) * 4), 256);
}

// Bytes of scratch a node needs (the rounded activations of a product, the routing of experts).
size_t scratch_bytes(const tensor& n) {
  if (n.op == op::mul_mat) return act_scratch_bytes(*n.src[1]);
  if (n.op == op::mul_mat_id) return act_scratch_bytes(*n.src[1]) + route_bytes(n);
  return 0;
}

}  // namespace

bool vk_supports(const vk_device& dev, const tensor& n) {
  for (const tensor* s : n.src)
    if (!fits32(s)) return false;
  if (!fits32(&n)) return false;
  switch (n.op) {
    case op::get_rows: return has_kernel(n.src[0]->type) && n.src[0]->nb[0] == type_size(n.src[0]->type);
    case op::set_rows: return n.src[1]->nb[0] == 4;
    case op::mul_mat: {
      const tensor& a = *n.src[0];
      return has_kernel(a.type) && a.nb[0] == type_size(a.type) && n.src[1]->nelements() < (1LL << 31);
    }
    case op::mul_mat_id: {
      const tensor& a = *n.src[0];
      const tensor& ids = *n.src[2];
      // Experts are workgroups along z (at most 65535); the routing lists must stay 32-bit indexable.
      return has_kernel(a.type) && a.nb[0] == type_size(a.type) && n.src[1]->nelements() < (1LL << 31) && a.ne[3] == 1 &&
             a.ne[2] < 65535 && ids.type == dtype::i32 && id_pairs(n) < 65535ULL * 64 &&
             (uint64_t)a.ne[2] * (id_pairs(n) + 1) < (1ULL << 31);
    }
    case op::top_k: return n.src[0]->type == dtype::f32;
    case op::gather: return n.src[0]->type == dtype::f32 && n.src[1]->type == dtype::i32;
    case op::moe_sum: return n.src[0]->type == dtype::f32 && n.src[1]->type == dtype::f32 && n.nelements() < (1LL << 31);
    case op::cpy:
    case op::cont:
    case op::add:
    case op::mul:
    case op::scale:
    case op::silu:
    case op::gelu:
    case op::glu:
    case op::softcap: return n.nelements() < (1LL << 31);
    case op::rms_norm:
    case op::norm:
    case op::softmax: return n.src[0]->nb[0] == 4;
    case op::rope: return n.ne[0] % 2 == 0;
    case op::attention: {
      const tensor& k = *n.src[1];
      const tensor& v = *n.src[2];
      return n.src[0]->ne[0] <= 256 && v.ne[0] <= 256 && (k.type == dtype::f32 || k.type == dtype::f16) &&
             (v.type == dtype::f32 || v.type == dtype::f16) && k.nb[0] == type_size(k.type) && v.nb[0] == type_size(v.type);
    }
    default: return false;
  }
}

namespace {

class vk_stream final : public stream {
 public:
  explicit vk_stream(vk_device& d) : d_(d) {
    VkCommandPoolCreateInfo cpci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpci.queueFamilyIndex = d_.queue_family();
    check(vkCreateCommandPool(d_.handle(), &cpci, nullptr, &pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo cbai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cbai.commandPool = pool_;
    cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cbai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(d_.handle(), &cbai, &cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vkCreateFence(d_.handle(), &fci, nullptr, &fence_), "vkCreateFence");
    // HEARTH_VK_PROFILE=1: GPU time per kernel, printed when the stream ends.
    profile_ = std::getenv("HEARTH_VK_PROFILE") != nullptr && d_.info().props.limits.timestampComputeAndGraphics;
  }
  ~vk_stream() override {
    try {
      wait();
    } catch (...) {
    }
    if (profile_ && !prof_.empty()) {
      std::vector<std::pair<std::string, std::pair<double, uint64_t>>> rows(prof_.begin(), prof_.end());
      std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.first > b.second.first; });
      double total = 0;
      for (auto& r : rows) total += r.second.first;
      std::fprintf(stderr, "vulkan profile (%s): %.3f ms of kernels in %llu submissions, %llu dispatches, %llu barriers\n",
                   d_.description().c_str(), total / 1e6, (unsigned long long)n_submits_, (unsigned long long)n_dispatches_,
                   (unsigned long long)n_barriers_);
      for (auto& r : rows)
        std::fprintf(stderr, "  %-22s %10.3f ms %8llu calls %8.2f us/call\n", r.first.c_str(), r.second.first / 1e6,
                     (unsigned long long)r.second.second, r.second.first / 1e3 / (double)r.second.second);
    }
    if (qpool_) vkDestroyQueryPool(d_.handle(), qpool_, nullptr);
    d_.release(arena_);
    d_.release(staging_);
    d_.release(scratch_);
    vkDestroyFence(d_.handle(), fence_, nullptr);
    vkDestroyCommandPool(d_.handle(), pool_, nullptr);
  }

  void compute(const std::vector<tensor*>& nodes) override {
    wait();
    size_t scratch = 0;
    size_t n_dispatch = 0;
    for (tensor* n : nodes) {
      scratch = std::max(scratch, scratch_bytes(*n));
      n_dispatch += n->op == op::mul_mat ? 2 : n->op == op::mul_mat_id ? 3 : 1;
    }
    grow(scratch_, scratch, vk_device::mem_kind::device);
    grow(arena_, (n_dispatch + 1) * k_args_stride, vk_device::mem_kind::upload);
    begin();
    for (tensor* n : nodes) record(*n);
    end_and_submit();
  }

  void synchronize() override {
    if (!pending_.empty()) {
      wait();
      begin();
      end_and_submit();
    }
    wait();
  }

  void set_async(tensor& t, const void* src, size_t offset, size_t n) override {
    auto* vb = dynamic_cast<vk_buffer*>(t.storage()->buf);
    if (!vb) fail("vulkan: set_async on a tensor outside Vulkan memory");
    const size_t off = vb->offset_of(t, offset);
    wait();
    if (vb->alloc().mapped) {
      std::memcpy(vb->alloc().mapped + off, src, n);
      return;
    }
    if (staging_used_ + n > staging_.size) {
      // Flush what is staged, then make room.
      if (!pending_.empty()) synchronize();
      grow(staging_, std::max<size_t>(n, 1u << 20), vk_device::mem_kind::upload);
    }
    std::memcpy(staging_.mapped + staging_used_, src, n);
    pending_.push_back({vb->alloc().buf, VkBufferCopy{staging_used_, off, n}});
    staging_used_ = round_up(staging_used_ + n, 16);
  }

  void get_async(const tensor& t, void* dst, size_t offset, size_t n) override {
    synchronize();
    const_cast<tensor&>(t).storage()->buf->get(t, dst, offset, n);
  }

 private:
  static constexpr size_t k_args_stride = 384;  // sizeof(dispatch_args) rounded up

  struct pending_copy {
    VkBuffer dst;
    VkBufferCopy region;
  };

  void wait() {
    if (!in_flight_) return;
    check(vkWaitForFences(d_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    check(vkResetFences(d_.handle(), 1, &fence_), "vkResetFences");
    in_flight_ = false;
    if (profile_ && !prof_names_.empty()) {
      std::vector<uint64_t> ts(prof_names_.size() * 2);
      vkGetQueryPoolResults(d_.handle(), qpool_, 0, (uint32_t)ts.size(), ts.size() * 8, ts.data(), 8,
                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
      const double period = d_.info().props.limits.timestampPeriod;
      for (size_t i = 0; i < prof_names_.size(); ++i) {
        auto& e = prof_[prof_names_[i]];
        e.first += (double)(ts[2 * i + 1] - ts[2 * i]) * period;
        e.second += 1;
      }
      prof_names_.clear();
    }
  }

  void grow(allocation& a, size_t need, vk_device::mem_kind kind) {
    if (need == 0 || a.size >= need) return;
    d_.release(a);
    a = d_.allocate(round_up(need + need / 4, 1u << 16), kind);
  }

  void begin() {
    check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    arena_used_ = 0;
    bound_ = VK_NULL_HANDLE;
    written_.clear();
    read_.clear();
    cached_b_ = nullptr;
    if (profile_) {
      if (qpool_cap_ < arena_.size / k_args_stride * 2) {
        if (qpool_) vkDestroyQueryPool(d_.handle(), qpool_, nullptr);
        qpool_cap_ = (uint32_t)(arena_.size / k_args_stride * 2);
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = qpool_cap_;
        check(vkCreateQueryPool(d_.handle(), &qci, nullptr, &qpool_), "vkCreateQueryPool");
      }
      vkCmdResetQueryPool(cmd_, qpool_, 0, qpool_cap_);
    }
    full_barrier();  // earlier submissions (graphs, transfers) before this one
    if (!pending_.empty()) {
      for (auto& p : pending_) vkCmdCopyBuffer(cmd_, staging_.buf, p.dst, 1, &p.region);
      barrier(VK_PIPELINE_STAGE_TRANSFER_BIT);
      pending_.clear();
      staging_used_ = 0;
    }
  }

  void full_barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &mb, 0, nullptr, 0, nullptr);
  }

  void end_and_submit() {
    full_barrier();  // results visible to later submissions and to the host (mapped memory)
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    d_.submit(cmd_, fence_);
    in_flight_ = true;
    ++n_submits_;
  }

  void barrier(VkPipelineStageFlags src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd_, src, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
  }

  struct span {
    uint64_t b, e;
  };
  static span span_of(const tensor* t) {
    const uint64_t b = (uint64_t)reinterpret_cast<uintptr_t>(t->data);
    return {b, b + std::max<uint64_t>(t->nbytes(), 1)};
  }
  static bool overlaps(const std::vector<span>& set, const span& s) {
    for (const span& x : set)
      if (x.b < s.e && s.b < x.e) return true;
    return false;
  }

  // Reads and writes of the next dispatch: a barrier is recorded only when it touches memory an
  // earlier dispatch since the last barrier wrote (or writes what one read).
  std::vector<span> next_reads_, next_writes_;

  void dispatch(const std::string& pipe, const dispatch_args& a, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
    if (gx == 0 || gy == 0 || gz == 0) return;
    bool hazard = false;
    for (const span& r : next_reads_) hazard |= overlaps(written_, r);
    for (const span& w : next_writes_) hazard |= overlaps(written_, w) || overlaps(read_, w);
    if (hazard) {
      barrier();
      ++n_barriers_;
      written_.clear();
      read_.clear();
    }
    read_.insert(read_.end(), next_reads_.begin(), next_reads_.end());
    written_.insert(written_.end(), next_writes_.begin(), next_writes_.end());
    next_reads_.clear();
    next_writes_.clear();
    HEARTH_ASSERT(arena_used_ + k_args_stride <= arena_.size);
    std::memcpy(arena_.mapped + arena_used_, &a, sizeof a);
    const uint64_t addr = arena_.addr + arena_used_;
    arena_used_ += k_args_stride;
    VkPipeline p = d_.pipeline(pipe);
    if (p != bound_) {
      vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p);
      bound_ = p;
    }
    vkCmdPushConstants(cmd_, d_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, 8, &addr);
    const uint32_t q = (uint32_t)prof_names_.size() * 2;
    if (profile_) vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qpool_, q);
    vkCmdDispatch(cmd_, gx, gy, gz);
    if (profile_) {
      vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool_, q + 1);
      prof_names_.push_back(pipe);
    }
    ++n_dispatches_;
  }

  // A 1-D count of workgroups laid out as (x, y) within the 65535 limit per dimension.
  void dispatch_1d(const std::string& pipe, const dispatch_args& a, uint64_t n_groups) {
    if (n_groups == 0) return;
    const uint32_t gx = (uint32_t)std::min<uint64_t>(n_groups, 65535);
    const uint32_t gy = (uint32_t)((n_groups + gx - 1) / gx);
    dispatch(pipe, a, gx, gy);
  }

  static dispatch_args args_of(const tensor& n) {
    dispatch_args a{};
    for (int i = 0; i < max_srcs; ++i) a.t[i] = desc(n.src[i]);
    a.t[4] = desc(&n);
    std::memcpy(a.p, n.p.raw, sizeof a.p);
    return a;
  }

  void eltwise(const tensor& n, uint32_t opc) {
    dispatch_args a = args_of(n);
    a.u[0] = opc;
    a.u[1] = (uint32_t)n.nelements();
    a.u[2] = n.type == dtype::f16 ? 1 : 0;
    a.aux[0] = d_.gelu_table();
    dispatch_1d("eltwise", a, ((uint64_t)n.nelements() + 255) / 256);
  }

  void record(tensor& n) {
    if (n.op == op::none || n.op == op::view) return;
    for (const tensor* src : n.src)
      if (src) next_reads_.push_back(span_of(src));
    next_writes_.push_back(span_of(&n));
    switch (n.op) {
      case op::none:
      case op::view: return;
      case op::get_rows: {
        dispatch_args a = args_of(n);
        dispatch_1d("get_rows_" + lower(dtype_name(n.src[0]->type)), a, (uint64_t)n.ne[1]);
        return;
      }
      case op::set_rows: {
        dispatch_args a = args_of(n);
        a.u[0] = n.src[0]->type == dtype::f16 ? 1 : 0;
        dispatch_1d("set_rows", a, ((uint64_t)n.src[1]->ne[0] * (uint64_t)n.src[1]->ne[1] + 255) / 256);
        return;
      }
      case op::cpy: return eltwise(n, 9);
      case op::cont: return eltwise(n, 8);
      case op::add: return eltwise(n, 0);
      case op::mul: return eltwise(n, 1);
      case op::scale: return eltwise(n, 2);
      case op::silu: return eltwise(n, 3);
      case op::gelu: return eltwise(n, 4);
      case op::softcap: return eltwise(n, 5);
      case op::glu: return eltwise(n, n.p.i(0) == 1 ? 7 : 6);
      case op::rms_norm:
      case op::norm:
      case op::softmax: {
        dispatch_args a = args_of(n);
        a.u[0] = n.op == op::rms_norm ? 0 : n.op == op::norm ? 1 : 2;
        a.u[1] = n.src[1] ? 1 : 0;
        dispatch_1d("norm", a, (uint64_t)n.nrows());
        return;
      }
      case op::rope: return rope(n);
      case op::attention: {
        dispatch_args a = args_of(n);
        a.u[0] = n.src[1]->type == dtype::f16 ? 1 : 0;
        a.u[1] = n.src[2]->type == dtype::f16 ? 1 : 0;
        dispatch("attention", a, (uint32_t)n.src[0]->ne[1], (uint32_t)n.src[0]->ne[2]);
        return;
      }
      case op::mul_mat: return mul_mat(n);
      case op::mul_mat_id: return mul_mat_id(n);
      case op::top_k: {
        dispatch_args a = args_of(n);
        dispatch_1d("top_k", a, (uint64_t)n.src[0]->ne[1]);
        return;
      }
      case op::gather: {
        dispatch_args a = args_of(n);
        dispatch_1d("gather", a, ((uint64_t)n.ne[1] + 63) / 64);
        return;
      }
      case op::moe_sum: {
        dispatch_args a = args_of(n);
        dispatch_1d("moe_sum", a, ((uint64_t)n.nelements() + 255) / 256);
        return;
      }
      default: fail("vulkan: op {} is not supported", op_name(n.op));
    }
  }

  void rope(const tensor& n) {
    rope_params rp;
    std::memcpy(&rp, n.p.raw, sizeof rp);
    const int n_dims = rp.n_rot;
    dispatch_args a = args_of(n);
    const float theta_scale = std::pow(rp.freq_base, -2.0f / (float)n_dims);
    float corr0 = 0.0f, corr1 = 0.0f;
    float mscale = rp.attn_factor;
    if (rp.ext_factor != 0.0f) {
      auto corr_dim = [&](float n_rot) {
        return n_dims * std::log(rp.n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * std::log(rp.freq_base));
      };
      corr0 = std::max(0.0f, std::floor(corr_dim(rp.beta_fast)));
      corr1 = std::min((float)(n_dims - 1), std::ceil(corr_dim(rp.beta_slow)));
      mscale *= 1.0f + 0.1f * std::log(1.0f / rp.freq_scale);
    }
    a.u[0] = f2u(theta_scale);
    a.u[1] = f2u(corr0);
    a.u[2] = f2u(corr1);
    a.u[3] = f2u(mscale);
    a.u[4] = n.src[2] ? 1 : 0;
    const uint64_t threads = (uint64_t)(n.src[0]->ne[0] / 2) * (uint64_t)n.src[0]->ne[1] * (uint64_t)n.src[0]->ne[2];
    dispatch_1d("rope", a, (threads + 63) / 64);
  }

  void mul_mat(const tensor& n) {
    const tensor& A = *n.src[0];
    const tensor& B = *n.src[1];
    const uint32_t K = (uint32_t)B.ne[0];
    const uint32_t Kp = (uint32_t)round_up(K, 16);
    const uint64_t rows = (uint64_t)(B.ne[1] * B.ne[2] * B.ne[3]);
    const dtype act = vec_dot_type(A.type);
    dispatch_args a = args_of(n);
    a.u[0] = Kp;
    a.u[1] = (uint32_t)B.ne[1];
    a.aux[0] = scratch_.addr;
    a.aux[1] = scratch_.addr + round_up((size_t)Kp * rows * 4, 256);
    const span scratch{scratch_.addr, scratch_.addr + scratch_bytes(n)};
    // The rounded activations stay in the scratch until the next product with other activations
    // (q, k and v, or gate and up, share theirs).
    if (cached_b_ != &B || cached_act_ != act || cached_addr_ != (uint64_t)reinterpret_cast<uintptr_t>(B.data)) {
      next_reads_ = {span_of(&B)};
      next_writes_ = {scratch};
      dispatch_1d("quant_b_" + lower(dtype_name(act)), a, (rows * Kp + 255) / 256);
      cached_b_ = &B;
      cached_act_ = act;
      cached_addr_ = (uint64_t)reinterpret_cast<uintptr_t>(B.data);
    }
    next_reads_ = {span_of(&A), scratch};
    next_writes_ = {span_of(&n)};
    const std::string t = lower(dtype_name(A.type));
    const uint32_t M = (uint32_t)A.ne[1];
    const uint32_t batches = (uint32_t)(n.ne[2] * n.ne[3]);
    if (B.ne[1] == 1) {
      const uint32_t groups = (M + 3) / 4;
      const uint32_t gx = std::min<uint32_t>(groups, 65535);
      dispatch("matvec1_" + t, a, gx, (groups + gx - 1) / gx, batches);
    } else if (B.ne[1] <= 8) {
      const uint32_t gx = std::min<uint32_t>(M, 65535);
      dispatch("matvec_" + t, a, gx, (M + gx - 1) / gx, batches);
    } else if (M >= 128 && B.ne[1] > 64) {
      dispatch("matmul_big_" + t, a, (M + 127) / 128, (uint32_t)((B.ne[1] + 127) / 128), batches);
    } else {
      dispatch("matmul_" + t, a, (M + 63) / 64, (uint32_t)((B.ne[1] + 63) / 64), batches);
    }
  }

  // Expert-selected product: the activations rounded as for mul_mat (shared with a product that
  // rounded the same ones just before), then one product per (slot, token) pair, or routing lists
  // per expert and tiles of the pairs each expert serves.
  void mul_mat_id(const tensor& n) {
    const tensor& A = *n.src[0];
    const tensor& B = *n.src[1];
    const tensor& ids = *n.src[2];
    const uint32_t K = (uint32_t)B.ne[0];
    const uint32_t Kp = (uint32_t)round_up(K, 16);
    const uint64_t rows = (uint64_t)(B.ne[1] * B.ne[2] * B.ne[3]);
    const uint64_t pairs = id_pairs(n);
    const dtype act = vec_dot_type(A.type);
    const size_t act_bytes = act_scratch_bytes(B);
    dispatch_args a = args_of(n);
    a.u[0] = Kp;
    a.u[1] = (uint32_t)B.ne[1];
    a.u[2] = (uint32_t)pairs;
    a.aux[0] = scratch_.addr;
    a.aux[1] = scratch_.addr + round_up((size_t)Kp * rows * 4, 256);
    a.aux[2] = scratch_.addr + act_bytes;
    const span act_span{scratch_.addr, scratch_.addr + act_bytes};
    if (cached_b_ != &B || cached_act_ != act || cached_addr_ != (uint64_t)reinterpret_cast<uintptr_t>(B.data)) {
      next_reads_ = {span_of(&B)};
      next_writes_ = {act_span};
      dispatch_1d("quant_b_" + lower(dtype_name(act)), a, (rows * Kp + 255) / 256);
      cached_b_ = &B;
      cached_act_ = act;
      cached_addr_ = (uint64_t)reinterpret_cast<uintptr_t>(B.data);
    }
    const std::string t = lower(dtype_name(A.type));
    const uint32_t M = (uint32_t)A.ne[1];
    if (pairs <= k_id_vec_pairs) {
      next_reads_ = {span_of(&A), span_of(&ids), act_span};
      next_writes_ = {span_of(&n)};
      const uint32_t groups = (M + 3) / 4;
      const uint32_t gx = std::min<uint32_t>(groups, 65535);
      dispatch("mul_mat_id_vec_" + t, a, gx, (groups + gx - 1) / gx, (uint32_t)pairs);
      return;
    }
    const span route{a.aux[2], a.aux[2] + route_bytes(n)};
    next_reads_ = {span_of(&ids)};
    next_writes_ = {route, span_of(&n)};
    dispatch("moe_route", a, (uint32_t)A.ne[2] + 1);
    next_reads_ = {span_of(&A), act_span, route};
    next_writes_ = {span_of(&n)};
    dispatch("mul_mat_id_" + t, a, (M + 63) / 64, (uint32_t)((pairs + 63) / 64), (uint32_t)A.ne[2]);
  }

  vk_device& d_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool in_flight_ = false;
  allocation arena_, staging_, scratch_;
  size_t arena_used_ = 0, staging_used_ = 0;
  std::vector<pending_copy> pending_;
  VkPipeline bound_ = VK_NULL_HANDLE;
  std::vector<span> written_, read_;
  const tensor* cached_b_ = nullptr;
  dtype cached_act_ = dtype::f32;
  uint64_t cached_addr_ = 0;
  uint64_t n_dispatches_ = 0, n_barriers_ = 0, n_submits_ = 0;
  bool profile_ = false;
  VkQueryPool qpool_ = VK_NULL_HANDLE;
  uint32_t qpool_cap_ = 0;
  std::vector<std::string> prof_names_;
  std::map<std::string, std::pair<double, uint64_t>> prof_;
};

}  // namespace

std::unique_ptr<stream> make_vk_stream(vk_device& dev) { return std::make_unique<vk_stream>(dev); }

}  // namespace hearth::vk
