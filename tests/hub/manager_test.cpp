// The download manager: jobs from reference to verified files, listeners, already-present files,
// split sets, gated repos and tokens, failures, pause/resume, cancel, queueing, concurrency.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "hub/download_manager.h"
#include "test_common.h"

using namespace hearth;
using namespace hearth::test;

namespace {

struct ManagerTest : ::testing::Test {
  fake_hub hub;
  temp_dir dir;
  std::string stories = read_file(model_path("tinyllamas/stories260K.gguf"));
  void SetUp() override {
    hub.add_repo(quant_repo());
    hub.add_repo(split_repo());
    hub.add_repo(gated_repo());
    hub.add_repo(bad_hash_repo());
    hub.add_repo(folders_repo());
  }
  hub::manager_options options(std::optional<std::string> token = std::string()) {
    hub::manager_options o;
    o.models_root = dir / "models";
    o.endpoint = hub.url();
    o.token = token;
    o.transfer = fast_options();
    return o;
  }
  void throttle(const std::string& repo, const std::string& file, int ms) {
    hub.edit(repo, file, [&](fake_file& f) {
      f.throttle_chunk = 8192;
      f.throttle_sleep_ms = ms;
    });
  }
  void wait_for_bytes(const std::string& repo, const std::string& file, uint64_t n) {
    while (hub.bytes_served(repo, file) < n) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
};

TEST_F(ManagerTest, DownloadsAVerifiedModelAndReports) {
  hub::download_manager dm(options());
  std::mutex m;
  std::vector<hub::download_status> seen;
  const int token = dm.subscribe([&](const hub::download_status& s) {
    std::lock_guard<std::mutex> lock(m);
    seen.push_back(s);
  });
  const uint64_t id = dm.start("bartowski/Tiny-GGUF");
  const auto st = dm.wait(id);
  dm.unsubscribe(token);
  ASSERT_EQ(st.state, hub::job_state::completed) << st.error;
  const std::string dest = dir / "models/bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf";
  expect_complete(dest, stories);
  EXPECT_EQ(st.paths, std::vector<std::string>{dest});
  EXPECT_EQ(st.quant, "Q4_K_M");
  EXPECT_EQ(st.total_bytes, stories.size());
  EXPECT_EQ(st.done_bytes, stories.size());
  EXPECT_EQ(st.fetched_bytes, stories.size());
  std::lock_guard<std::mutex> lock(m);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().state, hub::job_state::resolving);
  EXPECT_EQ(seen.back().state, hub::job_state::completed);
  bool saw_downloading = false, saw_verifying = false;
  uint64_t last = 0;
  for (auto& s : seen) {
    saw_downloading |= s.state == hub::job_state::downloading;
    saw_verifying |= s.state == hub::job_state::verifying;
    EXPECT_GE(s.done_bytes, last);
    last = s.done_bytes;
  }
  EXPECT_TRUE(saw_downloading);
  EXPECT_TRUE(saw_verifying);
  const auto j = hub::to_json(st);
  EXPECT_EQ(j["state"], "completed");
  EXPECT_EQ(j["files"][0]["name"], "Tiny-Q4_K_M.gguf");
  EXPECT_EQ(j["total_bytes"], stories.size());
}

TEST_F(ManagerTest, CompleteFilesAreNotFetchedAgain) {
  hub::download_manager dm(options());
  ASSERT_EQ(dm.wait(dm.start("bartowski/Tiny-GGUF")).state, hub::job_state::completed);
  hub.reset_counters();
  auto st = dm.wait(dm.start("bartowski/Tiny-GGUF:Q4_K_M"));
  EXPECT_EQ(st.state, hub::job_state::completed);
  EXPECT_TRUE(st.files[0].present);
  EXPECT_EQ(st.fetched_bytes, 0u);
  EXPECT_EQ(hub.bytes_served("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf"), 0u);
  st = dm.wait(dm.start("bartowski/Tiny-GGUF", {.force = true}));
  EXPECT_EQ(st.state, hub::job_state::completed);
  EXPECT_EQ(st.fetched_bytes, stories.size());
}

TEST_F(ManagerTest, DownloadsSplitSets) {
  hub::download_manager dm(options());
  auto st = dm.wait(dm.start("test/split"));
  ASSERT_EQ(st.state, hub::job_state::completed) << st.error;
  ASSERT_EQ(st.paths.size(), 2u);
  expect_complete(st.paths[0], stories.substr(0, stories.size() / 2));
  expect_complete(st.paths[1], stories.substr(stories.size() / 2));
  EXPECT_EQ(st.total_bytes, stories.size());
}

TEST_F(ManagerTest, QuantizationFoldersKeepTheirFilesApart) {
  hub::download_manager dm(options());
  auto q4 = dm.wait(dm.start("test/folders"));
  ASSERT_EQ(q4.state, hub::job_state::completed) << q4.error;
  EXPECT_EQ(q4.quant, "Q4_K_M");
  auto q8 = dm.wait(dm.start("test/folders:Q8_0"));
  ASSERT_EQ(q8.state, hub::job_state::completed) << q8.error;
  ASSERT_EQ(q8.paths.size(), 2u);
  EXPECT_EQ(q8.paths[0], dir / "models/test/folders/Q8_0/model-00001-of-00002.gguf");
  // Both sets are on disk, neither overwrote the other.
  const std::string a = read_file(model_path("tinyllamas/stories260K.gguf"));
  expect_complete(dir / "models/test/folders/Q4_K_M/model-00002-of-00002.gguf", a.substr(1000));
  expect_complete(dir / "models/test/folders/Q8_0/model-00001-of-00002.gguf",
                  read_file(model_path("ollama/llama-2-tiny-random.gguf")).substr(0, 5000));
}

TEST_F(ManagerTest, GatedRepoNeedsTheToken) {
  const std::string dest = dir / "models/test/gated/Gated-Q4_K_M.gguf";
  {
    hub::download_manager dm(options(""));
    auto st = dm.wait(dm.start("test/gated"));
    EXPECT_EQ(st.state, hub::job_state::failed);
    EXPECT_EQ(st.error, "test/gated is a gated repository: request access at " + hub.url() +
                            "/test/gated and set HF_TOKEN to an access token of that account");
    expect_no_complete_file(dest);
    EXPECT_FALSE(exists(hub::partial_path(dest)));
  }
  {
    hub::download_manager dm(options("hf_wrong"));
    auto st = dm.wait(dm.start("test/gated"));
    EXPECT_EQ(st.state, hub::job_state::failed);
    EXPECT_NE(st.error.find("the HF_TOKEN account has no access to the gated repository test/gated"), std::string::npos) << st.error;
    expect_no_complete_file(dest);
  }
  hub.reset_counters();
  hub::download_manager dm(options("hf_secret"));
  auto st = dm.wait(dm.start("test/gated"));
  ASSERT_EQ(st.state, hub::job_state::completed) << st.error;
  expect_complete(dest, stories);
  for (auto& r : hub.requests()) {
    if (r.path.find("/resolve/") != std::string::npos) EXPECT_TRUE(r.authorized) << r.path;
    if (r.path.rfind("/cdn/", 0) == 0) EXPECT_FALSE(r.authorized) << "the token must not follow a redirect to another host";
  }
}

TEST_F(ManagerTest, FailuresEndInStateFailedWithoutFiles) {
  hub::download_manager dm(options());
  auto st = dm.wait(dm.start("test/badhash"));
  EXPECT_EQ(st.state, hub::job_state::failed);
  EXPECT_NE(st.error.find("SHA-256 mismatch for Bad-Q4_K_M.gguf"), std::string::npos) << st.error;
  expect_no_complete_file(dir / "models/test/badhash/Bad-Q4_K_M.gguf");
  EXPECT_FALSE(exists(dir / "models/test/badhash/Bad-Q4_K_M.gguf.part"));
  st = dm.wait(dm.start("test/nothing"));
  EXPECT_EQ(st.state, hub::job_state::failed);
  EXPECT_NE(st.error.find("repository test/nothing not found"), std::string::npos) << st.error;
  EXPECT_THROW(dm.start("not a reference"), error);
  EXPECT_THROW(dm.start("owner/repo/../../etc/passwd"), error);
}

TEST_F(ManagerTest, PauseThenStartAgainResumes) {
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 5);
  hub::download_manager dm(options());
  const uint64_t id = dm.start("bartowski/Tiny-GGUF");
  EXPECT_EQ(dm.start("bartowski/Tiny-GGUF"), id) << "the same running reference is one job";
  wait_for_bytes("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", stories.size() / 3);
  EXPECT_TRUE(dm.pause(id));
  auto st = dm.wait(id);
  EXPECT_EQ(st.state, hub::job_state::paused);
  const std::string dest = dir / "models/bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf";
  expect_no_complete_file(dest);
  EXPECT_TRUE(exists(hub::partial_path(dest)));
  EXPECT_FALSE(dm.pause(id)) << "a finished job cannot be paused";
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 0);
  hub.reset_counters();
  const uint64_t id2 = dm.start("bartowski/Tiny-GGUF");
  EXPECT_NE(id2, id);
  st = dm.wait(id2);
  ASSERT_EQ(st.state, hub::job_state::completed) << st.error;
  expect_complete(dest, stories);
  EXPECT_GT(st.resumed_bytes, stories.size() / 4);
  EXPECT_EQ(st.fetched_bytes + st.resumed_bytes, stories.size());
  EXPECT_LT(hub.bytes_served("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf"), stories.size() - st.resumed_bytes + 2);
  EXPECT_TRUE(dm.forget(id));
  EXPECT_FALSE(dm.status(id).has_value());
  EXPECT_EQ(dm.list().size(), 1u);
}

