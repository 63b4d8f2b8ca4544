// Tokenization throughput: ~1 MiB of mixed-language text (English, code, Chinese, Cyrillic,
// Korean, Khmer, emoji, ...) built deterministically from the tokenizer test strings, tokenized
// with the gpt-2 (byte-level BPE) and llama-spm (SentencePiece) vocabularies. Reports bytes/s.
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tokenizer/vocab.h"

namespace {

std::string data_path(const std::string& rel) { return std::string(HEARTH_TEST_DATA) + "/" + rel; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The test strings of llama.cpp's vectors plus a few paragraphs of prose and code.
std::vector<std::string> pieces() {
  std::vector<std::string> out;
  const std::string inp = read_file(data_path("models/llama.cpp-vocab/ggml-vocab-gpt-2.gguf.inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0, next; (next = inp.find(sep, pos)) != std::string::npos; pos = next + sep.size())
    if (next > pos) out.push_back(inp.substr(pos, next - pos));
  out.push_back("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                "One day, she saw a big, red ball. It's the best day ever, she said, and they're all happy.");
  out.push_back("def tokenize(text: str) -> list[int]:\n    ids = []\n    for word in text.split():\n"
                "        ids.extend(vocab.get(word, [UNK]))\n    return ids\n");
  out.push_back("for (int i = 0; i < n; ++i) {\n  sum += a[i] * b[i];  // dot product\n}\n");
  out.push_back("人工智能正在改变世界。我们在本地运行大型语言模型，速度很快。");
  out.push_back("Машинное обучение и обработка естественного языка развиваются очень быстро.");
  out.push_back("한국어 텍스트와 日本語のテキスト, café naïve résumé, 🚀🦙✅😀🎉");
  return out;
}

// Deterministic mix of about `bytes` bytes.
const std::string& mixed_text() {
  static const std::string text = [] {
    const auto p = pieces();
    std::string t;
    uint64_t state = 0x9E3779B97F4A7C15ull;
    while (t.size() < (1u << 20)) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      t += p[(state >> 33) % p.size()];
      t += ((state >> 20) & 7) == 0 ? "\n\n" : ((state >> 20) & 7) == 1 ? "\n" : " ";
    }
    return t;
  }();
  return text;
}

const hearth::vocab& load(const std::string& name) {
  static std::vector<std::pair<std::string, std::unique_ptr<hearth::vocab>>> cache;
  for (auto& [n, v] : cache)
    if (n == name) return *v;
  auto f = hearth::gguf::file::open(data_path("models/llama.cpp-vocab/ggml-vocab-" + name + ".gguf"));
  cache.emplace_back(name, hearth::vocab::from_gguf(*f));
  return *cache.back().second;
}

// The whole text in one call.
void tokenize_document(benchmark::State& state, const std::string& name) {
  const hearth::vocab& v = load(name);
  const std::string& text = mixed_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = v.tokenize(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)text.size());
  state.counters["tokens"] = (double)n_tokens;
  state.counters["bytes/token"] = (double)text.size() / (double)n_tokens;
}

// Prompt-sized requests: the text in 4 KiB chunks, one call each.
void tokenize_chunks(benchmark::State& state, const std::string& name) {
  const hearth::vocab& v = load(name);
  const std::string& text = mixed_text();
  for (auto _ : state) {
    for (size_t off = 0; off < text.size(); off += 4096) {
      auto ids = v.tokenize(std::string_view(text).substr(off, 4096), false, false);
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)text.size());
}

void detokenize_document(benchmark::State& state, const std::string& name) {
  const hearth::vocab& v = load(name);
  const auto ids = v.tokenize(mixed_text(), false, false);
  for (auto _ : state) {
    auto s = v.detokenize(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)mixed_text().size());
}

BENCHMARK_CAPTURE(tokenize_document, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(tokenize_document, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(tokenize_chunks, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(tokenize_chunks, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(detokenize_document, gpt2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(detokenize_document, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
