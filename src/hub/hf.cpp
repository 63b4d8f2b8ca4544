#include "hub/hf.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>

#include "core/error.h"
#include "core/log.h"
#include "hub/paths.h"

namespace hearth::hub {

namespace {
std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = (char)std::toupper((unsigned char)c);
  return o;
}
bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && upper(s.substr(s.size() - suffix.size())) == upper(suffix);
}
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
std::string basename_of(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// references

model_ref parse_model_ref(std::string_view spec) {
  std::string s(spec);
  while (!s.empty() && std::isspace((unsigned char)s.back())) s.pop_back();
  for (const char* prefix : {"https://", "http://"})
    if (starts_with(s, prefix)) s = s.substr(std::string_view(prefix).size());
  for (const char* host : {"huggingface.co/", "hf.co/", "www.huggingface.co/"})
    if (starts_with(s, host)) s = s.substr(std::string_view(host).size());
  model_ref r;
  const size_t slash = s.find('/');
  if (slash == std::string::npos)
    fail(error_kind::invalid_argument, "'{}' is not a model reference: expected owner/repo[:QUANT|/FILE]", spec);
  const size_t end = s.find_first_of(":/", slash + 1);
  r.repo = s.substr(0, end);
  check_repo_id(r.repo);
  if (end == std::string::npos) return r;
  std::string rest = s.substr(end + 1);
  if (s[end] == ':') {
    if (rest.empty() || rest.size() > 32 ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '-'; }))
      fail(error_kind::invalid_argument, "'{}' is not a quantization name (like Q4_K_M)", rest);
    r.quant = upper(rest);
    return r;
  }
  for (const char* infix : {"blob/main/", "resolve/main/"})
    if (starts_with(rest, infix)) rest = rest.substr(std::string_view(infix).size());
  if (const size_t q = rest.find('?'); q != std::string::npos) rest.resize(q);
  if (rest.empty()) return r;
  check_safe_relative_path(rest);
  r.file = rest;
  return r;
}

std::string to_string(const model_ref& r) {
  if (!r.file.empty()) return r.repo + "/" + r.file;
  if (!r.quant.empty()) return r.repo + ":" + r.quant;
  return r.repo;
}

// ---------------------------------------------------------------------------------------------
// file names and quantizations

std::optional<split_name> parse_split_name(std::string_view filename) {
  static const std::regex re(R"(^(.*)-(\d{5})-of-(\d{5})\.gguf$)", std::regex::icase);
  std::cmatch m;
  const std::string name(filename);
  if (!std::regex_match(name.c_str(), m, re)) return std::nullopt;
  split_name s{m[1].str(), std::atoi(m[2].str().c_str()), std::atoi(m[3].str().c_str())};
  if (s.count < 1 || s.index < 1 || s.index > s.count) return std::nullopt;
  return s;
}

namespace {
std::string quant_in(std::string stem) {
  const std::string u = upper(stem);
  static const std::regex re(
      R"((?:^|[-._])((?:UD-)?(?:IQ[1-4]_(?:XXS|XS|NL|S|M)|Q[2-8]_K(?:_(?:XL|XS|S|M|L))?|Q[4-8]_[01](?:_[48]_[48])?|TQ[12]_0|MXFP4(?:_MOE)?|BF16|FP16|FP32|F16|F32))(?=$|[-._]))");
  std::string found;
  for (auto it = std::sregex_iterator(u.begin(), u.end(), re); it != std::sregex_iterator(); ++it) found = (*it)[1].str();
  if (found == "FP16") found = "F16";
  if (found == "FP32") found = "F32";
  return found;
}
}  // namespace

std::string quant_from_filename(std::string_view filename) {
  std::string stem = basename_of(filename);
  if (auto sp = parse_split_name(stem)) stem = sp->prefix;
  else if (ends_with_ci(stem, ".gguf")) stem.resize(stem.size() - 5);
  std::string found = quant_in(stem);
  // Some repos name the folder, not the file: "Q4_K_M/model-00001-of-00002.gguf".
  std::string_view dirs = filename.substr(0, filename.size() - std::min(filename.size(), basename_of(filename).size()));
  while (found.empty() && !dirs.empty()) {
    if (dirs.back() == '/') dirs.remove_suffix(1);
    const size_t slash = dirs.rfind('/');
    found = quant_in(std::string(slash == std::string_view::npos ? dirs : dirs.substr(slash + 1)));
    dirs = slash == std::string_view::npos ? std::string_view() : dirs.substr(0, slash + 1);
  }
  return found;
}

