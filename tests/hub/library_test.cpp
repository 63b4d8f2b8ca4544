// The local library: listing Hearth's folder, LM Studio's and Ollama's stores with GGUF metadata,
// finding models by name, removing, importing.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/gguf.h"
#include "hub/library.h"
#include "hub/transfer.h"
#include "test_common.h"

using namespace hearth;
using namespace hearth::test;
namespace fs = std::filesystem;

namespace {

// A small llama-like GGUF: a Q4_K matrix [256, rows] and an F32 norm [256]; file type 15 (Q4_K_M)
// unless ftype < 0. Parameters: 256 * rows + 256.
void write_q4k_model(const std::string& path, int rows, int ftype = 15, int ctx = 4096) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "Tiny");
  w.set_u32("llama.context_length", (uint32_t)ctx);
  if (ftype >= 0) w.set_u32("general.file_type", (uint32_t)ftype);
  std::vector<uint8_t> q(row_bytes(dtype::q4_k, 256) * rows, 0);
  w.add_tensor("blk.0.ffn_up.weight", dtype::q4_k, {256, rows}, q.data());
  std::vector<float> norm(256, 1.0f);
  w.add_tensor("blk.0.attn_norm.weight", dtype::f32, {256}, norm.data());
  fs::create_directories(fs::path(path).parent_path());
  w.write(path);
}

// One part of a split Q8_0 model: a [64, rows] Q8_0 matrix.
void write_q8_part(const std::string& path, int index, int count, int rows) {
  gguf::writer w;
  w.set_string("general.architecture", "qwen2");
  w.set_u32("qwen2.context_length", 32768);
  w.set("split.no", gguf::value::of_u32((uint32_t)index));
  w.set("split.count", gguf::value::of_u32((uint32_t)count));
  std::vector<uint8_t> q(row_bytes(dtype::q8_0, 64) * rows, 0);
  w.add_tensor("blk." + std::to_string(index) + ".w", dtype::q8_0, {64, rows}, q.data());
  fs::create_directories(fs::path(path).parent_path());
  w.write(path);
}

void write_text(const std::string& path, const std::string& s) {
  fs::create_directories(fs::path(path).parent_path());
  hub::write_small_file_atomic(path, s);
}

void write_ollama_manifest(const std::string& root, const std::string& rel, const std::string& digest) {
  nlohmann::json m = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
      {"config", {{"mediaType", "application/vnd.docker.container.image.v1+json"}, {"digest", "sha256:" + std::string(64, '0')}, {"size", 10}}},
      {"layers",
       {{{"mediaType", "application/vnd.ollama.image.model"}, {"digest", digest}, {"size", 1}},
        {{"mediaType", "application/vnd.ollama.image.template"}, {"digest", "sha256:" + std::string(64, '1')}, {"size", 1}}}}};
  write_text(root + "/manifests/" + rel, m.dump());
}

