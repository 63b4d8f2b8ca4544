// A persistent pool of worker threads for the CPU backend. One parallel region runs a whole graph:
// every thread walks the node list and takes its share of each op, with a barrier between ops, so
// a forward pass costs one wake-up instead of one per op.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::cpu {

class thread_pool {
 public:
  explicit thread_pool(int n_threads);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const { return n_threads_; }
  void resize(int n_threads);
  // Runs fn(ith) on every thread (the caller is thread 0) and returns when all are done.
  void run(const std::function<void(int ith)>& fn);
  // Waits until every thread of the running region has arrived.
  void barrier();

 private:
  void worker(int ith);
  void start(int n_threads);
  void stop();

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  bool quit_ = false;
  std::atomic<int> pending_{0};
  // barrier state
  std::atomic<int> arrived_{0};
  std::atomic<uint32_t> phase_{0};
};

}  // namespace hearth::cpu