double quant_bits_per_weight(std::string_view quant) {
  static const std::map<std::string, double> table = {
      {"IQ1_S", 1.56},   {"IQ1_M", 1.75},   {"TQ1_0", 1.69},   {"IQ2_XXS", 2.06}, {"TQ2_0", 2.06},  {"IQ2_XS", 2.31},
      {"IQ2_S", 2.5},    {"IQ2_M", 2.7},    {"Q2_K_S", 2.8},   {"Q2_K", 2.96},    {"Q2_K_L", 3.2},  {"Q2_K_XL", 3.2},
      {"IQ3_XXS", 3.06}, {"IQ3_XS", 3.3},   {"Q3_K_S", 3.41},  {"IQ3_S", 3.44},   {"IQ3_M", 3.66},  {"Q3_K_M", 3.74},
      {"Q3_K_L", 4.03},  {"Q3_K_XL", 4.1},  {"IQ4_XS", 4.25},  {"MXFP4", 4.25},   {"MXFP4_MOE", 4.25}, {"Q4_0", 4.34},
      {"Q4_0_4_4", 4.34}, {"Q4_0_4_8", 4.34}, {"Q4_0_8_8", 4.34}, {"Q4_K_S", 4.37}, {"IQ4_NL", 4.5}, {"Q4_K_M", 4.58},
      {"Q4_1", 4.78},    {"Q4_K_L", 4.9},   {"Q4_K_XL", 4.9},  {"Q5_0", 5.21},    {"Q5_K_S", 5.21}, {"Q5_K_M", 5.33},
      {"Q5_K_L", 5.6},   {"Q5_K_XL", 5.6},  {"Q5_1", 5.65},    {"Q6_K", 6.14},    {"Q6_K_L", 6.4},  {"Q6_K_XL", 6.4},
      {"Q8_0", 7.96},    {"Q8_K_XL", 8.5},  {"BF16", 16},      {"F16", 16},       {"F32", 32},
  };
  std::string q = upper(quant);
  if (starts_with(q, "UD-")) q = q.substr(3);
  auto it = table.find(q);
  return it == table.end() ? -1 : it->second;
}

namespace {
std::string quant_family(std::string_view quant) {
  std::string q = upper(quant);
  if (starts_with(q, "UD-")) q = q.substr(3);
  if (starts_with(q, "IQ")) return "iq";
  if (starts_with(q, "TQ")) return "tq";
  if (starts_with(q, "MXFP")) return "mx";
  if (q == "F16" || q == "BF16" || q == "F32") return "float";
  if (q.size() >= 4 && q[0] == 'Q' && q[2] == '_' && q[3] == 'K') return "k";
  return "legacy";
}
}  // namespace

uint64_t gguf_choice::total_bytes() const {
  uint64_t n = 0;
  for (const auto& f : files) n += f.size;
  return n;
}

std::string gguf_choice::name() const { return files.empty() ? std::string() : basename_of(files[0].path); }

std::vector<gguf_choice> gguf_choices(const std::vector<hub_file>& files, std::vector<std::string>* warnings) {
  auto warn = [&](std::string w) {
    if (warnings) warnings->push_back(std::move(w));
  };
  std::vector<gguf_choice> out;
  std::map<std::string, std::vector<const hub_file*>> sets;  // dir + prefix + count -> parts
  std::map<std::string, int> set_counts;
  for (const auto& f : files) {
    if (!ends_with_ci(f.path, ".gguf")) continue;
    if (!is_safe_relative_path(f.path)) {
      std::string shown;
      for (unsigned char c : f.path.substr(0, 120)) shown += (c < 0x20 || c == 0x7f) ? '?' : (char)c;
      warn(fmt::format("skipping '{}': unsafe file name", shown));
      continue;
    }
    const std::string base = basename_of(f.path);
    if (starts_with(upper(base), "MMPROJ")) continue;  // vision projector, not a model
    if (auto sp = parse_split_name(base)) {
      const std::string key = f.path.substr(0, f.path.size() - base.size()) + sp->prefix + "/" + std::to_string(sp->count);
      sets[key].push_back(&f);
      set_counts[key] = sp->count;
      continue;
    }
    out.push_back({quant_from_filename(base), {f}});
  }
  for (auto& [key, parts] : sets) {
    std::sort(parts.begin(), parts.end(), [](const hub_file* a, const hub_file* b) {
      return parse_split_name(basename_of(a->path))->index < parse_split_name(basename_of(b->path))->index;
    });
    const int count = set_counts[key];
    bool complete = (int)parts.size() == count;
    for (int i = 0; complete && i < count; ++i) complete = parse_split_name(basename_of(parts[i]->path))->index == i + 1;
    if (!complete) {
      warn(fmt::format("skipping split set {}: {} of {} parts listed", basename_of(parts[0]->path), parts.size(), count));
      continue;
    }
    gguf_choice c;
    c.quant = quant_from_filename(parts[0]->path);
    for (const auto* p : parts) c.files.push_back(*p);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const gguf_choice& a, const gguf_choice& b) {
    const double x = quant_bits_per_weight(a.quant), y = quant_bits_per_weight(b.quant);
    if (x != y) return x < y;
    return a.files[0].path < b.files[0].path;
  });
  return out;
}

