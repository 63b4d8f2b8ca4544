#include "model/loader.h"

#include <algorithm>
#include <map>
#include <set>

#include "backend/registry.h"
#include "core/env.h"
#include "core/error.h"
#include "core/log.h"
#include "model/archs/archs.h"

namespace hearth {

tensor* model::find(const std::string& name) {
  for (tensor& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::pair<device*, uint64_t>> model::weight_bytes() const {
  std::map<device*, uint64_t> by;
  for (const tensor& t : tensors_) if (t.buf) by[t.buf->dev()] += t.nbytes();
  return {by.begin(), by.end()};
}

uint64_t model::n_params() const {
  uint64_t n = 0;
  std::set<std::string> seen;
  for (const tensor& t : tensors_)
    if (seen.insert(t.name).second) n += (uint64_t)t.nelements();
  return n;
}

placement plan_placement(uint32_t n_layer, device* cpu, const std::vector<device*>& gpus, int n_gpu_layers, bool gpu_input) {
  placement p;
  p.input = cpu;
  p.layers.assign(n_layer, cpu);
  p.output = cpu;
  if (gpus.empty() || n_gpu_layers == 0) return p;
  const uint32_t n_gpu = n_gpu_layers < 0 ? n_layer : std::min<uint32_t>((uint32_t)n_gpu_layers, n_layer);
  const uint32_t first = n_layer - n_gpu;
  for (uint32_t il = first; il < n_layer; ++il) {
    const size_t g = (size_t)(il - first) * gpus.size() / std::max<uint32_t>(1, n_gpu);
    p.layers[il] = gpus[std::min(g, gpus.size() - 1)];
  }
  p.output = n_gpu > 0 ? p.layers[n_layer - 1] : cpu;
  if (gpu_input && n_gpu == n_layer && n_layer > 0) p.input = p.layers[0];
  return p;
}

bool can_embed_on(const model& m, device* dev) {
  const gguf::tensor_info* ti = m.file ? m.file->find_tensor("token_embd.weight") : nullptr;
  if (!ti || !dev) return false;
  tensor w, ids, rows;
  w.type = ti->type;
  std::copy(std::begin(ti->ne), std::end(ti->ne), w.ne);
  set_contiguous_strides(w);
  ids.type = dtype::i32;
  ids.ne[0] = 512;  // a prompt batch of tokens
  set_contiguous_strides(ids);
  rows.op = op::get_rows;
  rows.type = dtype::f32;
  rows.ne[0] = w.ne[0];
  rows.ne[1] = ids.ne[0];
  set_contiguous_strides(rows);
  rows.src[0] = &w;
  rows.src[1] = &ids;
  return dev->supports_op(rows);
}

namespace {

class declarer final : public tensor_declarer {
 public:
  declarer(model& m) : m_(m) {}

  tensor* need(const std::string& name, std::initializer_list<int64_t> ne, int il, bool required) override {
    const gguf::tensor_info* ti = m_.file->find_tensor(name);
    if (!ti) {
      if (required) fail(error_kind::bad_format, "{}: missing tensor '{}'", m_.path, name);
      return nullptr;
    }
    int64_t want[4] = {1, 1, 1, 1};
    int i = 0;
    for (int64_t x : ne) want[i++] = x;
    for (int d = 0; d < 4; ++d) {
      if (ti->ne[d] != want[d]) {
        fail(error_kind::bad_format, "{}: tensor '{}' has shape [{}, {}, {}, {}], expected [{}, {}, {}, {}]", m_.path, name, ti->ne[0],
             ti->ne[1], ti->ne[2], ti->ne[3], want[0], want[1], want[2], want[3]);
      }
    }
    if (!traits(ti->type).computable)
      fail(error_kind::unsupported, "{}: tensor '{}' has type {}, which Hearth cannot run yet", m_.path, name, dtype_name(ti->type));
    device* dev = il == place_input ? m_.place.input : il == place_output ? m_.place.output : m_.place.layers[il];
    auto key = std::make_pair(name, dev);
    auto it = made_.find(key);
    if (it != made_.end()) return it->second;
    tensor& t = m_.tensors().emplace_back();
    t.type = ti->type;
    std::copy(std::begin(ti->ne), std::end(ti->ne), t.ne);
    set_contiguous_strides(t);
    t.name = name;
    t.flags = tf_weight;
    made_[key] = &t;
    by_dev_[dev].push_back({&t, ti});
    used_.insert(name);
    return &t;
  }

  struct pending { tensor* t; const gguf::tensor_info* ti; };
  std::map<device*, std::vector<pending>>& by_device() { return by_dev_; }
  const std::set<std::string>& used() const { return used_; }

 protected:
  bool has_tensor(const std::string& name) const override { return m_.file->find_tensor(name) != nullptr; }

 private:
  model& m_;
  std::map<std::pair<std::string, device*>, tensor*> made_;
  std::map<device*, std::vector<pending>> by_dev_;
  std::set<std::string> used_;
};

void place_weights(model& m, declarer& d, const load_params& params) {
  const gguf::file& f = *m.file;
  uint64_t total = 0, done = 0;
  for (auto& [dev, list] : d.by_device())
    if (dev->kind() != device_kind::cpu || !params.use_mmap)
      for (auto& p : list) total += p.ti->size;
  for (auto& [dev, list] : d.by_device()) {
    if (dev->kind() == device_kind::cpu && params.use_mmap && f.mapping()) {
      // Zero-copy: the CPU computes straight from the page cache.
      const uint64_t data_bytes = f.file_size() - f.data_offset();
      auto buf = dev->wrap_host(const_cast<uint8_t*>(f.base() + f.data_offset()), data_bytes);
      HEARTH_ASSERT(buf);
      for (auto& p : list) buf->place(*p.t, p.ti->offset);
      f.mapping()->prefetch(f.data_offset(), data_bytes);
      m.buffers().push_back(std::move(buf));
      continue;
    }
    buffer_type* bt = dev->default_buffer_type();
    const size_t align = bt->alignment();
    const size_t max_size = bt->max_size();
    // Pack tensors into as few buffers as the device's largest allocation allows.
    size_t i = 0;
    while (i < list.size()) {
      std::vector<std::pair<declarer::pending, size_t>> chunk;
      size_t size = 0;
      for (; i < list.size(); ++i) {
        const size_t need = bt->alloc_size(*list[i].t);
        const size_t at = (size + align - 1) / align * align;
        if (!chunk.empty() && at + need > max_size) break;
        if (need > max_size)
          fail(error_kind::out_of_memory, "{}: tensor '{}' ({:.1f} MiB) exceeds the device's largest allocation ({:.1f} MiB)",
               dev->name(), list[i].t->name, need / 1048576.0, max_size / 1048576.0);
        chunk.emplace_back(list[i], at);
        size = at + need;
      }
      std::unique_ptr<buffer> buf;
      try {
        buf = bt->allocate(size);
      } catch (const error& e) {
        fail(error_kind::out_of_memory, "{}: not enough memory for the model's weights ({:.1f} MiB more): {}", dev->name(),
             size / 1048576.0, e.what());
      }
      for (auto& [p, at] : chunk) {
        buf->place(*p.t, at);
        buf->set(*p.t, f.tensor_data(*p.ti), 0, p.ti->size);
        done += p.ti->size;
        if (params.progress && total) params.progress((float)done / (float)total);
      }
      m.buffers().push_back(std::move(buf));
    }
  }
}

}  // namespace

std::unique_ptr<model> open_model(const std::string& path) {
  auto m = std::make_unique<model>();
  m->path = path;
  m->file = gguf::file::open(path);
  m->hp = hparams::from_gguf(*m->file);
  const gguf::tensor_info* emb = m->file->find_tensor("token_embd.weight");
  if (!emb) fail(error_kind::bad_format, "{}: missing tensor 'token_embd.weight'", path);
  if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 24)) fail(error_kind::bad_format, "{}: implausible vocabulary size {}", path, emb->ne[1]);
  m->hp.n_vocab = (uint32_t)emb->ne[1];
  m->hp.tied_output = m->file->find_tensor("output.weight") == nullptr;
  return m;
}

std::unique_ptr<model> load_shape(const std::string& path, const placement& p) {
  auto m = open_model(path);
  m->place = p;
  m->w.layers.resize(m->hp.n_layer);
  declarer d(*m);
  arch_for(m->hp.a).declare(d, m->hp, m->w);
  for (auto& [dev, list] : d.by_device()) {
    buffer_type* bt = dev->default_buffer_type();
    std::vector<size_t> offs;
    size_t size = 0;
    for (auto& pd : list) {
      size = (size + bt->alignment() - 1) / bt->alignment() * bt->alignment();
      offs.push_back(size);
      size += bt->alloc_size(*pd.t);
    }
    auto buf = std::make_unique<placeholder_buffer>(bt, size);
    for (size_t k = 0; k < list.size(); ++k) buf->place(*list[k].t, offs[k]);
    m->buffers().push_back(std::move(buf));
  }
  return m;
}

std::unique_ptr<model> load_model(const std::string& path, const load_params& params) {
  auto m = open_model(path);
  m->voc = vocab::from_gguf(*m->file);
  if (m->voc->n_tokens() != (int32_t)m->hp.n_vocab)
    log_debug("{}: vocabulary has {} tokens, the embedding {} rows", path, m->voc->n_tokens(), m->hp.n_vocab);
  m->chat_template = m->file->get_string("tokenizer.chat_template", "");
  // HEARTH_GPU_EMBED=0: the token embeddings stay on the CPU (comparisons)
  const bool embed = env_on("HEARTH_GPU_EMBED");
  m->place = plan_placement(m->hp.n_layer, registry::instance().cpu(), params.gpus, params.n_gpu_layers,
                            embed && params.gpu_input && !params.gpus.empty() && can_embed_on(*m, params.gpus[0]));
  m->w.layers.resize(m->hp.n_layer);
  declarer d(*m);
  arch_for(m->hp.a).declare(d, m->hp, m->w);
  for (const auto& t : m->file->tensors())
    if (!d.used().count(t.name)) log_debug("{}: tensor '{}' is not used by the {} graph", path, t.name, arch_name(m->hp.a));
  place_weights(*m, d, params);
  log_info("loaded {} ({})", path, m->hp.describe());
  return m;
}

std::unique_ptr<model> load_model_retrying(const std::string& path, load_params lp) {
  int n_layer = -1;  // read from the file's header at the first failure only
  for (;;) {
    try {
      return load_model(path, lp);
    } catch (const error& e) {
      if (e.kind() != error_kind::out_of_memory || lp.gpus.empty() || lp.n_gpu_layers == 0) throw;
      if (n_layer < 0) n_layer = (int)open_model(path)->hp.n_layer;
      const int had = lp.n_gpu_layers < 0 ? n_layer : lp.n_gpu_layers;
      if (lp.gpu_input && had >= n_layer) {
        lp.gpu_input = false;
        log_warn("{}; retrying with the token embeddings on the CPU", e.what());
        continue;
      }
      lp.n_gpu_layers = std::max(0, had - std::max(1, had / 8));
      log_warn("{}; retrying with {} GPU layers", e.what(), lp.n_gpu_layers);
    }
  }
}

}  // namespace hearth
