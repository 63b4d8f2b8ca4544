#include "hub/library.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "formats/gguf.h"
#include "hub/hf.h"
#include "hub/paths.h"
#include "hub/transfer.h"

namespace hearth::hub {

namespace fs = std::filesystem;

library_locations library_locations::from_env() { return {models_root(), lmstudio_roots(), ollama_roots()}; }

// ---------------------------------------------------------------------------------------------
// metadata

std::string file_type_name(int64_t ft) {
  static const char* names[] = {
      "F32",     "F16",    "Q4_0",   "Q4_1",   "Q4_1_SOME_F16", nullptr, nullptr, "Q8_0",   "Q5_0",     "Q5_1",
      "Q2_K",    "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S",        "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",     "IQ2_XXS",
      "IQ2_XS",  "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S",        "IQ4_NL", "IQ3_S",  "IQ3_M",  "IQ2_S",    "IQ2_M",
      "IQ4_XS",  "IQ1_M",  "BF16",   "Q4_0_4_4", "Q4_0_4_8",    "Q4_0_8_8", "TQ1_0", "TQ2_0",  "MXFP4_MOE",
  };
  ft &= ~int64_t(1024);  // llama.cpp's "guessed" flag
  if (ft < 0 || ft >= (int64_t)(sizeof names / sizeof names[0]) || !names[ft]) return "";
  return names[ft];
}

std::string dominant_tensor_type(const gguf::file& f) {
  std::map<dtype, uint64_t> by_type;
  for (const auto& t : f.tensors())
    if (t.n_dims >= 2) by_type[t.type] += (uint64_t)t.nelements();
  if (by_type.empty()) return "";
  auto best = std::max_element(by_type.begin(), by_type.end(), [](auto& a, auto& b) { return a.second < b.second; });
  std::string name = dtype_name(best->first);
  for (auto& c : name) c = (char)std::toupper((unsigned char)c);
  return name;
}

gguf_summary summarize_gguf(const std::vector<std::string>& parts) {
  if (parts.empty()) fail(error_kind::invalid_argument, "no GGUF file given");
  gguf_summary s;
  std::map<dtype, uint64_t> by_type;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto f = gguf::file::open(parts[i]);
    for (const auto& t : f->tensors()) s.n_params += (uint64_t)t.nelements();
    if (i != 0) continue;
    auto str = [&](const std::string& key) {
      const gguf::value* v = f->find(key);
      return v && v->is_string() ? v->as_string() : std::string();
    };
    auto num = [&](const std::string& key, int64_t fallback) {
      const gguf::value* v = f->find(key);
      return v && v->is_number() ? v->as_i64() : fallback;
    };
    s.architecture = str("general.architecture");
    s.model_name = str("general.name");
    if (!s.architecture.empty()) s.context_length = num(s.architecture + ".context_length", 0);
    if (const int64_t ft = num("general.file_type", -1); ft >= 0) s.quantization = file_type_name(ft);
    if (s.quantization.empty()) s.quantization = dominant_tensor_type(*f);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// scanning

namespace {

bool has_gguf_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& c : e) c = (char)std::tolower((unsigned char)c);
  return e == ".gguf";
}

std::string lower(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

uint64_t size_of(const std::vector<std::string>& files) {
  uint64_t n = 0;
  for (const auto& f : files) {
    std::error_code ec;
    const auto sz = fs::file_size(f, ec);
    if (!ec) n += sz;
  }
  return n;
}

// GGUF models below root, in LM Studio's layout (any depth up to 4): single files and split sets.
std::vector<model_entry> scan_folder(const std::string& root, const std::string& source) {
  std::vector<model_entry> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  struct set_info {
    std::map<int, std::string> parts;
    int count = 0;
    std::string name;
  };
  std::map<std::string, set_info> sets;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    const std::string base = p.filename().string();
    if (it->is_directory(ec)) {
      if (!base.empty() && base[0] == '.') it.disable_recursion_pending();
      if (it.depth() >= 3) it.disable_recursion_pending();
      continue;
    }
    if (!has_gguf_ext(p) || base[0] == '.' || lower(base).rfind("mmproj", 0) == 0) continue;
    if (!fs::is_regular_file(p, ec) && !fs::is_symlink(p, ec)) continue;
    const std::string rel = p.lexically_relative(root).generic_string();
    if (auto sp = parse_split_name(base)) {
      const std::string rel_dir = p.parent_path().lexically_relative(root).generic_string();
      const std::string key = rel_dir + "/" + sp->prefix + "/" + std::to_string(sp->count);
      auto& s = sets[key];
      s.parts[sp->index] = p.string();
      s.count = sp->count;
      s.name = (rel_dir == "." ? std::string() : rel_dir + "/") + sp->prefix;
      continue;
    }
    model_entry m;
    m.name = rel.substr(0, rel.size() - 5);
    m.source = source;
    m.path = p.string();
    m.files = {m.path};
    out.push_back(std::move(m));
  }
  for (auto& [key, s] : sets) {
    model_entry m;
    m.name = s.name;
    m.source = source;
    for (auto& [idx, path] : s.parts) m.files.push_back(path);
    m.path = m.files.front();
    if ((int)s.parts.size() != s.count || s.parts.begin()->first != 1 || s.parts.rbegin()->first != s.count)
      m.error = fmt::format("incomplete split set: {} of {} parts", s.parts.size(), s.count);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<model_entry> scan_ollama(const std::string& root) {
  std::vector<model_entry> out;
  const fs::path manifests = fs::path(root) / "manifests";
  std::error_code ec;
  if (!fs::is_directory(manifests, ec)) return out;
  fs::recursive_directory_iterator it(manifests, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it.depth() > 6) it.disable_recursion_pending();
    if (!it->is_regular_file(ec)) continue;
    const fs::path p = it->path();
    if (fs::file_size(p, ec) > (1u << 20)) continue;
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) continue;
    std::string digest;
    for (const auto& l : j["layers"])
      if (l.is_object() && l.value("mediaType", std::string()) == "application/vnd.ollama.image.model" && l.contains("digest") &&
          l["digest"].is_string())
        digest = l["digest"].get<std::string>();
    // "sha256:<64 hex>" names blobs/sha256-<hex>; anything else is not followed.
    if (digest.size() != 71 || digest.compare(0, 7, "sha256:") != 0 ||
        digest.find_first_not_of("0123456789abcdef", 7) != std::string::npos)
      continue;
    const fs::path blob = fs::path(root) / "blobs" / ("sha256-" + digest.substr(7));
    std::vector<std::string> comps;
    for (const auto& c : p.lexically_relative(manifests)) comps.push_back(c.string());
    if (comps.size() < 3) continue;
    const std::string tag = comps.back();
    std::string model;
    for (size_t i = 1; i + 1 < comps.size(); ++i) model += (model.empty() ? "" : "/") + comps[i];
    if (comps[0] == "registry.ollama.ai" && model.rfind("library/", 0) == 0) model = model.substr(8);
    else if (comps[0] != "registry.ollama.ai") model = comps[0] + "/" + model;
    model_entry m;
    m.name = model + ":" + tag;
    m.source = "ollama";
    m.path = blob.string();
    m.files = {m.path};
    if (!fs::exists(blob, ec)) m.error = "blob missing: " + blob.string();
    out.push_back(std::move(m));
  }
  return out;
}

void fill(model_entry& m, bool read_metadata) {
  m.size_bytes = size_of(m.files);
  if (!read_metadata || !m.error.empty()) return;
  try {
    m.info = summarize_gguf(m.files);
  } catch (const error& e) {
    m.error = e.what();
  }
}

}  // namespace