TEST_F(ManagerTest, CancelRemovesEverything) {
  throttle("test/split", "big-Q4_K_M-00002-of-00002.gguf", 5);
  hub::download_manager dm(options());
  const uint64_t id = dm.start("test/split");
  wait_for_bytes("test/split", "big-Q4_K_M-00002-of-00002.gguf", 50000);
  EXPECT_TRUE(dm.cancel(id));
  auto st = dm.wait(id);
  EXPECT_EQ(st.state, hub::job_state::cancelled);
  for (auto& f : st.files) {
    expect_no_complete_file(f.path);
    EXPECT_FALSE(exists(hub::partial_path(f.path)));
    EXPECT_FALSE(exists(hub::state_path(f.path)));
  }
  EXPECT_FALSE(dm.cancel(12345));
}

TEST_F(ManagerTest, JobsBeyondTheLimitWaitTheirTurn) {
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 3);
  auto o = options();
  o.max_parallel_jobs = 1;
  hub::download_manager dm(o);
  const uint64_t a = dm.start("bartowski/Tiny-GGUF");
  const uint64_t b = dm.start("test/split");
  wait_for_bytes("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 10000);
  EXPECT_EQ(dm.status(b)->state, hub::job_state::queued);
  // Status and list from many threads while jobs run.
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i)
    readers.emplace_back([&] {
      while (!done) {
        for (auto& s : dm.list()) EXPECT_LE(s.done_bytes, std::max<uint64_t>(s.total_bytes, s.done_bytes));
        (void)dm.status(a);
        (void)hub::to_json(*dm.status(b));
      }
    });
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 0);
  EXPECT_EQ(dm.wait(a).state, hub::job_state::completed);
  EXPECT_EQ(dm.wait(b).state, hub::job_state::completed);
  done = true;
  for (auto& t : readers) t.join();
}

