#include "tokenizer_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "test_util.h"

namespace hearth::test {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
    else out.push_back((char)c);
  }
  return out;
}

std::vector<vector_case> read_vectors(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = read_file(inp_path), out = read_file(out_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  while (true) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      if (pos < inp.size()) texts.push_back(inp.substr(pos));  // a last string with no separator
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<vector_case> cases;
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= texts.size()) throw std::runtime_error(out_path + " has more lines than " + inp_path + " has strings");
    vector_case c{texts[i++], {}};
    std::istringstream ids(line);
    int64_t id;
    while (ids >> id) c.ids.push_back((int32_t)id);
    cases.push_back(std::move(c));
  }
  if (i != texts.size()) throw std::runtime_error(fmt::format("{}: {} strings but {} id lines", inp_path, texts.size(), i));
  return cases;
}

namespace {
std::mutex g_mutex;

struct built_vocab {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::file> file;
  std::unique_ptr<vocab> v;
};

std::vector<std::string> read_merges(const std::string& path) {
  std::vector<std::string> merges;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    merges.push_back(line);
  }
  return merges;
}

// tokens[id] from a {token: id} JSON map; ids must be dense from 0.
std::vector<std::string> read_token_map(const std::string& path) {
  const auto j = nlohmann::json::parse(read_file(path));
  std::vector<std::string> tokens(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const size_t id = it.value().get<size_t>();
    if (id >= tokens.size() || !tokens[id].empty()) throw std::runtime_error(path + ": ids are not dense");
    tokens[id] = it.key();
  }
  return tokens;
}

std::unique_ptr<built_vocab> build(std::vector<std::string> tokens, const std::vector<std::pair<int32_t, std::string>>& specials,
                                   std::vector<std::string> merges, const std::string& pre,
                                   const std::vector<std::pair<std::string, int32_t>>& ids, bool add_bos) {
  std::vector<int32_t> types(tokens.size(), 1);
  for (const auto& [id, text] : specials) {
    if ((size_t)id >= tokens.size()) tokens.resize(id + 1), types.resize(id + 1, 1);
    tokens[id] = text;
    types[id] = 3;  // control
  }
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set("tokenizer.ggml.tokens", gguf::value::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::value::numeric_array(gguf::value_type::i32, types));
  w.set("tokenizer.ggml.merges", gguf::value::string_array(std::move(merges)));
  for (const auto& [key, id] : ids) w.set_u32("tokenizer.ggml." + key, (uint32_t)id);
  w.set_bool("tokenizer.ggml.add_bos_token", add_bos);
  auto b = std::make_unique<built_vocab>();
  b->bytes = w.to_bytes();
  b->file = gguf::file::parse(b->bytes.data(), b->bytes.size(), "built-" + pre);
  b->v = vocab::from_gguf(*b->file);
  return b;
}
}  // namespace

const vocab& shipped_vocab(const std::string& rel_path) {
  static std::map<std::string, std::unique_ptr<vocab>> cache;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto& slot = cache[rel_path];
  if (!slot) {
    auto f = gguf::file::open(data_path(rel_path));
    slot = vocab::from_gguf(*f);
  }
  return *slot;
}

const vocab& llama3_vocab() {
  static std::unique_ptr<built_vocab> b;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!b) {
    const std::string dir = data_path("models/tokenizers/llama3.2-bpe/");
    std::vector<std::pair<int32_t, std::string>> specials = {
        {128000, "<|begin_of_text|>"}, {128001, "<|end_of_text|>"}, {128004, "<|finetune_right_pad_id|>"},
        {128006, "<|start_header_id|>"}, {128007, "<|end_header_id|>"}, {128008, "<|eom_id|>"},
        {128009, "<|eot_id|>"}, {128010, "<|python_tag|>"}};
    // The rest of 128000..128255 are reserved tokens, numbered in order of id.
    int reserved = 0;
    for (int32_t id = 128000; id < 128256; ++id) {
      bool named = false;
      for (const auto& s : specials) named |= s.first == id;
      if (!named) specials.emplace_back(id, fmt::format("<|reserved_special_token_{}|>", reserved++));
    }
    b = build(read_token_map(dir + "encoder.json"), specials, read_merges(dir + "vocab.bpe"), "llama-bpe",
              {{"bos_token_id", 128000}, {"eos_token_id", 128009}}, true);
  }
  return *b->v;
}

const vocab& qwen2_vocab() {
  static std::unique_ptr<built_vocab> b;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!b) {
    const std::string dir = data_path("models/tokenizers/qwen2-bpe/");
    // Special tokens as tokenizer_config.json lists them.
    const auto config = nlohmann::json::parse(read_file(dir + "tokenizer_config.json"));
    std::vector<std::pair<int32_t, std::string>> specials;
    for (auto it = config["added_tokens_decoder"].begin(); it != config["added_tokens_decoder"].end(); ++it)
      specials.emplace_back(std::stoi(it.key()), it.value()["content"].get<std::string>());
    b = build(read_token_map(dir + "vocab.json"), specials, read_merges(dir + "merges.txt"), "qwen2",
              {{"bos_token_id", 151643}, {"eos_token_id", 151645}, {"padding_token_id", 151643}}, false);
  }
  return *b->v;
}

std::unique_ptr<vocab> vocab_from_writer(const gguf::writer& w) {
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::file::parse(bytes.data(), bytes.size(), "test.gguf");
  return vocab::from_gguf(*f);
}

}  // namespace hearth::test