struct LibraryTest : ::testing::Test {
  temp_dir dir;
  hub::library_locations where;
  std::string stories_path = model_path("tinyllamas/stories260K.gguf");
  void SetUp() override {
    where.root = dir / "hearth";
    where.lmstudio = {dir / "lmstudio", dir / "no-such-dir"};
    where.ollama = {dir / "ollama"};
    write_q4k_model(where.root + "/bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf", 4);
    write_q4k_model(where.root + "/bartowski/Tiny-GGUF/Tiny-Q8_0.gguf", 2, 7);
    fs::create_directories(where.root + "/local/stories");
    fs::copy_file(stories_path, where.root + "/local/stories/stories260K.gguf");
    write_q8_part(where.root + "/Qwen/Big-GGUF/big-Q8_0-00001-of-00002.gguf", 0, 2, 3);
    write_q8_part(where.root + "/Qwen/Big-GGUF/big-Q8_0-00002-of-00002.gguf", 1, 2, 5);
    write_q8_part(where.root + "/Qwen/Half-GGUF/half-Q8_0-00001-of-00003.gguf", 0, 3, 1);
    write_text(where.root + "/junk/bad/junk.gguf", "this is not gguf");
    write_text(where.root + "/bartowski/Tiny-GGUF/Tiny-Q6_K.gguf.part", "partial");
    write_text(where.root + "/bartowski/Tiny-GGUF/Tiny-Q6_K.gguf.part.json", "{}");
    write_text(where.root + "/bartowski/Tiny-GGUF/mmproj-Tiny-f16.gguf", "projector");
    write_q4k_model(dir / "lmstudio/lmstudio-community/Other-GGUF/Other-Q4_K_M.gguf", 8, 15, 8192);
    // Ollama: one library model, one pulled from hf.co, one with a missing blob, one hostile digest.
    const std::string blob_hex = std::string(63, 'a') + "b";
    fs::create_directories(dir / "ollama/blobs");
    fs::copy_file(model_path("ollama/llama-2-tiny-random.gguf"), dir / ("ollama/blobs/sha256-" + blob_hex));
    write_ollama_manifest(dir / "ollama", "registry.ollama.ai/library/tiny/latest", "sha256:" + blob_hex);
    write_ollama_manifest(dir / "ollama", "hf.co/someone/Some-GGUF/Q4_K_M", "sha256:" + blob_hex);
    write_ollama_manifest(dir / "ollama", "registry.ollama.ai/library/gone/7b", "sha256:" + std::string(64, 'c'));
    write_ollama_manifest(dir / "ollama", "registry.ollama.ai/library/evil/latest", "sha256:../../../etc/passwd");
  }
  const hub::model_entry* by_name(const std::vector<hub::model_entry>& v, const std::string& name) {
    for (auto& m : v)
      if (m.name == name) return &m;
    return nullptr;
  }
};

TEST_F(LibraryTest, ListsEveryStoreWithMetadata) {
  auto all = hub::list_models(where);
  std::vector<std::string> names;
  for (auto& m : all) names.push_back(m.source + ":" + m.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "hearth:Qwen/Big-GGUF/big-Q8_0", "hearth:Qwen/Half-GGUF/half-Q8_0", "hearth:bartowski/Tiny-GGUF/Tiny-Q4_K_M",
                       "hearth:bartowski/Tiny-GGUF/Tiny-Q8_0", "hearth:junk/bad/junk", "hearth:local/stories/stories260K",
                       "lmstudio:lmstudio-community/Other-GGUF/Other-Q4_K_M", "ollama:gone:7b", "ollama:hf.co/someone/Some-GGUF:Q4_K_M",
                       "ollama:tiny:latest"}));

  const auto* tiny = by_name(all, "bartowski/Tiny-GGUF/Tiny-Q4_K_M");
  ASSERT_TRUE(tiny);
  EXPECT_EQ(tiny->info.architecture, "llama");
  EXPECT_EQ(tiny->info.n_params, 256u * 4 + 256);
  EXPECT_EQ(tiny->info.quantization, "Q4_K_M");
  EXPECT_EQ(tiny->info.context_length, 4096);
  EXPECT_EQ(tiny->size_bytes, fs::file_size(tiny->path));
  EXPECT_TRUE(tiny->error.empty());
  EXPECT_EQ(by_name(all, "bartowski/Tiny-GGUF/Tiny-Q8_0")->info.quantization, "Q8_0") << "from general.file_type = 7";

  const auto* stories = by_name(all, "local/stories/stories260K");
  ASSERT_TRUE(stories);
  EXPECT_EQ(stories->info.quantization, "F32") << "no file type: the dominant weight type";
  EXPECT_EQ(stories->info.context_length, 2048);
  EXPECT_GT(stories->info.n_params, 250000u);
  EXPECT_LT(stories->info.n_params, 300000u);

  const auto* big = by_name(all, "Qwen/Big-GGUF/big-Q8_0");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->files.size(), 2u);
  EXPECT_EQ(big->info.n_params, 64u * 3 + 64u * 5) << "parameters of both parts";
  EXPECT_EQ(big->info.architecture, "qwen2");
  EXPECT_EQ(big->info.context_length, 32768);
  EXPECT_EQ(big->info.quantization, "Q8_0");
  EXPECT_EQ(big->size_bytes, fs::file_size(big->files[0]) + fs::file_size(big->files[1]));

  EXPECT_EQ(by_name(all, "Qwen/Half-GGUF/half-Q8_0")->error, "incomplete split set: 1 of 3 parts");
  EXPECT_FALSE(by_name(all, "junk/bad/junk")->error.empty());

  const auto* lms = by_name(all, "lmstudio-community/Other-GGUF/Other-Q4_K_M");
  ASSERT_TRUE(lms);
  EXPECT_EQ(lms->info.context_length, 8192);

  const auto* ollama = by_name(all, "tiny:latest");
  ASSERT_TRUE(ollama);
  EXPECT_EQ(ollama->path, dir / ("ollama/blobs/sha256-" + std::string(63, 'a') + "b"));
  EXPECT_EQ(ollama->info.architecture, "llama");
  EXPECT_EQ(ollama->info.quantization, "F16");
  EXPECT_NE(by_name(all, "gone:7b")->error.find("blob missing"), std::string::npos);
}

