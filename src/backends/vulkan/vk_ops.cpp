// The Vulkan stream: records a graph's nodes into one command buffer (each op one or two compute
// dispatches, their arguments in a host-visible arena), submits it once, and waits on a fence in
// synchronize(). Which ops and types the device runs, and the helpers the ops share: vk_ops_util.
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "backends/vulkan/vk_backend.h"
#include "backends/vulkan/vk_ops_util.h"
#include "core/error.h"
#include "core/log.h"

namespace hearth::vk {

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
    check(vkAllocateCommandBuffers(d_.handle(), &cbai, &graph_cmd_), "vkAllocateCommandBuffers");
    check(vkAllocateCommandBuffers(d_.handle(), &cbai, &copy_cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(vkCreateFence(d_.handle(), &fci, nullptr, &fence_), "vkCreateFence");
    // HEARTH_VK_PROFILE=1: GPU time per kernel (every graph recorded anew); =2: GPU time per graph
    // and host time per compute (recordings reused as normal). Printed when the stream ends.
    if (const char* e = std::getenv("HEARTH_VK_PROFILE"); e && d_.info().props.limits.timestampComputeAndGraphics)
      profile_ = std::atoi(e) == 2 ? 2 : 1;
    fuse_q8k_ = std::getenv("HEARTH_VK_FUSE_Q8K") != nullptr;
    norm_round_ = env_on("HEARTH_VK_NORM_ROUND");
    rope_product_ = env_on("HEARTH_VK_ROPE_PRODUCT");
    if (const char* e = std::getenv("HEARTH_VK_GLU_ROUND")) glu_round_ = *e == '1';
    attn_round_ = env_on("HEARTH_VK_ATTN_ROUND");
  }
  ~vk_stream() override {
    try {
      wait();
    } catch (...) {
    }
    if (profile_) print_profile();
    if (qpool_) vkDestroyQueryPool(d_.handle(), qpool_, nullptr);
    d_.release(arena_);
    d_.release(staging_);
    d_.release(scratch_);
    d_.release(att_scratch_);
    d_.release(glu_scratch_);
    d_.release(round_ctr_);
    d_.release(mirror_);
    vkDestroyFence(d_.handle(), fence_, nullptr);
    vkDestroyCommandPool(d_.handle(), pool_, nullptr);
  }

  // The nodes become a list of dispatches (pipeline, workgroups, barrier before, arguments) on the
  // host; when it equals the last one recorded, with the same staged input copies, the command
  // buffer is submitted again as it is (the arguments live in the arena, which still holds them).
  void compute(const std::vector<tensor*>& nodes) override {
    wait();
    const auto t0 = std::chrono::steady_clock::now();
    // The recording's node list (same plan id) and staged copies: submitted as it is, without
    // sizing, keying or walking the nodes (HEARTH_VK_KEYS=1 compares keys every compute).
    static const bool keys = env_is("HEARTH_VK_KEYS", "1");
    const bool fast = plan_id_ != 0 && plan_id_ == rec_plan_id_ && recorded_ && profile_ != 1 && !walk_always_ && !keys &&
                      d_.n_released() == rec_released_ && pending_ == rec_pending_ && staging_.buf == rec_staging_;
    double walk = 0;
    bool same = true;
    if (fast) ++n_reused_;
    else same = record_if_changed(nodes, walk);
    n_barriers_ += rec_barriers_;
    n_dispatches_ += order_.size();
    pending_.clear();
    staging_used_ = 0;
    const auto t_submit = std::chrono::steady_clock::now();
    submit(graph_cmd_);
    mirrored_ = !rec_mirrors_.empty();
    submit_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_submit).count();
    const double host = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    host_s_ += host;
    if (same) {
      host_reused_s_ += host;
      walk_s_ += walk;
    }
    ++n_computes_;
  }

