// The debug switch: `hearth run --dump-tensors DIR` writes every named intermediate tensor of each
// pass with an index, and scripts/dump-diff.py finds where two dumps part.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "process_util.h"

namespace hearth::test {
namespace {

namespace fs = std::filesystem;

TEST(Dump, WritesEveryNamedTensorAndDiffsFindDifferences) {
  const fs::path dir = fs::temp_directory_path() / ("hearth-dump-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string a = (dir / "a").string(), b = (dir / "b").string();
  ASSERT_EQ(run_process({hearth_exe(), "run", "-n", "2", "--temp", "0", "--dump-tensors", a}).status, 0);
  ASSERT_EQ(run_process({"/usr/bin/env", "HEARTH_CPU_ISA=generic", hearth_exe(), "run", "-n", "2", "--temp", "0", "--dump-tensors", b}).status, 0);
  // Two passes: the prompt, then the one generated token that is decoded.
  ASSERT_TRUE(fs::exists(dir / "a/pass0/index.tsv"));
  ASSERT_TRUE(fs::exists(dir / "a/pass1/index.tsv"));
  std::ifstream index(dir / "a/pass0/index.tsv");
  std::string line, last;
  int rows = 0;
  while (std::getline(index, line)) {
    std::istringstream in(line);
    std::string name, op, dev;
    int64_t ne[4];
    in >> name >> op >> ne[0] >> ne[1] >> ne[2] >> ne[3] >> dev;
    EXPECT_EQ(fs::file_size(dir / "a/pass0" / (name + ".f32")), (uintmax_t)(ne[0] * ne[1] * ne[2] * ne[3] * 4)) << name;
    EXPECT_EQ(dev, "cpu");
    ++rows;
    last = name;
  }
  EXPECT_GT(rows, 5 * 10);  // five layers of stories260K, about a dozen tensors each
  EXPECT_EQ(last, "result_output");
  const std::string diff = source_path("scripts/dump-diff.py");
  EXPECT_EQ(run_process({"/usr/bin/python3", diff, a, b, "--tol", "1e-4"}).status, 0);
  // A changed value in one tensor is reported there.
  {
    std::fstream f(dir / "b/pass0/attn_norm-0.f32", std::ios::in | std::ios::out | std::ios::binary);
    const float big = 1e6f;
    f.write(reinterpret_cast<const char*>(&big), 4);
  }
  const auto r = run_process({"/usr/bin/python3", diff, a, b, "--tol", "1e-4"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("pass0/attn_norm-0"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth::test
