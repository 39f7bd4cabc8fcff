#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace certbridge::agent {

// Runs `work(i)` for every i below `count`, in contiguous ranges on up to one thread per core,
// each thread taking at least `items_per_thread` (so a few items stay on the calling thread).
// When `work` throws, its range stops there, and once every thread has finished the exception of
// the lowest range that threw is rethrown: the first failure in index order, as a plain loop
// would report it. `work` must be safe to call from several threads for different i.
template <typename Work>
void forEachInParallel(std::size_t count, const Work& work, std::size_t items_per_thread = 256) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads =
      std::clamp<std::size_t>(count / std::max<std::size_t>(items_per_thread, 1), 1, cores);
  std::vector<std::exception_ptr> failures(threads);
  const auto run_range = [&](std::size_t range) {
    try {
      for (std::size_t i = range * count / threads; i < (range + 1) * count / threads; ++i) {
        work(i);
      }
    } catch (...) {
      failures[range] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t range = 1; range < threads; ++range) {
    workers.emplace_back(run_range, range);
  }
  run_range(0);
  for (std::thread& worker : workers) {
    worker.join();
  }
  for (const std::exception_ptr& failure : failures) {
    if (failure) {
      std::rethrow_exception(failure);
    }
  }
}

}  // namespace certbridge::agent
