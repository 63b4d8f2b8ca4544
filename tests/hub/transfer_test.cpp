// download_file against the fake hub: parallel ranged parts, faults (dropped connections, wrong
// bytes, 429, 503 storms, stalls), pause/cancel/resume, state files, disk space, locking.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/error.h"
#include "hub/transfer.h"
#include "test_common.h"

using namespace hearth;
using namespace hearth::test;

namespace {

struct TransferTest : ::testing::Test {
  fake_hub hub;
  temp_dir dir;
  std::string data;
  hub::transfer_options opts = fast_options();
  void SetUp() override {
    hub.add_repo(tiny_repo());
    data = read_file(model_path("tinyllamas/stories260K.gguf"));
  }
  hub::remote_file file(const std::string& name = "stories260K.gguf") {
    hub::remote_file f;
    f.url = hub.url() + "/test/tiny/resolve/main/" + name;
    f.dest = dir / ("models/test/tiny/" + name);
    f.size = data.size();
    f.sha256 = sha256_of(data);
    return f;
  }
  std::vector<request_record> cdn_requests() {
    std::vector<request_record> out;
    for (auto& r : hub.requests())
      if (r.path.rfind("/cdn/", 0) == 0) out.push_back(r);
    return out;
  }
  std::string error_of(const hub::remote_file& f) {
    try {
      hub::download_file(f, opts);
    } catch (const error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(TransferTest, ParallelRangedPartsVerify) {
  auto f = file();
  std::vector<hub::transfer_progress> seen;
  auto r = hub::download_file(f, opts, [&](const hub::transfer_progress& p) { seen.push_back(p); });
  expect_complete(f.dest, data);
  EXPECT_EQ(r.size, data.size());
  EXPECT_EQ(r.sha256, sha256_of(data));
  EXPECT_EQ(r.fetched_bytes, data.size());
  EXPECT_EQ(r.resumed_bytes, 0u);
  std::set<std::string> ranges;
  for (auto& q : cdn_requests()) {
    EXPECT_EQ(q.status, 206);
    ranges.insert(q.range);
  }
  // The one-byte probe plus one request per 128 KiB part.
  const size_t n_parts = (data.size() + opts.part_bytes - 1) / opts.part_bytes;
  EXPECT_EQ(ranges.size(), n_parts + 1);
  EXPECT_TRUE(ranges.count("bytes=0-0"));
  EXPECT_TRUE(ranges.count("bytes=131072-262143"));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().phase, hub::transfer_phase::done);
  uint64_t last = 0;
  for (auto& p : seen)
    if (p.phase == hub::transfer_phase::downloading) {
      EXPECT_GE(p.done_bytes, last);
      last = p.done_bytes;
    }
  EXPECT_EQ(last, data.size());
}

TEST_F(TransferTest, DroppedConnectionsResumeMidPart) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.drop_times = 3;
    x.drop_after = 50000;
  });
  auto f = file();
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_EQ(r.fetched_bytes, data.size()) << "dropped bytes that arrived are kept, none fetched twice";
  bool mid_part = false;
  for (auto& q : cdn_requests()) {
    unsigned long long a = 0;
    if (std::sscanf(q.range.c_str(), "bytes=%llu-", &a) == 1 && a % opts.part_bytes != 0) mid_part = true;
  }
  EXPECT_TRUE(mid_part) << "a retry asks for the rest of the part, not the whole part";
}

TEST_F(TransferTest, WrongBytesOnceDownloadsAgain) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.corrupt_times = 1;
    x.corrupt_offset = 300000;
  });
  auto f = file();
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_EQ(r.fetched_bytes, 2 * data.size()) << "a hash mismatch throws the data away and starts over";
}

TEST_F(TransferTest, WrongBytesAlwaysFailsAndLeavesNothing) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.corrupt_times = -1;
    x.corrupt_offset = 1000;
  });
  auto f = file();
  const std::string err = error_of(f);
  EXPECT_NE(err.find("SHA-256 mismatch for stories260K.gguf"), std::string::npos) << err;
  EXPECT_NE(err.find("deleted"), std::string::npos) << err;
  expect_no_complete_file(f.dest);
  EXPECT_FALSE(exists(hub::partial_path(f.dest)));
  EXPECT_FALSE(exists(hub::state_path(f.dest)));
}

