// hearth tokenize: shows how a model's vocabulary tokenizes a text (ids and the piece of each).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "apps/hearth/command.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/vocab.h"

namespace hearth::cli {

namespace {

// A piece as one printable line: control characters and bytes that are not valid UTF-8 as escapes.
std::string printable(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
    if (!ok) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        default:
          if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
          else out.push_back((char)c);
      }
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  return out;
}

class tokenize_command : public command {
 public:
  const char* name() const override { return "tokenize"; }
  const char* help() const override { return "Tokenize a text with a model's vocabulary: prints the ids and pieces"; }

  void setup(CLI::App& app) override {
    app.add_option("MODEL", model_, "GGUF model (or vocab-only) file")->required();
    app.add_option("TEXT", text_, "Text to tokenize ('-' reads standard input)")->required();
    app.add_flag("--json", json_, "Print one JSON object {\"ids\": [...], \"pieces\": [...]}");
    app.add_flag("--no-bos", no_bos_, "Do not add the BOS/EOS tokens the vocabulary asks for");
    app.add_flag("--special", special_, "Parse special tokens written in the text (e.g. <|im_start|>)");
  }

  int run() override {
    const auto f = gguf::file::open(model_);
    const auto v = vocab::from_gguf(*f);
    if (text_ == "-") text_.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    const std::vector<int32_t> ids = v->tokenize(text_, !no_bos_, special_);
    if (json_) {
      nlohmann::json out;
      out["ids"] = ids;
      out["pieces"] = nlohmann::json::array();
      for (int32_t id : ids) out["pieces"].push_back(v->token_to_piece(id, true));
      // A byte-fallback piece can be part of a character: shown as U+FFFD.
      const std::string s = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::printf("%s\n", s.c_str());
    } else {
      for (int32_t id : ids) std::printf("%7d -> '%s'\n", id, printable(v->token_to_piece(id, true)).c_str());
    }
    return 0;
  }

 private:
  std::string model_, text_;
  bool json_ = false, no_bos_ = false, special_ = false;
};

}  // namespace

HEARTH_COMMAND(tokenize_command);

}  // namespace hearth::cli
