// Shared helpers for the tokenizer tests: loading the shipped vocabularies once, reading
// llama.cpp's .inp/.out vector files, and building the Llama 3 and Qwen2 vocabularies (too big to
// ship as GGUF) from their Hugging Face BPE files with our GGUF writer.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tokenizer/vocab.h"

namespace hearth::test {

struct vector_case {
  std::string text;
  std::vector<int32_t> ids;
};

// The .inp strings paired with the .out id lists.
std::vector<vector_case> read_vectors(const std::string& inp_path, const std::string& out_path);

// A vocabulary loaded once per process from a GGUF file under tests/data.
const vocab& shipped_vocab(const std::string& rel_path);

// Vocabularies built from tests/data/models/tokenizers (kept alive for the whole process).
const vocab& llama3_vocab();
const vocab& qwen2_vocab();

// Writes the given metadata into an in-memory GGUF and loads a vocab from it.
std::unique_ptr<vocab> vocab_from_writer(const gguf::writer& w);

std::string read_file(const std::string& path);
// Printable form of a string for failure messages.
std::string escaped(const std::string& s);

}  // namespace hearth::test