TEST_F(TransferTest, TooManyRequestsHonoursRetryAfter) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.status_times = 2;
    x.status_code = 429;
    x.retry_after_s = 1;
  });
  auto f = file();
  hub::download_file(f, opts);
  expect_complete(f.dest, data);
  auto reqs = cdn_requests();
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].status, 429);
  EXPECT_EQ(reqs[1].status, 429);
  // The backoff alone would wait ~5 ms; Retry-After: 1 makes it a second.
  EXPECT_GE(reqs[1].t - reqs[0].t, 0.9);
  EXPECT_GE(reqs[2].t - reqs[1].t, 0.9);
}

TEST_F(TransferTest, ServiceUnavailableStormGivesUp) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.status_times = -1;
    x.status_code = 503;
  });
  auto f = file();
  const std::string err = error_of(f);
  EXPECT_NE(err.find("HTTP 503"), std::string::npos) << err;
  EXPECT_EQ(cdn_requests().size(), (size_t)opts.http.retry.max_retries + 1) << "one try plus the retry budget";
  expect_no_complete_file(f.dest);
  EXPECT_FALSE(exists(hub::partial_path(f.dest))) << "nothing was received, nothing is kept";
}

TEST_F(TransferTest, StormAfterSomeDataKeepsTheResumableState) {
  // Data flows, the connection drops, then every further request fails: the partial file and its
  // state stay for a resume.
  opts.n_connections = 1;
  opts.part_bytes = 1 << 20;
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.drop_times = 1;
    x.drop_after = 200000;
    x.status_times = -1;
    x.status_code = 502;
    x.status_after = 2;  // the probe and the first part request get through
  });
  auto f = file();
  const std::string err = error_of(f);
  EXPECT_NE(err.find("giving up"), std::string::npos) << err;
  expect_no_complete_file(f.dest);
  ASSERT_TRUE(exists(hub::partial_path(f.dest)));
  ASSERT_TRUE(exists(hub::state_path(f.dest)));
  auto st = nlohmann::json::parse(read_file(hub::state_path(f.dest)));
  uint64_t saved = 0;
  for (auto& p : st["parts"]) saved += p[2].get<uint64_t>();
  EXPECT_EQ(saved, 200000u);
  // The server recovers: the next run resumes.
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) { x.status_times = 0; });
  hub.reset_counters();
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_EQ(r.resumed_bytes, saved);
  EXPECT_EQ(hub.bytes_served("test/tiny", "stories260K.gguf"), data.size() - saved + 1);  // + the probe byte
}

TEST_F(TransferTest, StalledResponsesAreRetried) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.stall_times = 2;
    x.stall_after = 40000;
  });
  auto f = file();
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_EQ(r.fetched_bytes, data.size());
}

TEST_F(TransferTest, ServerThatAlwaysStallsGivesUp) {
  opts.http.retry.max_retries = 2;
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.stall_times = -1;
    x.stall_after = 0;
  });
  auto f = file();
  const std::string err = error_of(f);
  EXPECT_NE(err.find("stalled: no data for 0.4 s"), std::string::npos) << err;
  expect_no_complete_file(f.dest);
}

TEST_F(TransferTest, PauseKeepsPartialAndResumes) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.throttle_chunk = 8192;
    x.throttle_sleep_ms = 5;
  });
  auto f = file();
  std::atomic<int> stop{0};
  std::thread t([&] {
    while (hub.bytes_served("test/tiny", "stories260K.gguf") < data.size() / 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    stop = hub::stop_pause;
  });
  try {
    hub::download_file(f, opts, {}, &stop);
    ADD_FAILURE() << "the download should have been paused";
  } catch (const error& e) {
    EXPECT_EQ(e.kind(), error_kind::cancelled);
  }
  t.join();
  expect_no_complete_file(f.dest);
  ASSERT_TRUE(exists(hub::partial_path(f.dest)));
  ASSERT_TRUE(exists(hub::state_path(f.dest)));
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) { x.throttle_sleep_ms = 0; });
  hub.reset_counters();
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_GT(r.resumed_bytes, data.size() / 4);
  EXPECT_LT(hub.bytes_served("test/tiny", "stories260K.gguf"), data.size() - r.resumed_bytes + 2);
}