TEST_F(ManagerTest, CancelWhileQueued) {
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 3);
  auto o = options();
  o.max_parallel_jobs = 1;
  hub::download_manager dm(o);
  const uint64_t a = dm.start("bartowski/Tiny-GGUF");
  const uint64_t b = dm.start("test/split");
  EXPECT_TRUE(dm.cancel(b));
  EXPECT_EQ(dm.wait(b).state, hub::job_state::cancelled);
  EXPECT_TRUE(dm.cancel(a));
  EXPECT_EQ(dm.wait(a).state, hub::job_state::cancelled);
  EXPECT_EQ(hub.bytes_served("test/split", "big-Q4_K_M-00001-of-00002.gguf"), 0u);
}

TEST_F(ManagerTest, DestructionPausesRunningJobs) {
  throttle("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 5);
  const std::string dest = dir / "models/bartowski/Tiny-GGUF/Tiny-Q4_K_M.gguf";
  {
    hub::download_manager dm(options());
    dm.start("bartowski/Tiny-GGUF");
    wait_for_bytes("bartowski/Tiny-GGUF", "Tiny-Q4_K_M.gguf", 50000);
  }
  expect_no_complete_file(dest);
  EXPECT_TRUE(exists(hub::partial_path(dest)));
  EXPECT_TRUE(exists(hub::state_path(dest)));
}

}  // namespace
