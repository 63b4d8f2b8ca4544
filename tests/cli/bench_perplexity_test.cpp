// hearth perplexity and hearth bench through the real binary: JSON shapes, figures that match the
// reference, and one-line errors for bad input. (Speed itself is never asserted.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "process_util.h"

namespace hearth::test {
namespace {

std::string stories() { return data_path("models/tinyllamas/stories260K.gguf"); }
std::string text() { return data_path("reference/perplexity/stories-text-a.txt"); }

TEST(PerplexityCli, JsonMatchesTheReference) {
  const auto r = run_process({hearth_exe(), "perplexity", stories(), text(), "--ctx", "128", "--batch", "128", "-t", "2",
                              "--cache-type", "f32", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["ppl"].get<double>(), 5.3095, 0.5e-4 + 1e-6);
  EXPECT_EQ(j["n_chunks"].get<int>(), 41);
  EXPECT_EQ(j["running_ppl"].size(), 41u);
  // -f names the file too, and the plain output ends with llama.cpp's final line.
  const auto p = run_process({hearth_exe(), "perplexity", stories(), "-f", text(), "--ctx", "128", "--chunks", "3"});
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_NE(p.out.find("Final estimate: PPL = "), std::string::npos) << p.out;
}

TEST(PerplexityCli, BadInputIsOneLineError) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {hearth_exe(), "perplexity", stories(), "/nonexistent/text.txt"},
           {hearth_exe(), "perplexity", stories()},
           {hearth_exe(), "perplexity", stories(), text(), "--ctx", "100000"},
       }) {
    const auto r = run_process(args);
    EXPECT_NE(r.status, 0) << args.back();
    EXPECT_TRUE(r.out.empty()) << r.out;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
}

TEST(BenchCli, JsonHasEveryTest) {
  const auto r = run_process({hearth_exe(), "bench", stories(), "-p", "16,32", "-n", "8", "-r", "2", "-t", "1", "--no-bandwidth", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u);
  const char* names[] = {"pp16", "pp32", "tg8"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j[i]["test"], names[i]);
    EXPECT_GT(j[i]["tokens_per_s"].get<double>(), 0);
    EXPECT_GE(j[i]["stddev"].get<double>(), 0);
    EXPECT_GT(j[i]["gb_per_s"].get<double>(), 0);
    EXPECT_EQ(j[i]["samples_ts"].size(), 2u);
    EXPECT_EQ(j[i]["n_threads"].get<int>(), 1);
    EXPECT_FALSE(j[i].contains("bandwidth_fraction"));
  }
  // A token reads every weight once: for the untied stories260K that is all but the embedding table.
  EXPECT_GT(j[2]["bytes_per_token"].get<double>(), 0.5e6);
  // Given a bandwidth, each test says which fraction of it it reached.
  const auto b = run_process({hearth_exe(), "bench", stories(), "-p", "0", "-n", "4", "-r", "1", "--bandwidth", "10", "--json"});
  ASSERT_EQ(b.status, 0) << b.err;
  const auto jb = nlohmann::json::parse(b.out);
  ASSERT_EQ(jb.size(), 1u);
  EXPECT_NEAR(jb[0]["bandwidth_fraction"].get<double>(), jb[0]["gb_per_s"].get<double>() / 10, 1e-9);
}

TEST(BenchCli, MemoryBandwidth) {
  const auto r = run_process({hearth_exe(), "bench", "--memory", "-t", "2", "--memory-mib", "64", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["threads"].get<int>(), 1);
  EXPECT_EQ(j[1]["threads"].get<int>(), 2);
  for (const auto& x : j) {
    EXPECT_GT(x["gb_per_s"].get<double>(), 0.1);
    EXPECT_EQ(x["buffer_bytes"].get<uint64_t>(), 64u << 20);
  }
}

TEST(BenchCli, BadInputIsOneLineError) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {hearth_exe(), "bench", "/nonexistent/model.gguf"},
           {hearth_exe(), "bench", stories(), "-p", "-5"},
           {hearth_exe(), "bench", stories(), "-r", "0"},
       }) {
    const auto r = run_process(args);
    EXPECT_NE(r.status, 0);
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
}

}  // namespace
}  // namespace hearth::test