TEST_F(LibraryTest, SourcesCanBeLeftOut) {
  hub::list_options o;
  o.lmstudio = o.ollama = false;
  for (auto& m : hub::list_models(where, o)) EXPECT_EQ(m.source, "hearth");
  o.read_metadata = false;
  for (auto& m : hub::list_models(where, o)) EXPECT_EQ(m.info.n_params, 0u);
}

TEST_F(LibraryTest, MarksLoadedModels) {
  auto all = hub::list_models(where);
  // Paths are compared after resolving "..".
  hub::mark_loaded(all, {where.root + "/local/../bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf"});
  for (auto& m : all) EXPECT_EQ(m.loaded, m.name == "bartowski/Tiny-GGUF/Tiny-Q4_K_M") << m.name;
}

TEST_F(LibraryTest, FindsModelsByTheirNames) {
  auto name_of = [&](const std::string& q) { return hub::find_model(where, q).name; };
  EXPECT_EQ(name_of("bartowski/Tiny-GGUF/Tiny-Q4_K_M"), "bartowski/Tiny-GGUF/Tiny-Q4_K_M");
  EXPECT_EQ(name_of("bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf"), "bartowski/Tiny-GGUF/Tiny-Q4_K_M");
  EXPECT_EQ(name_of("Tiny-GGUF/Tiny-Q8_0"), "bartowski/Tiny-GGUF/Tiny-Q8_0");
  EXPECT_EQ(name_of("stories260K"), "local/stories/stories260K");
  EXPECT_EQ(name_of("stories260K.gguf"), "local/stories/stories260K");
  EXPECT_EQ(name_of("bartowski/Tiny-GGUF:q8_0"), "bartowski/Tiny-GGUF/Tiny-Q8_0");
  EXPECT_EQ(name_of("local/stories"), "local/stories/stories260K");
  write_q8_part(where.root + "/test/folders/Q8_0/model-00001-of-00002.gguf", 0, 2, 1);
  write_q8_part(where.root + "/test/folders/Q8_0/model-00002-of-00002.gguf", 1, 2, 1);
  write_q4k_model(where.root + "/test/folders/Q4_K_M/model.gguf", 1);
  EXPECT_EQ(name_of("test/folders:Q8_0"), "test/folders/Q8_0/model");
  EXPECT_EQ(name_of("test/folders:q4_k_m"), "test/folders/Q4_K_M/model");
  EXPECT_EQ(name_of("tiny"), "tiny:latest");
  EXPECT_EQ(name_of(where.root + "/Qwen/Big-GGUF/big-Q8_0-00002-of-00002.gguf"), "Qwen/Big-GGUF/big-Q8_0");
  auto m = hub::find_model(where, "bartowski/Tiny-GGUF/Tiny-Q4_K_M");
  EXPECT_EQ(m.info.n_params, 256u * 4 + 256) << "metadata is read for the model found";
  const auto outside = hub::find_model(where, stories_path);
  EXPECT_EQ(outside.source, "file");
  EXPECT_EQ(outside.info.architecture, "llama");
  try {
    hub::find_model(where, "bartowski/Tiny-GGUF");
    FAIL() << "two models in that repo";
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("matches 2 models"), std::string::npos) << e.what();
  }
  EXPECT_THROW(hub::find_model(where, "no-such-model"), error);
}

