#include "formats/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "test_util.h"

using namespace hearth;
namespace fs = std::filesystem;

namespace {

// Every model and vocabulary file the tests ship. The fuzz seeds are left out:
// some of them are malformed on purpose (crash reproducers).
std::vector<std::string> all_gguf_files() {
  std::vector<std::string> out;
  const fs::path seeds = fs::path(test::data_path("fuzz-seeds")).lexically_normal();
  for (auto it = fs::recursive_directory_iterator(test::data_path("")); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && it->path().lexically_normal() == seeds) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".gguf") out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

gguf::writer small_model() {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.tokens", gguf::value::string_array({"<unk>", "<s>", "</s>", "hello"}));
  w.set("tokenizer.ggml.scores", gguf::value::numeric_array<float>(gguf::value_type::f32, {0.f, 0.f, 0.f, -1.5f}));
  w.set("nested", gguf::value::array_of_arrays({gguf::value::numeric_array<int32_t>(gguf::value_type::i32, {1, 2, 3}),
                                                gguf::value::string_array({"a", "b"})}));
  std::vector<float> t(64 * 3);
  for (size_t i = 0; i < t.size(); ++i) t[i] = (float)i * 0.5f;
  w.add_tensor("a.weight", dtype::f32, {64, 3}, t.data());
  std::vector<uint8_t> q(18 * 4, 7);
  w.add_tensor("b.weight", dtype::q4_0, {64, 2}, q.data());
  return w;
}

}  // namespace

TEST(Gguf, ParsesEveryShippedFile) {
  const auto files = all_gguf_files();
  ASSERT_GT(files.size(), 30u);
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto f = gguf::file::open(path);
    EXPECT_GE(f->version(), 1u);
    EXPECT_LE(f->version(), 3u);
    EXPECT_FALSE(f->get_string("general.architecture").empty());
    for (const auto& t : f->tensors()) EXPECT_LE(f->data_offset() + t.offset + t.size, f->file_size());
  }
}

TEST(Gguf, ReadsVersion1And2Containers) {
  auto v1 = gguf::file::open(test::data_path("models/tinyllamas/gguf-v1/tinyllamas-stories-260k-f32.gguf"));
  EXPECT_EQ(v1->version(), 1u);
  auto v3 = gguf::file::open(test::data_path("models/tinyllamas/stories260K.gguf"));
  ASSERT_EQ(v1->tensors().size(), v3->tensors().size());
  // Same weights in both containers.
  for (const auto& t : v3->tensors()) {
    const auto* o = v1->find_tensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    ASSERT_EQ(o->size, t.size);
    EXPECT_EQ(0, std::memcmp(v1->tensor_data(*o), v3->tensor_data(t), t.size)) << t.name;
  }
  auto v2 = gguf::file::open(test::data_path("models/llama.cpp-vocab/legacy/ggml-vocab-falcon.v2-2023-10.gguf"));
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_GT(v2->find("tokenizer.ggml.tokens")->size(), 60000u);
}

TEST(Gguf, WriterRoundTrip) {
  const auto bytes = small_model().to_bytes();
  auto f = gguf::file::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ((float)f->get_float("llama.rope.freq_base"), 10000.0f);
  EXPECT_TRUE(f->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->string_at(3), "hello");
  EXPECT_FLOAT_EQ((float)f->find("tokenizer.ggml.scores")->float_at(3), -1.5f);
  const auto* nested = f->find("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->size(), 2u);
  EXPECT_EQ(nested->array_at(0).int_at(2), 3);
  EXPECT_EQ(nested->array_at(1).string_at(1), "b");
  const auto* a = f->find_tensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne[0], 64);
  EXPECT_EQ(a->ne[1], 3);
  float v;
  std::memcpy(&v, f->tensor_data(*a) + 4 * 10, 4);
  EXPECT_EQ(v, 5.0f);
  EXPECT_EQ(f->find_tensor("b.weight")->type, dtype::q4_0);
  EXPECT_EQ(f->find_tensor("b.weight")->size, 72u);  // 2 rows x 2 blocks x 18 bytes
  EXPECT_EQ(f->get_int("missing", 42), 42);
  EXPECT_THROW(f->get_int("missing"), error);
  EXPECT_THROW(f->get_int("general.architecture"), error);
}

TEST(Gguf, EveryTruncationIsAnErrorNotACrash) {
  const auto bytes = small_model().to_bytes();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + (long)cut);
    EXPECT_THROW(gguf::file::parse(part.data(), part.size()), error) << "cut at " << cut;
  }
}

TEST(Gguf, HostileHeadersAreRejectedWithClearErrors) {
  auto expect_error = [](std::vector<uint8_t> b, const char* needle) {
    try {
      gguf::file::parse(b.data(), b.size());
      ADD_FAILURE() << "accepted a hostile file (" << needle << ")";
    } catch (const error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  const auto good = small_model().to_bytes();
  auto put64 = [](std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); };
  auto b = good; b[0] = 'X'; expect_error(b, "bad magic");
  b = good; b[4] = 9; expect_error(b, "version");
  b = good; std::swap(b[4], b[7]); expect_error(b, "big-endian");
  b = good; put64(b, 8, 1ull << 60); expect_error(b, "tensor count");
  b = good; put64(b, 16, 1ull << 60); expect_error(b, "metadata count");
  b = good; put64(b, 24, 1ull << 40); expect_error(b, "long");  // first key's length
  expect_error({'G', 'G', 'M', 'L', 0, 0}, "legacy");
}

TEST(Gguf, TensorOutsideTheFileIsRejected) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  std::vector<float> t(32, 1.0f);
  w.add_tensor("x", dtype::f32, {32}, t.data());
  auto bytes = w.to_bytes();
  bytes.resize(bytes.size() - 8);  // lose the end of the data
  try {
    gguf::file::parse(bytes.data(), bytes.size());
    FAIL() << "accepted a truncated tensor";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("extends past the end"), std::string::npos) << e.what();
  }
}

TEST(Gguf, MissingFileAndDirectoryGiveErrors) {
  EXPECT_THROW(gguf::file::open("/nonexistent/model.gguf"), error);
  EXPECT_THROW(gguf::file::open(test::data_path("")), error);
}

TEST(Gguf, AtomicWriteLeavesNoTemporaryFile) {
  const fs::path dir = fs::temp_directory_path() / "hearth-gguf-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  small_model().write((dir / "m.gguf").string());
  int n = 0;
  for (auto& e : fs::directory_iterator(dir)) { (void)e; ++n; }
  EXPECT_EQ(n, 1);
  auto f = gguf::file::open((dir / "m.gguf").string());
  EXPECT_EQ(f->tensors().size(), 2u);
  fs::remove_all(dir);
}

namespace hearth {
namespace {
// Found by fuzzing: an f32 value far outside the int64 range (or NaN) read as an integer was
// undefined behaviour; it now saturates (NaN reads as 0).
TEST(Gguf, HugeAndNanFloatsReadAsIntegersSaturate) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_f32("huge", 1.9124e22f);
  w.set_f32("tiny", -1.9124e22f);
  w.set_f32("nan", std::nanf(""));
  const auto bytes = w.to_bytes();
  auto f = gguf::file::parse(bytes.data(), bytes.size());
  EXPECT_EQ(f->find("huge")->as_i64(), INT64_MAX);
  EXPECT_EQ(f->find("tiny")->as_i64(), INT64_MIN);
  EXPECT_EQ(f->find("nan")->as_i64(), 0);
}
}  // namespace
}  // namespace hearth
