// How CPU threads wait for each other: spin briefly (ops are short and the peer is usually just
// finishing), then sleep on the atomic's changes. Sleeping (not sched_yield) hands the core over,
// so when other programs compete for the cores a preempted peer can run in its place. Every
// change to a waited-on atomic must be followed by notify_all().
#pragma once
#include <atomic>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HEARTH_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define HEARTH_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define HEARTH_CPU_RELAX() ((void)0)
#endif

namespace hearth::cpu {

// Pause instructions before sleeping (HEARTH_SPIN overrides; some tens of microseconds).
inline int spin_limit() {
  static const int n = [] {
    const char* e = std::getenv("HEARTH_SPIN");
    return e && *e ? std::atoi(e) : 1000;
  }();
  return n;
}

// Returns once ready() holds; ready() must only become true after a changes.
template <class T, class Pred> void wait_until(const std::atomic<T>& a, Pred ready) {
  for (int i = 0, n = spin_limit(); i < n; ++i) {
    if (ready()) return;
    HEARTH_CPU_RELAX();
  }
  for (;;) {
    const T v = a.load(std::memory_order_acquire);
    if (ready()) return;
    a.wait(v, std::memory_order_acquire);
  }
}

}  // namespace hearth::cpu
