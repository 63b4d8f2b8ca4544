#include "backends/cpu/thread_pool.h"

#include "backends/cpu/spin_wait.h"

namespace hearth::cpu {


thread_pool::thread_pool(int n_threads) { start(n_threads < 1 ? 1 : n_threads); }
thread_pool::~thread_pool() { stop(); }

void thread_pool::start(int n_threads) {
  n_threads_ = n_threads;
  quit_ = false;
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

void thread_pool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
    ++generation_;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void thread_pool::resize(int n_threads) {
  if (n_threads < 1) n_threads = 1;
  if (n_threads == n_threads_) return;
  stop();
  start(n_threads);
}

void thread_pool::worker(int ith) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (quit_) return;
      job = job_;
    }
    (*job)(ith);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
    pending_.notify_all();
  }
}

void thread_pool::run(const std::function<void(int)>& fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  arrived_.store(0);
  pending_.store(n_threads_ - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    ++generation_;
  }
  wake_.notify_all();
  fn(0);
  wait_until(pending_, [&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void thread_pool::barrier() {
  if (n_threads_ == 1) return;
  const uint32_t phase = phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_threads_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    phase_.fetch_add(1, std::memory_order_release);
    phase_.notify_all();
    return;
  }
  wait_until(phase_, [&] { return phase_.load(std::memory_order_acquire) != phase; });
}

}  // namespace hearth::cpu