const gguf_choice* pick_quant(const std::vector<gguf_choice>& choices, std::string_view requested, bool* exact) {
  if (exact) *exact = false;
  const std::string want = upper(requested.empty() ? std::string_view(default_quant) : requested);
  const gguf_choice* best = nullptr;
  for (const auto& c : choices) {
    if (upper(c.quant) != want) continue;
    // Of several with the same quantization, the shortest path (top level before subfolders).
    if (!best || c.files[0].path.size() < best->files[0].path.size()) best = &c;
  }
  if (best) {
    if (exact) *exact = true;
    return best;
  }
  const double want_bpw = quant_bits_per_weight(want);
  if (want_bpw > 0) {
    double best_score = 1e9, best_bpw = -1;
    for (const auto& c : choices) {
      const double bpw = quant_bits_per_weight(c.quant);
      if (bpw < 0) continue;
      const double score = std::fabs(bpw - want_bpw) + (quant_family(c.quant) == quant_family(want) ? 0 : 0.25);
      if (score < best_score - 1e-9 || (std::fabs(score - best_score) <= 1e-9 && bpw > best_bpw)) {
        best = &c;
        best_score = score;
        best_bpw = bpw;
      }
    }
    if (best) return best;
  }
  if (choices.size() == 1) return &choices[0];
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// the hub's API

hf_client::hf_client(std::string endpoint, std::string token, http_options opts)
    : endpoint_(std::move(endpoint)), token_(std::move(token)), opts_(std::move(opts)) {
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  if (!starts_with(endpoint_, "http://") && !starts_with(endpoint_, "https://"))
    fail(error_kind::invalid_argument, "HF_ENDPOINT '{}' is not an http(s) URL", endpoint_);
}

hf_client hf_client::from_env(http_options opts) {
  const char* ep = std::getenv("HF_ENDPOINT");
  const char* tok = std::getenv("HF_TOKEN");
  return hf_client(ep && *ep ? ep : "https://huggingface.co", tok ? tok : "", std::move(opts));
}

std::vector<std::string> hf_client::auth_headers() const {
  if (token_.empty()) return {};
  return {"Authorization: Bearer " + token_};
}

std::string hf_client::resolve_url(const std::string& repo, const std::string& path) const {
  return endpoint_ + "/" + repo + "/resolve/main/" + url_escape_path(path);
}

void hf_client::rethrow_friendly(const http_error& e, const std::string& repo, const std::string& file) const {
  const std::string& code = e.error_code();
  const std::string page = endpoint_ + "/" + repo;
  if (code == "GatedRepo" || (e.status() == 403 && code.empty())) {
    if (token_.empty())
      fail(error_kind::io, "{} is a gated repository: request access at {} and set HF_TOKEN to an access token of that account", repo, page);
    fail(error_kind::io, "the HF_TOKEN account has no access to the gated repository {}: request access at {}{}", repo, page,
         e.server_message().empty() ? "" : " (hub says: " + e.server_message() + ")");
  }
  if (code == "EntryNotFound" || (e.status() == 404 && !file.empty() && code != "RepoNotFound"))
    fail(error_kind::not_found, "no file '{}' in {} on {}", file, repo, endpoint_);
  if (code == "RepoNotFound" || e.status() == 404 || (e.status() == 401 && token_.empty()))
    fail(error_kind::not_found, "repository {} not found on {}{}", repo, endpoint_,
         token_.empty() ? " (if it is private, set HF_TOKEN)" : "");
  if (e.status() == 401)
    fail(error_kind::io, "{} rejected HF_TOKEN{}", endpoint_, e.server_message().empty() ? "" : ": " + e.server_message());
  throw e;
}

nlohmann::json hf_client::get_json(const std::string& url, const std::string& repo, const std::atomic<int>* stop,
                                   std::string* next_link) const {
  std::vector<std::string> headers = auth_headers();
  headers.push_back("Accept: application/json");
  http_response r = http_get(url, headers, opts_, stop);
  if (r.status != 200) {
    try {
      throw_http_error(url, r.status, r.headers, r.body);
    } catch (const http_error& e) {
      if (repo.empty()) throw;
      rethrow_friendly(e, repo);
    }
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail(error_kind::bad_format, "{} did not answer JSON", url);
  if (next_link) {
    // Link: <https://...&cursor=...>; rel="next"
    next_link->clear();
    const std::string link = r.header("link");
    size_t pos = 0;
    while ((pos = link.find('<', pos)) != std::string::npos) {
      const size_t close = link.find('>', pos);
      if (close == std::string::npos) break;
      const size_t comma = link.find(',', close);
      const std::string params = link.substr(close + 1, comma == std::string::npos ? std::string::npos : comma - close - 1);
      if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos) {
        *next_link = link.substr(pos + 1, close - pos - 1);
        break;
      }
      pos = close;
    }
  }
  return j;
}

nlohmann::json hf_client::model_info(const std::string& repo, const std::atomic<int>* stop) const {
  check_repo_id(repo);
  auto j = get_json(endpoint_ + "/api/models/" + repo, repo, stop);
  if (!j.is_object()) fail(error_kind::bad_format, "model info for {} is not a JSON object", repo);
  return j;
}

std::vector<hub_file> hf_client::list_files(const std::string& repo, const std::atomic<int>* stop) const {
  const nlohmann::json info = model_info(repo, stop);
  std::vector<hub_file> out;
  std::map<std::string, size_t> index;
  std::string url = endpoint_ + "/api/models/" + repo + "/tree/main?recursive=true";
  for (int page = 0; !url.empty(); ++page) {
    if (page > 1000) fail(error_kind::bad_format, "the file tree of {} does not end", repo);
    // Pagination must stay on the hub: a Link to another host is not followed.
    if (!starts_with(url, endpoint_ + "/")) fail(error_kind::bad_format, "the hub's next-page link leaves {}: {}", endpoint_, url);
    std::string next;
    auto j = get_json(url, repo, stop, &next);
    if (!j.is_array()) fail(error_kind::bad_format, "the file tree of {} is not a JSON array", repo);
    for (const auto& e : j) {
      if (!e.is_object() || e.value("type", std::string()) != "file" || !e.contains("path") || !e["path"].is_string()) continue;
      hub_file f;
      f.path = e["path"].get<std::string>();
      if (e.contains("size") && e["size"].is_number_unsigned()) f.size = e["size"].get<uint64_t>();
      if (e.contains("lfs") && e["lfs"].is_object()) {
        const auto& lfs = e["lfs"];
        if (lfs.contains("oid") && lfs["oid"].is_string()) f.sha256 = lfs["oid"].get<std::string>();
        if (lfs.contains("size") && lfs["size"].is_number_unsigned()) f.size = lfs["size"].get<uint64_t>();
      }
      for (auto& c : f.sha256) c = (char)std::tolower((unsigned char)c);
      if (f.sha256.size() != 64 || f.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) f.sha256.clear();
      index[f.path] = out.size();
      out.push_back(std::move(f));
    }
    url = next;
  }
  if (info.contains("siblings") && info["siblings"].is_array()) {
    for (const auto& s : info["siblings"]) {
      if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
      const std::string path = s["rfilename"].get<std::string>();
      if (index.count(path)) continue;
      hub_file f;
      f.path = path;
      if (s.contains("size") && s["size"].is_number_unsigned()) f.size = s["size"].get<uint64_t>();
      if (s.contains("lfs") && s["lfs"].is_object() && s["lfs"].contains("sha256") && s["lfs"]["sha256"].is_string())
        f.sha256 = s["lfs"]["sha256"].get<std::string>();
      index[path] = out.size();
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::vector<search_hit> hf_client::search(const std::string& text, int limit, const std::atomic<int>* stop) const {
  std::string q;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') q += (char)c;
    else q += '%', q += hex[c >> 4], q += hex[c & 15];
  }
  const std::string url = fmt::format("{}/api/models?search={}&filter=gguf&sort=downloads&direction=-1&limit={}", endpoint_, q,
                                      std::clamp(limit, 1, 1000));
  auto j = get_json(url, "", stop);
  if (!j.is_array()) fail(error_kind::bad_format, "the hub's search answer is not a JSON array");
  std::vector<search_hit> out;
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    search_hit h;
    if (e.contains("id") && e["id"].is_string()) h.id = e["id"].get<std::string>();
    else if (e.contains("modelId") && e["modelId"].is_string()) h.id = e["modelId"].get<std::string>();
    if (h.id.empty()) continue;
    if (e.contains("downloads") && e["downloads"].is_number_integer()) h.downloads = e["downloads"].get<int64_t>();
    if (e.contains("likes") && e["likes"].is_number_integer()) h.likes = e["likes"].get<int64_t>();
    out.push_back(std::move(h));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// plans

std::vector<gguf_choice> list_choices(const hf_client& hub, const std::string& repo, std::vector<std::string>* warnings,
                                      const std::atomic<int>* stop) {
  return gguf_choices(hub.list_files(repo, stop), warnings);
}

download_plan plan_download(const hf_client& hub, const model_ref& ref, const std::string& models_root,
                            const std::atomic<int>* stop) {
  download_plan plan;
  plan.repo = ref.repo;
  std::vector<std::string> warnings;
  const std::vector<hub_file> files = hub.list_files(ref.repo, stop);
  const std::vector<gguf_choice> choices = gguf_choices(files, &warnings);
  for (const auto& w : warnings) log_warn("{}: {}", ref.repo, w);
  auto available = [&] {
    std::string s;
    for (const auto& c : choices) s += (s.empty() ? "" : ", ") + (c.quant.empty() ? c.name() : c.quant);
    return s.empty() ? std::string("none") : s;
  };
  const gguf_choice* chosen = nullptr;
  gguf_choice single;
  if (!ref.file.empty()) {
    check_safe_relative_path(ref.file);
    for (const auto& c : choices)
      for (const auto& f : c.files)
        if (f.path == ref.file) chosen = &c;
    if (!chosen) {
      // A GGUF the grouping left out (for example an mmproj file) can still be asked for by name.
      for (const auto& f : files)
        if (f.path == ref.file && ends_with_ci(f.path, ".gguf") && is_safe_relative_path(f.path)) {
          single = {quant_from_filename(f.path), {f}};
          chosen = &single;
        }
    }
    if (!chosen) fail(error_kind::not_found, "no GGUF file '{}' in {}; available: {}", ref.file, ref.repo, available());
  } else {
    if (choices.empty()) fail(error_kind::not_found, "{} has no GGUF files", ref.repo);
    bool exact = false;
    chosen = pick_quant(choices, ref.quant, &exact);
    if (!chosen)
      fail(error_kind::not_found, "{} has no {} model and none to compare it with; available: {} (name one with owner/repo/FILE)",
           ref.repo, ref.quant.empty() ? default_quant : ref.quant, available());
    plan.exact_quant = exact;
    const std::string want = ref.quant.empty() ? default_quant : ref.quant;
    if (!exact)
      plan.note = chosen->quant.empty()
                      ? fmt::format("{} is not in {}; taking its only model, {}", want, ref.repo, chosen->name())
                      : fmt::format("{} is not in {}; taking {}, the closest", want, ref.repo, chosen->quant);
  }
  plan.quant = chosen->quant;
  const std::string dir = models_root + "/" + ref.repo;
  for (const auto& f : chosen->files) {
    check_safe_relative_path(f.path);
    remote_file rf;
    rf.url = hub.resolve_url(ref.repo, f.path);
    // The repo's own subfolders are kept: two quantizations may use the same file name in
    // different folders.
    rf.dest = dir + "/" + f.path;
    rf.size = f.size;
    rf.sha256 = f.sha256;
    rf.headers = hub.auth_headers();
    if (rf.sha256.empty()) log_warn("{}: the hub lists no SHA-256 for {}; it will be checked by size only", ref.repo, f.path);
    plan.files.push_back(std::move(rf));
  }
  return plan;
}

}  // namespace hearth::hub