std::vector<model_entry> list_models(const library_locations& where, const list_options& opts) {
  std::vector<model_entry> out;
  auto add = [&](std::vector<model_entry> v) {
    std::sort(v.begin(), v.end(), [](const model_entry& a, const model_entry& b) { return a.name < b.name; });
    for (auto& m : v) {
      fill(m, opts.read_metadata);
      out.push_back(std::move(m));
    }
  };
  std::set<std::string> seen_roots;
  auto first_visit = [&](const std::string& r) {
    std::error_code ec;
    const std::string canon = fs::weakly_canonical(r, ec).string();
    return seen_roots.insert(ec ? r : canon).second;
  };
  if (opts.hearth && first_visit(where.root)) add(scan_folder(where.root, "hearth"));
  if (opts.lmstudio) {
    std::vector<model_entry> v;
    for (const auto& r : where.lmstudio)
      if (first_visit(r))
        for (auto& m : scan_folder(r, "lmstudio")) v.push_back(std::move(m));
    add(std::move(v));
  }
  if (opts.ollama) {
    std::vector<model_entry> v;
    for (const auto& r : where.ollama)
      if (first_visit(r))
        for (auto& m : scan_ollama(r)) v.push_back(std::move(m));
    add(std::move(v));
  }
  return out;
}

nlohmann::ordered_json to_json(const model_entry& m) {
  nlohmann::ordered_json j = {{"name", m.name},
                              {"source", m.source},
                              {"path", m.path},
                              {"files", m.files},
                              {"size_bytes", m.size_bytes},
                              {"architecture", m.info.architecture},
                              {"model_name", m.info.model_name},
                              {"parameters", m.info.n_params},
                              {"quantization", m.info.quantization},
                              {"context_length", m.info.context_length},
                              {"loaded", m.loaded}};
  if (!m.error.empty()) j["error"] = m.error;
  return j;
}