TEST_F(TransferTest, CancelDeletesPartial) {
  hub.edit("test/tiny", "stories260K.gguf", [](fake_file& x) {
    x.throttle_chunk = 8192;
    x.throttle_sleep_ms = 5;
  });
  auto f = file();
  std::atomic<int> stop{0};
  std::thread t([&] {
    while (hub.bytes_served("test/tiny", "stories260K.gguf") < 100000) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    stop = hub::stop_cancel;
  });
  EXPECT_THROW(hub::download_file(f, opts, {}, &stop), error);
  t.join();
  expect_no_complete_file(f.dest);
  EXPECT_FALSE(exists(hub::partial_path(f.dest)));
  EXPECT_FALSE(exists(hub::state_path(f.dest)));
}

TEST_F(TransferTest, UnusableStateStartsOver) {
  auto f = file();
  std::filesystem::create_directories(std::filesystem::path(f.dest).parent_path());
  const std::vector<std::string> bad_states = {
      "not json",
      R"({"version":1,"size":5,"sha256":"","parts":[[0,5,5]]})",
      // right size and hash, but the parts overlap
      nlohmann::json({{"version", 1}, {"size", data.size()}, {"sha256", sha256_of(data)},
                      {"parts", {{0, 1000, 1000}, {500, data.size(), 0}}}}).dump(),
  };
  for (const auto& s : bad_states) {
    SCOPED_TRACE(s.substr(0, 40));
    hub::write_small_file_atomic(hub::partial_path(f.dest), std::string(data.size(), 'x'));
    hub::write_small_file_atomic(hub::state_path(f.dest), s);
    auto r = hub::download_file(f, opts);
    expect_complete(f.dest, data);
    EXPECT_EQ(r.resumed_bytes, 0u);
    std::filesystem::remove(f.dest);
  }
}

TEST_F(TransferTest, LyingStateIsCaughtByTheHash) {
  // A state claiming everything is done over a partial file of junk: the hash catches it, the
  // download starts over and ends verified.
  auto f = file();
  std::filesystem::create_directories(std::filesystem::path(f.dest).parent_path());
  hub::write_small_file_atomic(hub::partial_path(f.dest), std::string(data.size(), 'x'));
  hub::write_small_file_atomic(hub::state_path(f.dest),
                               nlohmann::json({{"version", 1}, {"url", f.url}, {"size", data.size()}, {"sha256", f.sha256},
                                               {"ranges", true}, {"parts", {{0, data.size(), data.size()}}}}).dump());
  auto r = hub::download_file(f, opts);
  expect_complete(f.dest, data);
  EXPECT_EQ(r.fetched_bytes, data.size());
}

TEST_F(TransferTest, NotEnoughDiskSpace) {
  opts.min_free_bytes = 1ull << 60;
  auto f = file();
  const std::string err = error_of(f);
  EXPECT_NE(err.find("not enough disk space for stories260K.gguf"), std::string::npos) << err;
  expect_no_complete_file(f.dest);
  EXPECT_FALSE(exists(hub::partial_path(f.dest)));
}

TEST_F(TransferTest, SizeMismatchIsAnError) {
  auto f = file();
  f.size = data.size() + 1;
  EXPECT_NE(error_of(f).find("size mismatch"), std::string::npos);
  expect_no_complete_file(f.dest);
}

TEST_F(TransferTest, SecondDownloaderOfTheSameFileIsRefused) {
  auto f = file();
  std::filesystem::create_directories(std::filesystem::path(f.dest).parent_path());
  int fd = ::open(hub::partial_path(f.dest).c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  EXPECT_NE(error_of(f).find("being downloaded by another process"), std::string::npos);
  ::close(fd);
  hub::download_file(f, opts);
  expect_complete(f.dest, data);
}

TEST_F(TransferTest, MissingFileIsAClearError) {
  auto f = file("nope.gguf");
  try {
    hub::download_file(f, opts);
    FAIL();
  } catch (const hub::http_error& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.error_code(), "EntryNotFound");
  }
  expect_no_complete_file(f.dest);
  EXPECT_FALSE(exists(hub::partial_path(f.dest)));
}

}  // namespace