  // Sizes the scratch buffers for nodes and walks them unless their key is the recording's; records
  // the command buffer again when anything differs. Returns whether the recording stayed as it was;
  // walk: the seconds spent keying and walking.
  bool record_if_changed(const std::vector<tensor*>& nodes, double& walk) {
    // One pass sizes every scratch: the glu's (gate+up pairs rounding their swiglu) and a counter per
    // q8_K block of a one-token attention's output (attention_round_consumer) only when those fusions are on.
    size_t scratch = 0, att_scratch = 0, glu = 0, ctr = 0;
    for (tensor* n : nodes) {
      scratch = std::max(scratch, scratch_bytes(*n));
      att_scratch = std::max(att_scratch, attention_scratch_bytes(*n));
      if (glu_round_ && n->op == op::glu) glu = std::max(glu, glu_layout((uint32_t)n->ne[0]).total);
      if (attn_round_ && n->op == op::attention) ctr = std::max(ctr, (size_t)(n->ne[0] * n->ne[1] / 256 + 1) * 4);
    }
    bool moved = grow(scratch_, scratch, vk_device::mem_kind::device);
    moved |= grow(att_scratch_, att_scratch, vk_device::mem_kind::device);
    moved |= plan_mirrors(nodes);
    // the block counters start at 0 (and each graph leaves them so)
    for (auto [a, bytes] : {std::pair<allocation*, size_t>{&glu_scratch_, glu}, {&round_ctr_, ctr}})
      if (grow(*a, bytes, vk_device::mem_kind::device)) {
        d_.fill(*a, 0);
        moved = true;
      }
    const auto t_walk = std::chrono::steady_clock::now();
    // The nodes of the recording (same key) with nothing moved: the walk would make the same
    // dispatches and arguments, so the recording is submitted as it is without walking (0.27 ms of
    // host time per 8B token on the H200, docs/device-runs/vulkan-host.txt).
    key_.clear();
    for (const tensor* n : nodes) append_node_key(key_, *n);
    moved |= d_.n_released() != rec_released_;
    const bool same_nodes = recorded_ && !moved && profile_ != 1 && key_ == rec_key_ && !walk_always_;
    if (!same_nodes) walk_nodes(nodes);
    walk = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_walk).count();
    // Device memory: every workgroup starts by reading its arguments, which in host memory would
    // cost each dispatch a few PCIe round trips (HEARTH_VK_HOST_ARGS=1 keeps them there, to compare).
    static const bool host_args = std::getenv("HEARTH_VK_HOST_ARGS") != nullptr;
    if (!same_nodes)
      moved |= grow(arena_, args_.size() + k_args_stride, host_args ? vk_device::mem_kind::upload : vk_device::mem_kind::device);
    // A buffer destroyed since the recording (a compute buffer or staging buffer replaced) may be
    // named by it even if a new one took the same handle and address: record again.
    const bool same = recorded_ && !moved && profile_ != 1 && pending_ == rec_pending_ && staging_.buf == rec_staging_ && mirrors_ == rec_mirrors_ &&
                      (same_nodes || (cmds_ == rec_cmds_ && args_ == rec_args_ && spans_ == rec_spans_));
    if (!same && same_nodes) {  // only the staged copies changed: the recording's dispatches stand
      cmds_ = rec_cmds_;
      args_ = rec_args_;
      spans_ = rec_spans_;
    }
    if (!same) {
      d_.upload(arena_, 0, args_.data(), args_.size());
      schedule();
      record_graph();
      rec_cmds_.swap(cmds_);
      rec_args_.swap(args_);
      rec_spans_.swap(spans_);
      rec_pending_ = pending_;
      rec_staging_ = staging_.buf;
      rec_released_ = d_.n_released();
      rec_key_.swap(key_);
      rec_mirrors_ = mirrors_;
      recorded_ = true;
    } else {
      ++n_reused_;
    }
    rec_plan_id_ = plan_id_;
    return same;
  }

  // The nodes become this compute's dispatches, arguments and spans (cmds_, args_, spans_).
  void walk_nodes(const std::vector<tensor*>& nodes) {
    cmds_.clear();
    args_.clear();
    spans_.clear();
    cached_b_ = nullptr;
    stored_.clear();
    index_readers(nodes);
    for (size_t i = 0; i < nodes.size(); ++i) i += record_fused(nodes, i);
  }

  void synchronize() override {
    if (!pending_.empty()) {
      // Copies staged after the last graph: a command buffer of their own (the graph's stays).
      wait();
      begin(copy_cmd_);
      full_barrier(copy_cmd_);
      record_copies(copy_cmd_);
      full_barrier(copy_cmd_);
      check(vkEndCommandBuffer(copy_cmd_), "vkEndCommandBuffer");
      pending_.clear();
      staging_used_ = 0;
      submit(copy_cmd_);
    }
    wait();
  }

  void set_async(tensor& t, const void* src, size_t offset, size_t n) override {
    auto* vb = dynamic_cast<vk_buffer*>(t.storage()->buf);
    if (!vb) fail("vulkan: set_async on a tensor outside Vulkan memory");
    const size_t off = vb->offset_of(t, offset);
    wait();
    const uint64_t at = (uint64_t)reinterpret_cast<uintptr_t>(t.data) + offset;
    for (const mirror& m : rec_mirrors_)  // a graph's output written from the host: its copy is stale
      if (at < m.addr + m.size && m.addr < at + n) mirrored_ = false;
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
    pending_.push_back({vb->alloc().buf, staging_used_, off, n});
    staging_used_ = round_up(staging_used_ + n, 16);
  }

  void get_async(const tensor& t, void* dst, size_t offset, size_t n) override {
    synchronize();
    const uint64_t at = (uint64_t)reinterpret_cast<uintptr_t>(t.data) + offset;
    if (mirrored_)
      for (const mirror& m : rec_mirrors_)
        if (at >= m.addr && at + n <= m.addr + m.size) {
          std::memcpy(dst, mirror_.mapped + m.off + (at - m.addr), n);
          return;
        }
    const_cast<tensor&>(t).storage()->buf->get(t, dst, offset, n);
  }

 private:
  static constexpr size_t k_args_stride = 384;  // sizeof(dispatch_args) rounded up

  // A graph's outputs (the logits) go to host memory at its end, in its command buffer: reading
  // them back then costs a memcpy instead of a transfer submission and its wait (0.13 ms per
  // token on the H200, docs/device-runs/vulkan-host.txt). Outputs of at most k_mirror_max bytes
  // each, in device-local memory; HEARTH_VK_MIRROR=0 turns it off (comparisons).
  static constexpr size_t k_mirror_max = 8u << 20;
  struct mirror {
    VkBuffer src;
    VkDeviceSize src_off;
    uint64_t addr, size, off;  // the output's device address and bytes; its place in mirror_
    bool operator==(const mirror&) const = default;
  };
  // The mirrors of this compute's outputs (mirrors_), growing mirror_ as needed (true: it moved).
  bool plan_mirrors(const std::vector<tensor*>& nodes) {
    static const bool on = env_on("HEARTH_VK_MIRROR");
    mirrors_.clear();
    if (!on) return false;
    uint64_t total = 0;
    for (const tensor* n : nodes) {
      if (!(n->flags & tf_output) || n->nbytes() > k_mirror_max || n->nbytes() == 0) continue;
      auto* vb = dynamic_cast<vk_buffer*>(n->storage()->buf);
      if (!vb || vb->alloc().mapped) continue;
      mirrors_.push_back({vb->alloc().buf, vb->offset_of(*n, 0), (uint64_t)reinterpret_cast<uintptr_t>(n->data), n->nbytes(), total});
      total = round_up(total + n->nbytes(), 16);
    }
    return grow(mirror_, total, vk_device::mem_kind::readback);
  }
  std::vector<mirror> mirrors_, rec_mirrors_;
  allocation mirror_;
  bool mirrored_ = false;  // the last submitted graph copies rec_mirrors_ (valid once it completes)

  struct pending_copy {
    VkBuffer dst;
    VkDeviceSize src_off, dst_off, size;
    bool operator==(const pending_copy&) const = default;
  };
  // One dispatch of a graph: its arguments sit at args_off in the arena, the memory it reads and
  // writes is spans_[r0, w0) and spans_[w0, w1).
  struct command {
    VkPipeline pipe;
    uint32_t groups[3];
    uint32_t args_off;
    uint32_t r0, w0, w1;
    const std::string* name;
    bool operator==(const command& o) const {
      return pipe == o.pipe && groups[0] == o.groups[0] && groups[1] == o.groups[1] && groups[2] == o.groups[2] &&
             args_off == o.args_off && r0 == o.r0 && w0 == o.w0 && w1 == o.w1;
    }
  };
  struct step {
    uint32_t cmd;
    bool barrier;  // a barrier before it: it reads or overwrites what an earlier dispatch wrote
  };

  // What a one-token product does after its sums (matvec_dp.comp): the rope that reads it, and / or
  // the set_rows that stores the (roped) result into a KV cache.
  struct epilogue {
    const tensor* rope = nullptr;
    const tensor* store = nullptr;
    const tensor* up = nullptr;   // with glu: this product is the gate, up the product beside it
    const tensor* glu = nullptr;  // swiglu(gate, up), rounded for the product after it (glu_round)
  };

  void wait() {
    if (!in_flight_) return;
    const auto t0 = std::chrono::steady_clock::now();
    check(vkWaitForFences(d_.handle(), 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    check(vkResetFences(d_.handle(), 1, &fence_), "vkResetFences");
    in_flight_ = false;
    if (profile_ && in_flight_queries_ > 0) {
      std::vector<uint64_t> ts(in_flight_queries_);
      vkGetQueryPoolResults(d_.handle(), qpool_, 0, (uint32_t)ts.size(), ts.size() * 8, ts.data(), 8,
                            VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
      const double period = d_.info().props.limits.timestampPeriod;
      if (profile_ == 1) {
        for (size_t i = 0; i < prof_names_.size(); ++i) {
          auto& e = prof_[*prof_names_[i]];
          e.first += (double)(ts[2 * i + 1] - ts[2 * i]) * period;
          e.second += 1;
        }
      } else {
        gpu_ns_ += (double)(ts[1] - ts[0]) * period;
        ++n_gpu_timed_;
      }
    }
    in_flight_queries_ = 0;
  }

  // True when the allocation moved (recordings that name it are stale).
  bool grow(allocation& a, size_t need, vk_device::mem_kind kind) {
    if (need == 0 || a.size >= need) return false;
    d_.release(a);
    a = d_.allocate(round_up(need + need / 4, 1u << 16), kind);
    return true;
  }

  void begin(VkCommandBuffer cmd) {
    check(vkResetCommandBuffer(cmd, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
  }

  void record_copies(VkCommandBuffer cmd) {
    for (auto& p : pending_) {
      const VkBufferCopy region{p.src_off, p.dst_off, p.size};
      vkCmdCopyBuffer(cmd, staging_.buf, p.dst, 1, &region);
    }
  }

  void record_graph() {
    VkCommandBuffer cmd = graph_cmd_;
    begin(cmd);
    const uint32_t n_queries = profile_ == 1 ? (uint32_t)cmds_.size() * 2 : profile_ == 2 ? 2 : 0;
    rec_queries_ = n_queries;
    if (n_queries) {
      if (qpool_cap_ < n_queries) {
        if (qpool_) vkDestroyQueryPool(d_.handle(), qpool_, nullptr);
        qpool_cap_ = n_queries;
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = qpool_cap_;
        check(vkCreateQueryPool(d_.handle(), &qci, nullptr, &qpool_), "vkCreateQueryPool");
      }
      vkCmdResetQueryPool(cmd, qpool_, 0, n_queries);
    }
    full_barrier(cmd);  // earlier submissions (graphs, transfers) before this one
    if (!pending_.empty()) {
      record_copies(cmd);
      barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT);
    }
    if (profile_ == 2) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qpool_, 0);
    prof_names_.clear();
    VkPipeline bound = VK_NULL_HANDLE;
    for (const step& st : order_) {
      const command& c = cmds_[st.cmd];
      if (st.barrier) barrier(cmd);
      if (c.pipe != bound) {
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c.pipe);
        bound = c.pipe;
      }
      const uint64_t addr = arena_.addr + c.args_off;
      vkCmdPushConstants(cmd, d_.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, 8, &addr);
      const uint32_t q = (uint32_t)prof_names_.size() * 2;
      if (profile_ == 1) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qpool_, q);
      vkCmdDispatch(cmd, c.groups[0], c.groups[1], c.groups[2]);
      if (profile_ == 1) {
        vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool_, q + 1);
        prof_names_.push_back(c.name);
      }
    }
    if (!mirrors_.empty()) {
      barrier(cmd);
      for (const mirror& m : mirrors_) {
        const VkBufferCopy region{m.src_off, m.off, m.size};
        vkCmdCopyBuffer(cmd, m.src, mirror_.buf, 1, &region);
      }
    }
    if (profile_ == 2) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool_, 1);
    full_barrier(cmd);  // results visible to later submissions and to the host (mapped memory)
    check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
  }

  void submit(VkCommandBuffer cmd) {
    d_.submit(cmd, fence_);
    in_flight_ = true;
    in_flight_queries_ = cmd == graph_cmd_ ? rec_queries_ : 0;
    ++n_submits_;
  }

  void full_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &mb, 0, nullptr, 0, nullptr);
  }

  void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd, src, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
  }

  void print_profile() {
    std::fprintf(stderr, "vulkan stream (%s): %llu computes (%llu reused recordings), host %.3f ms/compute (%.3f reusing), wait %.3f ms/compute; "
                 "%llu submissions, %llu dispatches, %llu barriers, %llu fused\n",
                 d_.description().c_str(), (unsigned long long)n_computes_, (unsigned long long)n_reused_,
                 n_computes_ ? host_s_ * 1e3 / (double)n_computes_ : 0.0, n_reused_ ? host_reused_s_ * 1e3 / (double)n_reused_ : 0.0,
                 n_computes_ ? wait_s_ * 1e3 / (double)n_computes_ : 0.0,
                 (unsigned long long)n_submits_, (unsigned long long)n_dispatches_, (unsigned long long)n_barriers_, (unsigned long long)n_fused_);
    if (n_reused_)
      std::fprintf(stderr, "  host per reused recording: %.3f ms walking the nodes (fusion decisions, arguments); %.3f ms submitting per compute\n",
                   walk_s_ * 1e3 / (double)n_reused_, submit_s_ * 1e3 / (double)n_computes_);
    if (n_gpu_timed_)
      std::fprintf(stderr, "  GPU %.3f ms per graph (%llu graphs timed)\n", gpu_ns_ / 1e6 / (double)n_gpu_timed_,
                   (unsigned long long)n_gpu_timed_);
    if (prof_.empty()) return;
    std::vector<std::pair<std::string, std::pair<double, uint64_t>>> rows(prof_.begin(), prof_.end());
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.first > b.second.first; });
    double total = 0;
    for (auto& r : rows) total += r.second.first;
    std::fprintf(stderr, "  %.3f ms of kernels\n", total / 1e6);
    for (auto& r : rows)
      std::fprintf(stderr, "  %-22s %10.3f ms %8llu calls %8.2f us/call\n", r.first.c_str(), r.second.first / 1e6,
                   (unsigned long long)r.second.second, r.second.first / 1e3 / (double)r.second.second);
  }

  struct span {
    uint64_t b, e;
    bool operator==(const span&) const = default;
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
    if (gx == 0 || gy == 0 || gz == 0) {
      next_reads_.clear();
      next_writes_.clear();
      return;
    }
    const uint32_t r0 = (uint32_t)spans_.size();
    spans_.insert(spans_.end(), next_reads_.begin(), next_reads_.end());
    const uint32_t w0 = (uint32_t)spans_.size();
    spans_.insert(spans_.end(), next_writes_.begin(), next_writes_.end());
    next_reads_.clear();
    next_writes_.clear();
    const size_t off = args_.size();
    args_.resize(off + k_args_stride);
    std::memcpy(args_.data() + off, &a, sizeof a);
    auto it = pipes_.find(pipe);
    if (it == pipes_.end()) it = pipes_.emplace(pipe, d_.pipeline(pipe)).first;
    const std::string* name = &it->first;
    if (!next_label_.empty()) {
      name = &*labels_.insert(next_label_).first;
      next_label_.clear();
    }
    cmds_.push_back({it->second, {gx, gy, gz}, (uint32_t)off, r0, w0, (uint32_t)spans_.size(), name});
  }

  // Orders the dispatches into levels separated by barriers: each pass takes, from the next
  // k_window waiting dispatches in graph order, every one that depends neither on a dispatch of
  // this level nor on one it passes over (so independent products, ropes and cache writes of a
  // layer share a level instead of each waiting for the one before).
  void schedule() {
    static const bool in_order = std::getenv("HEARTH_VK_NO_REORDER") != nullptr;  // A/B comparisons
    constexpr size_t k_window = 24;
    order_.clear();
    rec_barriers_ = 0;
    std::vector<uint32_t> waiting(cmds_.size()), rest;
    for (uint32_t i = 0; i < cmds_.size(); ++i) waiting[i] = i;
    std::vector<span> lvl_r, lvl_w, skip_r, skip_w;
    auto hits = [&](const std::vector<span>& set, uint32_t b, uint32_t e) {
      for (uint32_t i = b; i < e; ++i)
        if (overlaps(set, spans_[i])) return true;
      return false;
    };
    size_t head = 0;
    while (head < waiting.size()) {
      lvl_r.clear();
      lvl_w.clear();
      skip_r.clear();
      skip_w.clear();
      rest.clear();
      bool first = true;
      const size_t end = in_order ? waiting.size() : std::min(waiting.size(), head + k_window);
      size_t i = head;
      for (; i < end; ++i) {
        const command& c = cmds_[waiting[i]];
        if (!first) {
          const bool dep = hits(lvl_w, c.r0, c.w1) || hits(lvl_r, c.w0, c.w1);
          if (in_order && dep) break;
          if (dep || hits(skip_w, c.r0, c.w1) || hits(skip_r, c.w0, c.w1)) {
            rest.push_back(waiting[i]);
            skip_r.insert(skip_r.end(), spans_.begin() + c.r0, spans_.begin() + c.w0);
            skip_w.insert(skip_w.end(), spans_.begin() + c.w0, spans_.begin() + c.w1);
            continue;
          }
        }
        const bool bar = first && !order_.empty();
        order_.push_back({waiting[i], bar});
        rec_barriers_ += bar ? 1 : 0;
        first = false;
        lvl_r.insert(lvl_r.end(), spans_.begin() + c.r0, spans_.begin() + c.w0);
        lvl_w.insert(lvl_w.end(), spans_.begin() + c.w0, spans_.begin() + c.w1);
      }
      // The passed-over dispatches wait at the front, in their order.
      std::copy(waiting.begin() + (long)i, waiting.end(), std::back_inserter(rest));
      waiting.swap(rest);
      head = 0;
    }
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
        if (split_attention(n)) return attention_split(n);
        dispatch_args a = args_of(n);
        a.u[0] = n.src[1]->type == dtype::f16 ? 1 : 0;
        a.u[1] = n.src[2]->type == dtype::f16 ? 1 : 0;
        if (const char* tiles = tile_attention(d_.info(), n)) {
          dispatch(tiles, a, (uint32_t)n.src[0]->ne[1], (uint32_t)((n.src[0]->ne[2] + 31) / 32));
          return;
        }
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

  // With product c (attention_round_consumer), the dispatch that writes the result (the one chunk's
  // or the combination) also rounds it for c into the scratch, as quant_b would (attention_split.comp,
  // ROUND), and c finds its activations rounded there.
  void attention_split(const tensor& n, const tensor* c = nullptr) {
    dispatch_args a = args_of(n);
    a.u[0] = n.src[1]->type == dtype::f16 ? 1 : 0;
    a.u[1] = n.src[2]->type == dtype::f16 ? 1 : 0;
    const uint32_t n_chunks = attention_chunks(n);
    a.u[2] = n_chunks;
    a.aux[0] = att_scratch_.addr;
    const uint32_t n_head = (uint32_t)n.src[0]->ne[1], n_tok = (uint32_t)n.src[0]->ne[2];
    std::string last = "attention_split";
    std::vector<span> rounded;  // what the rounding writes besides the result
    const dtype act = c ? vec_dot_type(c->src[0]->type) : dtype::f32;
    if (c) {
      const dispatch_args pa = product_args(*c);
      a.u[4] = act == dtype::q8_0 ? 0 : act == dtype::q8_1 ? 1 : 2;
      a.aux[1] = act == dtype::q8_k ? round_ctr_.addr : pa.aux[1];
      a.aux[2] = pa.aux[2];
      a.aux[3] = pa.aux[3];
      rounded = {{scratch_.addr, scratch_.addr + scratch_bytes(*c)}};
      if (act == dtype::q8_k) rounded.push_back({round_ctr_.addr, round_ctr_.addr + round_ctr_.size});
      last = "attention_split_round";
    }
    if (n_chunks == 1) {
      next_writes_.insert(next_writes_.end(), rounded.begin(), rounded.end());
      dispatch(last, a, n_head, n_tok, 1);
    } else {
      const span part{att_scratch_.addr, att_scratch_.addr + attention_scratch_bytes(n)};
      next_writes_ = {part};
      dispatch("attention_split", a, n_head, n_tok, n_chunks);
      next_reads_ = {part};
      next_writes_ = {span_of(&n)};
      next_writes_.insert(next_writes_.end(), rounded.begin(), rounded.end());
      a.u[3] = 1;
      dispatch(last, a, n_head, n_tok, 1);
    }
    if (c) cache_rounded(*c->src[1], act, true);
  }

  // The product right after attention node nodes[i] (only views between) whose one activation column
  // is the attention's output row, when the attention can round that row for it itself (see
  // attention_split): one token on the split kernel, a contiguous result, the product on matvec_dp
  // with int8 blocks of 32 that the head size is a multiple of (each workgroup rounds its own head)
  // or blocks of 256 that it divides (the blocks' last workgroups round them), and the product the
  // only reader of the result (it reads only the int8 blocks, not quant_b's float rounding: another
  // product could not find that in the scratch). HEARTH_VK_ATTN_ROUND=0: never (comparisons).
  const tensor* attention_round_consumer(const std::vector<tensor*>& nodes, size_t i) const {
    const tensor& n = *nodes[i];
    if (!attn_round_ || n.ne[2] != 1 || n.ne[3] != 1 || !n.is_contiguous() || !split_attention(n)) return nullptr;
    size_t j = i + 1;
    while (j < nodes.size() && (nodes[j]->op == op::view || nodes[j]->op == op::none)) ++j;
    if (j == nodes.size() || nodes[j]->op != op::mul_mat) return nullptr;
    const tensor& c = *nodes[j];
    const tensor& B = *c.src[1];
    if (B.storage() != &n || B.data != n.data || B.ne[0] != n.ne[0] * n.ne[1] || B.nelements() != B.ne[0] || !B.is_contiguous())
      return nullptr;
    if (!vk_supports_product(c) || !rounds_to_i8(c) || !dp_matvec(*c.src[0]) || !sole_reader(&n, j)) return nullptr;
    const int64_t hd_v = n.ne[0];
    if (vec_dot_type(c.src[0]->type) == dtype::q8_k ? 256 % hd_v != 0 || B.ne[0] % 256 != 0 : hd_v % 32 != 0) return nullptr;
    return &c;
  }

  // Records nodes[i], fused with the nodes after it where it can: add -> rms_norm/norm -> mul by a
  // weight row becomes one dispatch (as does norm -> mul). Returns how many extra nodes it took.
  size_t record_fused(const std::vector<tensor*>& nodes, size_t i) {
    static const bool off = std::getenv("HEARTH_VK_NO_FUSE") != nullptr;  // A/B comparisons
    auto f32_rows = [](const tensor& t) { return t.type == dtype::f32 && t.nb[0] == 4; };
    auto is_norm = [&](const tensor& t) { return (t.op == op::rms_norm || t.op == op::norm) && f32_rows(t) && t.ne[0] <= 256 * 32; };
    // mul of norm by a single contiguous f32 row of its length, into a tensor of its shape
    auto weight_of = [&](const tensor& norm, const tensor& m) -> const tensor* {
      if (m.op != op::mul || !f32_rows(m) || !same_shape(m, norm)) return nullptr;
      const tensor* w = m.src[0] == &norm ? m.src[1] : m.src[1] == &norm ? m.src[0] : nullptr;
      if (!w || w == &norm || w->type != dtype::f32 || w->nb[0] != 4 || w->ne[0] != norm.ne[0] || w->nelements() != w->ne[0]) return nullptr;
      return w;
    };
    const tensor& n0 = *nodes[i];
    if (!stored_.empty() && stored_.count(&n0)) return 0;  // done by a rope before it
    // rope -> set_rows of its result into a cache: one dispatch (HEARTH_VK_ROPE_STORE=0: two).
    if (!off && rope_store_on() && n0.op == op::rope) {
      if (const tensor* st = rope_store(nodes, i)) {
        for (const tensor* src : n0.src)
          if (src) next_reads_.push_back(span_of(src));
        next_writes_.push_back(span_of(&n0));
        rope(n0, st);
        stored_.insert(st);
        ++n_fused_;
        return 0;
      }
    }
    if (!off && n0.op == op::add && i + 1 < nodes.size() && is_norm(*nodes[i + 1]) && nodes[i + 1]->src[0] == &n0 &&
        n0.is_contiguous() && n0.type == dtype::f32 && same_shape(*n0.src[0], n0) && same_shape(*n0.src[1], n0) &&
        f32_rows(*n0.src[0]) && f32_rows(*n0.src[1])) {
      const tensor* w = i + 2 < nodes.size() ? weight_of(*nodes[i + 1], *nodes[i + 2]) : nullptr;
      const tensor* m = w ? nodes[i + 2] : nullptr;
      if (disjoint({nodes[i + 1], m}, {n0.src[0], n0.src[1], &n0, w}) && (!m || disjoint({m}, {nodes[i + 1]}) || m->data == nodes[i + 1]->data)) {
        if (!norm_round(nodes, i + 3, &n0, *nodes[i + 1], m, w))
          norm_fused(&n0, *nodes[i + 1], m, w, m ? q8k_consumer(nodes, i + 3, *m) : nullptr);
        return w ? 2 : 1;
      }
    }
    // swiglu -> product: the activation rounding before the product computes the swiglu.
    if (!off && n0.op == op::glu && n0.p.i(0) != 1 && n0.type == dtype::f32 && i + 1 < nodes.size() &&
        nodes[i + 1]->op == op::mul_mat && nodes[i + 1]->src[1] == &n0 && f32_rows(*n0.src[0]) && f32_rows(*n0.src[1]) &&
        same_shape(*n0.src[0], n0) && same_shape(*n0.src[1], n0) && disjoint({&n0}, {n0.src[0], n0.src[1]})) {
      ++n_fused_;
      mul_mat(*nodes[i + 1], &n0);
      return 1;
    }
    if (!off && n0.op == op::attention) {
      if (const tensor* c = attention_round_consumer(nodes, i)) {
        for (const tensor* src : n0.src)
          if (src) next_reads_.push_back(span_of(src));
        next_writes_.push_back(span_of(&n0));
        ++n_fused_;
        attention_split(n0, c);
        return 0;
      }
    }
    if (!off && glu_round_ && n0.op == op::mul_mat && i + 3 < nodes.size() && glu_pair(nodes, i)) {
      epilogue ep;
      ep.up = nodes[i + 1];
      ep.glu = nodes[i + 2];
      stored_.insert(ep.up);
      stored_.insert(ep.glu);
      n_fused_ += 2;
      mul_mat(n0, nullptr, &ep);
      return 0;
    }
    if (!off && rope_product_ && n0.op == op::mul_mat) {
      epilogue ep;
      if (product_epilogue(nodes, i, ep)) {
        if (ep.rope) stored_.insert(ep.rope);
        if (ep.store) stored_.insert(ep.store);
        ++n_fused_;
        mul_mat(n0, nullptr, &ep);
        return 0;
      }
    }
    if (!off && is_norm(n0) && i + 1 < nodes.size()) {
      const tensor* w = weight_of(n0, *nodes[i + 1]);
      if (w && disjoint({&n0, nodes[i + 1]}, {n0.src[0], w}) && (disjoint({nodes[i + 1]}, {&n0}) || nodes[i + 1]->data == n0.data)) {
        if (!norm_round(nodes, i + 2, nullptr, n0, nodes[i + 1], w))
          norm_fused(nullptr, n0, nodes[i + 1], w, q8k_consumer(nodes, i + 2, *nodes[i + 1]));
        return 1;
      }
    }
    record(*nodes[i]);
    return 0;
  }

  // A fused row is read before it is written, but with several rows (workgroups) no output may
  // overlap an input (the graph allocator may put a later node over an input that dies earlier).
  static bool disjoint(std::initializer_list<const tensor*> outs, std::initializer_list<const tensor*> ins) {
    if ((*outs.begin())->nrows() == 1) return true;  // one workgroup, which reads everything first
    for (const tensor* o : outs)
      for (const tensor* in : ins)
        if (o && in) {
          const span a = span_of(o), b = span_of(in);
          if (a.b < b.e && b.b < a.e) return false;
        }
    return true;
  }

  // The product soon after nodes[from] that reads t, when its activations are rounded to q8_K and
  // the fused norm can round them itself (rows a multiple of 256 long, contiguous). Only with
  // HEARTH_VK_FUSE_Q8K=1: on the H200 the one workgroup rounding block after block took longer
  // than the quant_b dispatch it saves (8B Q4_K_M tg 127 t/s with it, 137 without).
  const tensor* q8k_consumer(const std::vector<tensor*>& nodes, size_t from, const tensor& t) const {
    if (!fuse_q8k_ || t.ne[0] % 256 != 0 || !t.is_contiguous()) return nullptr;
    for (size_t j = from; j < std::min(nodes.size(), from + 8); ++j) {
      const tensor& c = *nodes[j];
      if (c.op == op::mul_mat && c.src[1] == &t)
        return vec_dot_type(c.src[0]->type) == dtype::q8_k && vk_supports_product(c) ? &c : nullptr;
    }
    return nullptr;
  }
  static bool vk_supports_product(const tensor& c) { return has_kernel(c.src[0]->type) && c.src[1]->ne[0] == c.src[0]->ne[0]; }

  // (add ->) norm -> mul by the weight row w -> a product of the mul soon after nodes[from]: one
  // quant_b dispatch with a norm prologue writes the sum, the norm, the mul and the product's rounded
  // activations, in one workgroup per 256 elements (a workgroup per row rounding its blocks one
  // after another was slower than the quant_b it saved, see q8k_consumer). Rows must be a multiple
  // of 256 long, and no output may overlap an input: every workgroup reads its whole row.
  // HEARTH_VK_NORM_ROUND=0: a norm dispatch, then quant_b (comparisons).
  bool norm_round(const std::vector<tensor*>& nodes, size_t from, const tensor* add, const tensor& norm, const tensor* mul,
                  const tensor* w) {
    if (!norm_round_ || fuse_q8k_ || !mul || !w) return false;
    const tensor& m = *mul;
    const tensor& x = add ? *add->src[0] : *norm.src[0];
    // Few rows only: every workgroup reads its whole row, which for a prompt's many rows would cost
    // more reads than the norm's one workgroup per row, whose rows alone fill the GPU there.
    if (m.ne[0] % 256 != 0 || m.nrows() > 8 || !m.is_contiguous() || x.type != dtype::f32 || x.nb[0] != 4 || !same_shape(x, norm))
      return false;
    const tensor* c = nullptr;
    for (size_t j = from; j < std::min(nodes.size(), from + 8) && !c; ++j)
      if (nodes[j]->op == op::mul_mat && nodes[j]->src[1] == &m) c = nodes[j];
    if (!c || !vk_supports_product(*c)) return false;
    const tensor* ins[] = {&x, add ? add->src[1] : nullptr, w};
    auto hits_input = [&](const tensor* o) {
      for (const tensor* in : ins)
        if (in && overlaps({span_of(o)}, span_of(in))) return true;
      return false;
    };
    const bool with_i8 = rounds_to_i8(*c);
    dispatch_args a = product_args(*c);
    const dtype act = vec_dot_type(c->src[0]->type);
    if (add && hits_input(add)) return false;
    // The graph allocator often puts the norm and the mul (in place) over an input that dies at the
    // add. The products read the rounding in the scratch, so the mul need not be stored when only
    // they read it, nor the norm when only the mul reads it (as in every model graph).
    const bool store_mul = !hits_input(&m);
    if (!store_mul && !only_cached_readers(nodes, from, m, act)) return false;
    bool store_norm = true;
    if (hits_input(&norm)) {
      if (norm.flags & tf_output) return false;
      const tensor* ns = norm.storage();
      for (uint32_t j : list_of(readers_, ns))
        if (nodes[j] != &m) return false;
      for (uint32_t j : list_of(views_, ns))  // views read it too
        if (nodes[j] != &m && nodes[j] != &norm) return false;
      store_norm = false;
    }
    a.t[0] = desc(w);
    a.t[2] = desc(&x);
    a.t[3] = desc(add ? add->src[1] : nullptr);
    a.t[4] = desc(&norm);
    std::memcpy(a.p, norm.p.raw, sizeof a.p);
    a.u[4] = norm.op == op::rms_norm ? 0 : 1;
    a.u[5] = (add ? 3 : 1) | (store_norm ? 4 : 0) | (store_mul ? 8 : 0);
    const uint64_t sum_addr = add ? (uint64_t)reinterpret_cast<uintptr_t>(add->data) : 0;
    a.u[2] = (uint32_t)sum_addr;
    a.u[3] = (uint32_t)(sum_addr >> 32);
    a.u[6] = 0;
    a.u[7] = with_i8 ? 1 : 0;
    next_reads_ = {span_of(&x), span_of(w)};
    next_writes_ = {{scratch_.addr, scratch_.addr + scratch_bytes(*c)}};
    if (store_norm) next_writes_.push_back(span_of(&norm));
    if (store_mul) next_writes_.push_back(span_of(&m));
    if (add) {
      next_reads_.push_back(span_of(add->src[1]));
      next_writes_.push_back(span_of(add));
    }
    if (profile_ == 1) next_label_ = "norm_round_" + lower(dtype_name(act));
    ++n_fused_;
    dispatch_1d("quant_b_norm_" + lower(dtype_name(act)), a, (uint64_t)m.nelements() / 256);
    cache_rounded(m, act, with_i8);
    return true;
  }

  // Whether every node from nodes[from] on that reads m is a product of it finding m's rounding (to
  // act) still in the scratch: no product of other activations comes between.
  bool only_cached_readers(const std::vector<tensor*>& nodes, size_t from, const tensor& m, dtype act) const {
    if (m.flags & tf_output) return false;
    for (uint32_t j : list_of(views_, &m))
      if (j >= from && nodes[j] != &m) return false;
    uint32_t m_products = 0;  // products of m met so far, from nodes[from] on
    for (uint32_t j : list_of(readers_, &m)) {
      if (j < from) continue;
      const tensor& n = *nodes[j];
      if (n.op != op::mul_mat || n.src[1] != &m || vec_dot_type(n.src[0]->type) != act) return false;
      if (products_before_[j] - products_before_[from] != m_products) return false;  // another product came between
      ++m_products;
    }
    return true;
  }

  // Per compute: the nodes (not views or leaves) that read each storage through a source, the
  // nodes whose own storage is each storage (views of it), and how many products come before each
  // node. The fusion checks ask "who else reads this?" for many nodes; scanning the node list each
  // time cost ~1 ms of host time per token for an 8B graph on the H200.
  std::unordered_map<const tensor*, std::vector<uint32_t>> readers_, views_;
  std::vector<uint32_t> products_before_;
  static const std::vector<uint32_t>& list_of(const std::unordered_map<const tensor*, std::vector<uint32_t>>& map, const tensor* t) {
    static const std::vector<uint32_t> none;
    const auto it = map.find(t);
    return it == map.end() ? none : it->second;
  }
  void index_readers(const std::vector<tensor*>& nodes) {
    for (auto& [t, list] : readers_) list.clear();
    for (auto& [t, list] : views_) list.clear();
    products_before_.assign(nodes.size() + 1, 0);
    for (size_t j = 0; j < nodes.size(); ++j) {
      const tensor& n = *nodes[j];
      products_before_[j + 1] = products_before_[j] + (n.op == op::mul_mat || n.op == op::mul_mat_id ? 1 : 0);
      if (n.view_src) views_[n.storage()].push_back((uint32_t)j);
      if (n.op == op::view || n.op == op::none) continue;
      for (const tensor* src : n.src) {
        if (!src) continue;
        std::vector<uint32_t>& list = readers_[src->storage()];
        if (list.empty() || list.back() != (uint32_t)j) list.push_back((uint32_t)j);
      }
    }
  }
  // Whether node index j is the only node (views and leaves aside) reading storage t.
  bool sole_reader(const tensor* t, size_t j) const {
    const std::vector<uint32_t>& list = list_of(readers_, t);
    return list.size() == 1 && list[0] == (uint32_t)j;
  }

  void norm_fused(const tensor* add, const tensor& norm, const tensor* mul, const tensor* w, const tensor* q8k_user = nullptr) {
    const tensor& x = add ? *add->src[0] : *norm.src[0];
    dispatch_args a{};
    a.t[0] = desc(&x);
    a.t[4] = desc(&norm);
    std::memcpy(a.p, norm.p.raw, sizeof a.p);
    a.u[0] = norm.op == op::rms_norm ? 0 : 1;
    next_reads_ = {span_of(&x)};
    next_writes_ = {span_of(&norm)};
    if (add) {
      a.t[1] = desc(add->src[1]);
      a.aux[0] = (uint64_t)reinterpret_cast<uintptr_t>(add->data);
      a.u[2] |= 1;
      next_reads_.push_back(span_of(add->src[1]));
      next_writes_.push_back(span_of(add));
    }
    if (mul) {
      a.t[2] = desc(w);
      a.t[3] = desc(mul);
      a.u[2] |= 2;
      next_reads_.push_back(span_of(w));
      next_writes_.push_back(span_of(mul));
    }
    if (q8k_user) {
      a.u[2] |= 4;
      a.u[3] = (uint32_t)round_up((size_t)mul->ne[0], 16);
      a.aux[1] = scratch_.addr;
      next_writes_.push_back({scratch_.addr, scratch_.addr + scratch_bytes(*q8k_user)});
    }
    ++n_fused_;
    dispatch_1d("norm", a, (uint64_t)norm.nrows());
    if (q8k_user) {
      // The product finds its activations already rounded in the scratch.
      cached_b_ = mul;
      cached_i8_ = false;
      cached_act_ = dtype::q8_k;
      cached_addr_ = (uint64_t)reinterpret_cast<uintptr_t>(mul->data);
    }
  }

  // A one-token product on the integer dot product kernel whose result a rope (normal mode, so a
  // pair of elements is in one workgroup) reads, alone: the product ropes it and writes the rope's
  // output, and stores it into the KV cache when a set_rows does so after the rope (rope_store).
  // Without a rope, a set_rows storing the product's result into a cache: the product stores it
  // too. No node in between may touch that cache. HEARTH_VK_ROPE_PRODUCT=0: separate dispatches.
  bool product_epilogue(const std::vector<tensor*>& nodes, size_t i, epilogue& ep) {
    const tensor& n = *nodes[i];
    const tensor& A = *n.src[0];
    const tensor& B = *n.src[1];
    if (B.ne[1] != 1 || n.nelements() != n.ne[0] || n.type != dtype::f32 || !n.is_contiguous() || (n.flags & tf_output)) return false;
    if (!rounds_to_i8(n) || !dp_matvec(A)) return false;
    auto views_of_n = [&](const tensor* t) { return t && t->storage() == &n && t->data == n.data && t->is_contiguous(); };
    const size_t end = std::min(nodes.size(), i + 16);
    for (size_t j = i + 1; j < end && !ep.rope && !ep.store; ++j) {
      const tensor& c = *nodes[j];
      if (c.op == op::rope && views_of_n(c.src[0])) {
        rope_params rp;
        std::memcpy(&rp, c.p.raw, sizeof rp);
        if (rp.mode != rope_mode::normal || c.type != dtype::f32 || !c.is_contiguous() || c.ne[2] != 1 || c.ne[3] != 1 ||
            c.ne[0] % 2 != 0 || c.nelements() != n.nelements() || c.src[1]->type != dtype::i32)
          return false;
        // The rope is the product's only reader (its unroped result is not stored).
        if (!sole_reader(&n, j)) return false;
        ep.rope = &c;
        if (rope_store_on()) {
          ep.store = rope_store(nodes, j);
          if (ep.store && !cache_untouched(nodes, i, j, *ep.store)) ep.store = nullptr;
        }
      } else if (c.op == op::set_rows && views_of_n(c.src[1]) && c.src[1]->ne[0] == n.ne[0] && c.src[1]->ne[1] == 1 &&
                 c.src[0]->nb[0] == type_size(c.src[0]->type) && (c.src[0]->type == dtype::f32 || c.src[0]->type == dtype::f16) &&
                 c.src[0]->ne[2] == 1 && c.src[0]->ne[3] == 1 && c.src[2]->ne[0] == 1 && fits32(&c) &&
                 cache_untouched(nodes, i, j, c)) {
        ep.store = &c;
      }
    }
    return ep.rope || ep.store;
  }
  // gate = nodes[i], up, swiglu(gate, up), down(swiglu): one token, Q4_K/Q6_K weights on the
  // integer dot product kernel, rows a multiple of 256. Gate and up become one dispatch whose last
  // workgroup per block of 256 computes the swiglu and rounds it for down (matvec_dp.comp, GLU_ROUND):
  // the glu's rounding dispatch and its barrier level go. Opt-in (HEARTH_VK_GLU_ROUND=1): correct
  // on the H200 (test_vulkan), but tg128 +1.2% on an 8B model and -2.4% on a 1B one there.
  bool glu_pair(const std::vector<tensor*>& nodes, size_t i) const {
    const tensor& g = *nodes[i];
    const tensor& u = *nodes[i + 1];
    const tensor& act = *nodes[i + 2];
    const tensor& down = *nodes[i + 3];
    auto one_token_dp = [&](const tensor& p, const tensor& b) {
      if (p.op != op::mul_mat || p.src[1] != &b || b.ne[1] != 1 || b.nelements() != b.ne[0]) return false;
      const dtype t = p.src[0]->type;
      if ((t != dtype::q4_k && t != dtype::q6_k) || !dp_matvec(*p.src[0]) || p.src[0]->ne[2] != 1 || p.src[0]->ne[3] != 1) return false;
      return rounds_to_i8(p) && p.type == dtype::f32 && p.is_contiguous();
    };
    if (!one_token_dp(g, *g.src[1]) || !one_token_dp(u, *g.src[1]) || g.src[0]->type != u.src[0]->type || g.ne[0] != u.ne[0] ||
        g.ne[0] % 256 != 0)
      return false;
    if (act.op != op::glu || act.p.i(0) == 1 || act.src[0] != &g || act.src[1] != &u || act.type != dtype::f32 || !act.is_contiguous() ||
        act.nelements() != g.ne[0] || (act.flags & tf_output))
      return false;
    if (!one_token_dp(down, act) || down.src[0]->ne[0] != g.ne[0]) return false;
    const span so = span_of(&act);
    if (overlaps({span_of(&g), span_of(&u)}, so) || overlaps({span_of(&g)}, span_of(&u))) return false;
    // Only down reads the glu (nothing finds its float rounding in the main scratch).
    return sole_reader(&act, i + 3);
  }

  // No node strictly between nodes[i] and nodes[j] touches the cache that set_rows st writes, or its ids.
  static bool cache_untouched(const std::vector<tensor*>& nodes, size_t i, size_t j, const tensor& st) {
    for (size_t k = i + 1; k < j; ++k) {
      const tensor& m = *nodes[k];
      if (m.op == op::none || m.op == op::view) continue;
      if (m.storage() == st.storage() || m.storage() == st.src[2]->storage()) return false;
      for (const tensor* s : m.src)
        if (s && s->storage() == st.storage()) return false;
    }
    return true;
  }
  static bool rope_store_on() {
    static const bool on = env_on("HEARTH_VK_ROPE_STORE");
    return on;
  }

  // The set_rows soon after a rope that stores the rope's result (reshaped to one row per token)
  // into a cache, when no node in between touches that cache: the rope kernel can store it too.
  const tensor* rope_store(const std::vector<tensor*>& nodes, size_t i) const {
    const tensor& r = *nodes[i];
    if (r.type != dtype::f32 || !r.is_contiguous() || r.ne[3] != 1) return nullptr;
    for (size_t j = i + 1; j < std::min(nodes.size(), i + 8); ++j) {
      const tensor& c = *nodes[j];
      if (c.op == op::set_rows && c.src[1]->data == r.data && c.src[1]->is_contiguous() && c.src[1]->ne[0] == r.ne[0] * r.ne[1] &&
          c.src[1]->ne[1] == r.ne[2] && c.src[1]->nelements() == r.nelements() && c.src[0]->nb[0] == type_size(c.src[0]->type) &&
          c.src[0]->ne[2] == 1 && c.src[0]->ne[3] == 1 && c.src[2]->ne[0] == r.ne[2] && fits32(&c)) {
        for (size_t k = i + 1; k < j; ++k) {
          const tensor& m = *nodes[k];
          if (m.op == op::none || m.op == op::view) continue;
          if (m.storage() == c.storage() || m.storage() == c.src[2]->storage()) return nullptr;
          for (const tensor* s : m.src)
            if (s && (s->storage() == c.storage() || s->storage() == r.storage())) return nullptr;
        }
        return &c;
      }
    }
    return nullptr;
  }

  // theta_scale, the YaRN corrections and the magnitude scale of a rope, as rope.comp reads them.
  static void rope_angles(const tensor& n, uint32_t out[4]) {
    rope_params rp;
    std::memcpy(&rp, n.p.raw, sizeof rp);
    const int n_dims = rp.n_rot;
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
    out[0] = f2u(theta_scale);
    out[1] = f2u(corr0);
    out[2] = f2u(corr1);
    out[3] = f2u(mscale);
  }

  void rope(const tensor& n, const tensor* store = nullptr) {
    dispatch_args a = args_of(n);
    rope_angles(n, a.u);
    a.u[4] = n.src[2] ? 1 : 0;
    if (store) {
      const tensor& S = *store->src[0];
      a.t[3] = desc(store->src[2]);
      a.aux[0] = (uint64_t)reinterpret_cast<uintptr_t>(store->data);
      a.u[5] = 1 | (S.type == dtype::f16 ? 2 : 0);
      a.u[6] = (uint32_t)store->nb[1];
      a.u[7] = (uint32_t)store->ne[1];
      next_reads_.push_back(span_of(store->src[2]));
      next_writes_.push_back(span_of(store));
    }
    const uint64_t threads = (uint64_t)(n.src[0]->ne[0] / 2) * (uint64_t)n.src[0]->ne[1] * (uint64_t)n.src[0]->ne[2];
    dispatch_1d("rope", a, (threads + 63) / 64);
  }

  // Whether quant_b also writes the int8 values and scales that matvec_dp reads for product n (one
  // column rounded to int8 blocks on a device with integer dot products).
  bool rounds_to_i8(const tensor& n) const {
    const dtype act = vec_dot_type(n.src[0]->type);
    return (act == dtype::q8_k || act == dtype::q8_0 || act == dtype::q8_1) && n.src[1]->ne[1] == 1 && d_.info().dot4 && dp_enabled();
  }
  // The arguments of product n (its activations' rounding in the scratch).
  dispatch_args product_args(const tensor& n) const {
    const tensor& B = *n.src[1];
    dispatch_args a = args_of(n);
    a.u[0] = (uint32_t)round_up((size_t)B.ne[0], 16);
    a.u[1] = (uint32_t)B.ne[1];
    const act_regions reg = act_layout(B);
    a.aux[0] = scratch_.addr;
    a.aux[1] = scratch_.addr + reg.sums;
    a.aux[2] = scratch_.addr + reg.i8;
    a.aux[3] = scratch_.addr + reg.meta;
    return a;
  }
  // The product's activations are now rounded in the scratch (shared by the next products of them).
  void cache_rounded(const tensor& B, dtype act, bool with_i8) {
    cached_b_ = &B;
    cached_act_ = act;
    cached_addr_ = (uint64_t)reinterpret_cast<uintptr_t>(B.data);
    cached_i8_ = with_i8;
    cached_glu_ = false;
  }

  // "_b2" when a thread of matvec_dp has several work items for K (the items of a thread are
  // K / 4096 for Q4_K, K / 2048 for the other types; see n_work and WG in matvec_dp.comp): the
  // variant that issues the loads of two items before their arithmetic, doubling the weight bytes
  // each thread has in flight. With one item per thread (K = 4096 Q4_K products) it would only
  // cost registers. HEARTH_VK_MMV_BATCH=0: one item's loads at a time, as before (comparisons).
  static std::string dp_batch_suffix(dtype type, uint32_t K, bool q4k_slice32) {
    static const bool on = env_on("HEARTH_VK_MMV_BATCH");
    const uint64_t items = type == dtype::q4_k   ? (uint64_t)K / 256 * (q4k_slice32 ? 4 : 8)
                           : type == dtype::q6_k ? (uint64_t)K / 256 * 16
                                                 : (uint64_t)K / 32 * 2;
    const uint64_t wg = type == dtype::q4_k && q4k_slice32 ? 64 : 128;
    return on && items > wg ? "_b2" : "";
  }

  void mul_mat(const tensor& n, const tensor* glu = nullptr, const epilogue* ep = nullptr) {
    const tensor& A = *n.src[0];
    const tensor& B = *n.src[1];
    const uint32_t K = (uint32_t)B.ne[0];
    const uint32_t Kp = (uint32_t)round_up(K, 16);
    const uint64_t rows = (uint64_t)(B.ne[1] * B.ne[2] * B.ne[3]);
    const dtype act = vec_dot_type(A.type);
    const bool with_i8 = rounds_to_i8(n);
    dispatch_args a = product_args(n);
    const span scratch{scratch_.addr, scratch_.addr + scratch_bytes(n)};
    // The rounded activations stay in the scratch until the next product with other activations
    // (q, k and v, or gate and up, share theirs).
    if (glu || cached_b_ != &B || cached_act_ != act || cached_addr_ != (uint64_t)reinterpret_cast<uintptr_t>(B.data) ||
        (with_i8 && !cached_i8_)) {
      next_reads_ = {span_of(&B)};
      next_writes_ = {scratch};
      dispatch_args qa = a;
      if (glu) {
        qa.t[2] = desc(glu->src[0]);
        qa.t[3] = desc(glu->src[1]);
        qa.u[6] = 1;
        next_reads_ = {span_of(glu->src[0]), span_of(glu->src[1])};
        next_writes_.push_back(span_of(glu));
      }
      qa.u[7] = with_i8 ? 1 : 0;
      dispatch_1d("quant_b_" + lower(dtype_name(act)), qa, (rows * Kp + 255) / 256);
      cache_rounded(B, act, with_i8);
    }
    next_reads_ = {span_of(&A), scratch};
    next_writes_ = {span_of(&n)};
    if (cached_glu_) {
      // The activations were rounded by the gate and up products (glu_round): int8 values and scales
      // in the glu scratch, for matvec_dp (glu_pair made sure this product takes it).
      const glu_regions gr = glu_layout((uint32_t)B.ne[0]);
      a.aux[2] = glu_scratch_.addr + gr.i8;
      a.aux[3] = glu_scratch_.addr + gr.meta;
      next_reads_ = {span_of(&A), {glu_scratch_.addr, glu_scratch_.addr + gr.total}};
    }
    const std::string t = lower(dtype_name(A.type));
    const uint32_t M = (uint32_t)A.ne[1];
    const uint32_t batches = (uint32_t)(n.ne[2] * n.ne[3]);
    if (B.ne[1] == 1 && cached_i8_ && with_i8 && dp_matvec(A)) {
      if (ep && ep->glu) {
        const tensor& up = *ep->up;
        const glu_regions gr = glu_layout(M);
        a.t[1] = desc(up.src[0]);
        a.t[2] = desc(&n);
        a.t[3] = desc(&up);
        a.t[4] = desc(ep->glu);
        a.u[1] = (M + 3) / 4;
        a.aux[0] = glu_scratch_.addr;
        a.aux[1] = glu_scratch_.addr + gr.meta;
        const uint64_t i8 = glu_scratch_.addr + gr.i8;
        a.p[2] = (int32_t)(uint32_t)i8;
        a.p[3] = (int32_t)(uint32_t)(i8 >> 32);
        next_reads_.push_back(span_of(up.src[0]));
        next_writes_ = {span_of(&n), span_of(&up), span_of(ep->glu), {glu_scratch_.addr, glu_scratch_.addr + gr.total}};
        const uint32_t groups = 2 * a.u[1];
        const uint32_t gx = std::min<uint32_t>(groups, 65535);
        if (profile_ == 1) next_label_ = "mv_dp_glu_" + t + " 2x" + std::to_string(M) + "x" + std::to_string(K);
        dispatch("matvec_dp_glu_" + t + dp_batch_suffix(A.type, K, false), a, gx, (groups + gx - 1) / gx, 1);
        cache_rounded(*ep->glu, dtype::q8_k, true);
        cached_glu_ = true;
        return;
      }
      if (ep) {
        if (ep->rope) {
          const tensor& r = *ep->rope;
          a.t[1] = desc(r.src[1]);
          a.t[2] = desc(r.src[2]);
          a.t[4] = desc(&r);
          uint32_t ang[4];
          rope_angles(r, ang);
          std::copy(ang, ang + 4, a.u + 1);
          a.u[5] = 1 | (r.src[2] ? 2 : 0);
          std::memcpy(a.p, r.p.raw, sizeof a.p);  // n_rot p[0], freq_scale p[4], ext_factor p[5]
          a.p[1] = (int32_t)r.ne[0];
          next_reads_.push_back(span_of(r.src[1]));
          if (r.src[2]) next_reads_.push_back(span_of(r.src[2]));
          next_writes_ = {span_of(&r)};
        } else {
          a.p[1] = (int32_t)M;  // one "head": i0 = m (no rope)
        }
        if (ep->store) {
          const tensor& st = *ep->store;
          a.t[3] = desc(st.src[2]);
          a.aux[0] = (uint64_t)reinterpret_cast<uintptr_t>(st.data);
          a.u[5] |= 4 | (st.src[0]->type == dtype::f16 ? 8 : 0);
          a.u[6] = (uint32_t)st.nb[1];
          a.u[7] = (uint32_t)st.ne[1];
          next_reads_.push_back(span_of(st.src[2]));
          next_writes_.push_back(span_of(&st));
        }
      }
      // The plain Q4_K product takes 2 rows per workgroup (its shader variant reads 32 quant bytes per
      // thread); HEARTH_VK_Q4K_WIDE=0 picks the previous one (16 bytes, 4 rows) to compare. On the
      // H200 (docs/device-runs/vulkan-mmv.txt) 14336 x 4096: 30.3 -> 25.5 us per product, 8B Q4_K_M
      // tg128 +3.7%.
      static const bool q4k_narrow = !env_on("HEARTH_VK_Q4K_WIDE");
      const bool q4k_plain = !ep && A.type == dtype::q4_k;
      const std::string name = q4k_plain && q4k_narrow ? "matvec_dp16_q4_k"
                                                       : (ep ? "matvec_dp_rs_" : "matvec_dp_") + t + dp_batch_suffix(A.type, K, q4k_plain);
      const uint32_t rows = q4k_plain && !q4k_narrow ? 2 : 4;
      const uint32_t groups = (M + rows - 1) / rows;
      const uint32_t gx = std::min<uint32_t>(groups, 65535);
      if (profile_ == 1) next_label_ = (ep ? "mv_dp_rs_" : "mv_dp_") + t + " " + std::to_string(M) + "x" + std::to_string(K);
      dispatch(name, a, gx, (groups + gx - 1) / gx, batches);
    } else if (B.ne[1] == 1 && wide_matvec(A)) {
      static const int rows_env = std::getenv("HEARTH_VK_MV_ROWS") ? std::atoi(std::getenv("HEARTH_VK_MV_ROWS")) : 0;
      const uint32_t rows_per_wg = rows_env == 2 || rows_env == 8 ? (uint32_t)rows_env : 4;
      const uint32_t groups = (M + rows_per_wg - 1) / rows_per_wg;
      const uint32_t gx = std::min<uint32_t>(groups, 65535);
      if (profile_ == 1) next_label_ = "mv_" + t + " " + std::to_string(M) + "x" + std::to_string(K);
      dispatch((rows_per_wg == 4 ? "matvec_wide_" : rows_per_wg == 2 ? "matvec_wide2_" : "matvec_wide8_") + t, a, gx,
               (groups + gx - 1) / gx, batches);
    } else if (B.ne[1] == 1) {
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
      cached_i8_ = false;
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
  VkCommandBuffer graph_cmd_ = VK_NULL_HANDLE, copy_cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool in_flight_ = false;
  // round_ctr_: the q8_K block counters of attentions that round their output (zeroed at allocation).
  allocation arena_, staging_, scratch_, att_scratch_, glu_scratch_, round_ctr_;
  size_t staging_used_ = 0;
  std::vector<pending_copy> pending_;
  std::vector<span> spans_, rec_spans_;
  std::vector<step> order_;
  uint64_t rec_barriers_ = 0;
  // The graph being recorded, and the one graph_cmd_ holds.
  std::vector<command> cmds_, rec_cmds_;
  std::vector<uint8_t> args_, rec_args_;
  std::vector<pending_copy> rec_pending_;
  VkBuffer rec_staging_ = VK_NULL_HANDLE;
  bool recorded_ = false;
  uint64_t rec_released_ = 0;
  std::vector<int64_t> key_, rec_key_;  // append_node_key of this compute's nodes and of the recording's
  uint64_t rec_plan_id_ = 0;            // the plan id of the recording's node list (0: unknown)
  // HEARTH_VK_WALK=1: walk the nodes every compute, comparing dispatches instead of keys (comparisons)
  const bool walk_always_ = env_is("HEARTH_VK_WALK", "1");
  std::unordered_map<std::string, VkPipeline> pipes_;  // the device's pipelines, without its lock
  std::string next_label_;                              // HEARTH_VK_PROFILE=1: the next dispatch's name in the profile
  std::set<std::string> labels_;
  std::unordered_set<const tensor*> stored_;  // set_rows nodes a rope before them already did
  const tensor* cached_b_ = nullptr;
  bool cached_i8_ = false;  // the cached activations have their int8 q8_K blocks too
  dtype cached_act_ = dtype::f32;
  uint64_t cached_addr_ = 0;
  uint64_t n_fused_ = 0;
  uint64_t n_dispatches_ = 0, n_barriers_ = 0, n_submits_ = 0, n_computes_ = 0, n_reused_ = 0, n_gpu_timed_ = 0;
  double host_s_ = 0, host_reused_s_ = 0, wait_s_ = 0, gpu_ns_ = 0, walk_s_ = 0, submit_s_ = 0;
  int profile_ = 0;
  bool fuse_q8k_ = false;
  bool norm_round_ = true;
  bool rope_product_ = true;
  bool glu_round_ = false;
  bool cached_glu_ = false;  // the cached activations are in glu_scratch_ (int8 and scales only)
  bool attn_round_ = true;
  VkQueryPool qpool_ = VK_NULL_HANDLE;
  uint32_t qpool_cap_ = 0, rec_queries_ = 0, in_flight_queries_ = 0;
  std::vector<const std::string*> prof_names_;
  std::map<std::string, std::pair<double, uint64_t>> prof_;
};

}  // namespace

std::unique_ptr<stream> make_vk_stream(vk_device& dev) { return std::make_unique<vk_stream>(dev); }

}  // namespace hearth::vk