void mark_loaded(std::vector<model_entry>& entries, const std::set<std::string>& loaded_paths) {
  std::set<std::string> canon;
  for (const auto& p : loaded_paths) {
    std::error_code ec;
    auto c = fs::weakly_canonical(p, ec);
    canon.insert(ec ? p : c.string());
  }
  for (auto& m : entries) {
    std::error_code ec;
    auto c = fs::weakly_canonical(m.path, ec);
    m.loaded = canon.count(ec ? m.path : c.string()) > 0;
  }
}

// ---------------------------------------------------------------------------------------------
// finding, removing, importing

model_entry find_model(const library_locations& where, const std::string& query, const list_options& opts) {
  if (query.empty()) fail(error_kind::invalid_argument, "no model named");
  list_options quick = opts;
  quick.read_metadata = false;
  std::vector<model_entry> all = list_models(where, quick);
  auto finish = [&](model_entry m) {
    fill(m, opts.read_metadata);
    return m;
  };

  std::error_code ec;
  if (fs::is_regular_file(query, ec)) {
    const auto qc = fs::weakly_canonical(query, ec);
    for (auto& m : all)
      for (const auto& f : m.files)
        if (fs::weakly_canonical(f, ec) == qc) return finish(m);
    model_entry m;
    m.name = query;
    m.source = "file";
    m.path = query;
    if (auto sp = parse_split_name(fs::path(query).filename().string())) {
      for (int i = 1; i <= sp->count; ++i)
        m.files.push_back((fs::path(query).parent_path() / fmt::format("{}-{:05}-of-{:05}.gguf", sp->prefix, i, sp->count)).string());
      m.path = m.files.front();
    } else {
      m.files = {query};
    }
    return finish(m);
  }

  const std::string q = lower(query);
  const std::string q_nogguf = q.size() > 5 && q.substr(q.size() - 5) == ".gguf" ? q.substr(0, q.size() - 5) : q;
  using pred = std::function<bool(const model_entry&)>;
  auto without_publisher = [](const std::string& n) {
    const size_t s = n.find('/');
    return s == std::string::npos ? n : n.substr(s + 1);
  };
  auto stem = [](const model_entry& m) {
    std::string b = fs::path(m.name).filename().string();
    return lower(b);
  };
  std::string repo_part = q, quant_part;
  if (const size_t colon = q.rfind(':'); colon != std::string::npos && q.find('/') != std::string::npos) {
    repo_part = q.substr(0, colon);
    quant_part = q.substr(colon + 1);
  }
  const std::vector<pred> levels = {
      [&](const model_entry& m) { return m.name == query; },
      [&](const model_entry& m) { return lower(m.name) == q_nogguf || lower(without_publisher(m.name)) == q_nogguf; },
      [&](const model_entry& m) { return m.source == "ollama" && lower(m.name) == q + ":latest"; },
      [&](const model_entry& m) { return m.source != "ollama" && stem(m) == q_nogguf; },
      [&](const model_entry& m) {
        if (m.source == "ollama") return false;
        const std::string n = lower(m.name);
        if (n.rfind(repo_part + "/", 0) != 0) return false;
        return quant_part.empty() || lower(quant_from_filename(m.name + ".gguf")) == quant_part;
      },
  };
  for (const auto& level : levels) {
    std::vector<const model_entry*> hits;
    for (const auto& m : all)
      if (level(m)) hits.push_back(&m);
    if (hits.size() == 1) return finish(*hits[0]);
    if (hits.size() > 1) {
      std::string names;
      for (const auto* h : hits) names += fmt::format("\n  {} ({})", h->name, h->source);
      fail(error_kind::invalid_argument, "'{}' matches {} models; name one of:{}", query, hits.size(), names);
    }
  }
  fail(error_kind::not_found, "no model '{}' in the library (see 'hearth ls')", query);
}

namespace {
bool is_under(const fs::path& p, const fs::path& root) {
  const auto a = fs::absolute(p).lexically_normal();
  const auto r = fs::absolute(root).lexically_normal();
  auto rel = a.lexically_relative(r);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}
}  // namespace