TEST_F(LibraryTest, RemovesOnlyHearthModels) {
  auto big = hub::find_model(where, "Qwen/Big-GGUF/big-Q8_0");
  write_text(big.files[1] + ".part", "stale");
  auto removed = hub::remove_model(where, big);
  EXPECT_EQ(removed.size(), 3u);
  EXPECT_FALSE(fs::exists(where.root + "/Qwen/Big-GGUF")) << "the emptied folder goes too";
  EXPECT_TRUE(fs::exists(where.root + "/Qwen/Half-GGUF"));
  EXPECT_TRUE(fs::exists(where.root)) << "never the root";
  EXPECT_THROW(hub::remove_model(where, hub::find_model(where, "lmstudio-community/Other-GGUF/Other-Q4_K_M")), error);
  EXPECT_THROW(hub::remove_model(where, hub::find_model(where, "tiny:latest")), error);
  EXPECT_THROW(hub::remove_model(where, hub::find_model(where, stories_path)), error);
  EXPECT_TRUE(fs::exists(stories_path));
}

TEST_F(LibraryTest, ImportsByCopyLinkAndMove) {
  auto copied = hub::import_model(where, stories_path, hub::import_mode::copy, "me/stories-copy");
  ASSERT_EQ(copied.size(), 1u);
  EXPECT_EQ(copied[0], where.root + "/me/stories-copy/stories260K.gguf");
  EXPECT_EQ(read_file(copied[0]), read_file(stories_path));
  EXPECT_FALSE(fs::is_symlink(copied[0]));
  EXPECT_THROW(hub::import_model(where, stories_path, hub::import_mode::copy, "me/stories-copy"), error) << "already there";

  auto linked = hub::import_model(where, stories_path, hub::import_mode::link);
  EXPECT_EQ(linked[0], where.root + "/local/stories260K/stories260K.gguf");
  EXPECT_TRUE(fs::is_symlink(linked[0]));
  EXPECT_EQ(hub::find_model(where, "local/stories260K/stories260K").info.architecture, "llama");
  // Removing a linked model removes the link, never the file it points to.
  hub::remove_model(where, hub::find_model(where, "local/stories260K/stories260K"));
  EXPECT_TRUE(fs::exists(stories_path));

  const std::string loose = dir / "loose/my-Q4_K_M.gguf";
  write_q4k_model(loose, 2);
  auto moved = hub::import_model(where, loose, hub::import_mode::move, "me/mine");
  EXPECT_FALSE(fs::exists(loose));
  EXPECT_EQ(hub::find_model(where, "me/mine:Q4_K_M").path, moved[0]);
}

TEST_F(LibraryTest, ImportBringsWholeSplitSetsAndRejectsNonGguf) {
  write_q8_part(dir / "loose/set-Q8_0-00001-of-00002.gguf", 0, 2, 1);
  write_q8_part(dir / "loose/set-Q8_0-00002-of-00002.gguf", 1, 2, 1);
  auto paths = hub::import_model(where, dir / "loose/set-Q8_0-00002-of-00002.gguf", hub::import_mode::copy);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], where.root + "/local/set-Q8_0/set-Q8_0-00001-of-00002.gguf");
  write_text(dir / "loose/fake.gguf", "GGUF but not really");
  try {
    hub::import_model(where, dir / "loose/fake.gguf", hub::import_mode::copy);
    FAIL();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a usable GGUF file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(where.root + "/local/fake"));
  write_q8_part(dir / "loose/lonely-00001-of-00002.gguf", 0, 2, 1);
  EXPECT_THROW(hub::import_model(where, dir / "loose/lonely-00001-of-00002.gguf", hub::import_mode::copy), error);
  EXPECT_THROW(hub::import_model(where, dir / "loose/missing.gguf", hub::import_mode::copy), error);
  EXPECT_THROW(hub::import_model(where, stories_path, hub::import_mode::copy, "../escape"), error);
}

}  // namespace