std::vector<std::string> remove_model(const library_locations& where, const model_entry& m) {
  if (m.source == "lmstudio") fail(error_kind::invalid_argument, "{} belongs to LM Studio; remove it there", m.name);
  if (m.source == "ollama") fail(error_kind::invalid_argument, "{} belongs to Ollama; remove it with 'ollama rm {}'", m.name, m.name);
  for (const auto& f : m.files)
    if (!is_under(f, where.root)) fail(error_kind::invalid_argument, "{} is not in the library {}; not removing it", f, where.root);
  std::vector<std::string> removed;
  std::set<fs::path> dirs;
  for (const auto& f : m.files) {
    std::error_code ec;
    for (const std::string& x : {f, partial_path(f), state_path(f)})
      if (fs::remove(x, ec)) removed.push_back(x);
    dirs.insert(fs::absolute(f).lexically_normal().parent_path());
  }
  const fs::path root = fs::absolute(where.root).lexically_normal();
  for (fs::path d : dirs) {
    std::error_code ec;
    while (is_under(d, root) && fs::is_directory(d, ec) && fs::is_empty(d, ec)) {
      fs::remove(d, ec);
      d = d.parent_path();
    }
  }
  return removed;
}

std::vector<std::string> import_model(const library_locations& where, const std::string& path, import_mode mode,
                                      const std::string& as_repo) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail(error_kind::not_found, "{} is not a file", path);
  const fs::path src = fs::absolute(path).lexically_normal();
  std::vector<fs::path> parts;
  std::string stem = src.filename().string();
  if (auto sp = parse_split_name(stem)) {
    for (int i = 1; i <= sp->count; ++i) {
      fs::path p = src.parent_path() / fmt::format("{}-{:05}-of-{:05}.gguf", sp->prefix, i, sp->count);
      if (!fs::is_regular_file(p, ec)) fail(error_kind::not_found, "part {} of {} is missing: {}", i, sp->count, p.string());
      parts.push_back(p);
    }
    stem = sp->prefix;
  } else {
    parts.push_back(src);
    if (has_gguf_ext(src)) stem = stem.substr(0, stem.size() - 5);
  }
  for (const auto& p : parts) {
    try {
      gguf::file::open(p.string());
    } catch (const error& e) {
      fail(error_kind::bad_format, "{} is not a usable GGUF file: {}", p.string(), e.what());
    }
  }
  std::string repo = as_repo;
  if (repo.empty()) {
    std::string clean;
    for (char c : stem) clean += (std::isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.') ? c : '_';
    while (!clean.empty() && clean[0] == '.') clean.erase(0, 1);
    repo = "local/" + (clean.empty() ? std::string("model") : clean);
  }
  check_repo_id(repo);
  const fs::path dir = fs::path(where.root) / repo;
  std::vector<fs::path> dests;
  for (const auto& p : parts) {
    std::string name = p.filename().string();
    if (!has_gguf_ext(p)) name += ".gguf";
    if (!is_safe_component(name)) fail(error_kind::invalid_argument, "cannot import a file named '{}'", name);
    dests.push_back(dir / name);
    if (fs::exists(fs::symlink_status(dests.back(), ec))) fail(error_kind::invalid_argument, "{} is already in the library", dests.back().string());
  }
  fs::create_directories(dir, ec);
  if (ec) fail(error_kind::io, "cannot create {}: {}", dir.string(), ec.message());
  std::vector<std::string> done;
  auto copy_in = [&](const fs::path& from, const fs::path& to) {
    const fs::path tmp = partial_path(to.string());
    std::error_code e;
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, e);
    if (e) {
      fs::remove(tmp, e);
      fail(error_kind::io, "cannot copy {} to {}: {}", from.string(), tmp.string(), e.message());
    }
    fs::rename(tmp, to, e);
    if (e) fail(error_kind::io, "cannot rename {}: {}", tmp.string(), e.message());
  };
  try {
    for (size_t i = 0; i < parts.size(); ++i) {
      const fs::path& from = parts[i];
      const fs::path& to = dests[i];
      std::error_code e;
      switch (mode) {
        case import_mode::copy: copy_in(from, to); break;
        case import_mode::link:
          fs::create_symlink(from, to, e);
          if (e) fail(error_kind::io, "cannot link {} to {}: {}", to.string(), from.string(), e.message());
          break;
        case import_mode::move:
          fs::rename(from, to, e);
          if (e == std::errc::cross_device_link) {
            copy_in(from, to);
            fs::remove(from, e);
          } else if (e) {
            fail(error_kind::io, "cannot move {} to {}: {}", from.string(), to.string(), e.message());
          }
          break;
      }
      done.push_back(to.string());
    }
  } catch (...) {
    // Leave nothing half-imported. Moved files go back where they came from.
    for (size_t i = 0; i < done.size(); ++i) {
      std::error_code e;
      if (mode == import_mode::move) fs::rename(done[i], parts[i], e);
      else fs::remove(done[i], e);
    }
    throw;
  }
  return done;
}

}  // namespace hearth::hub
