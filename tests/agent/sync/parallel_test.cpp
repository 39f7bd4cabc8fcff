#include "agent/sync/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace certbridge::agent {
namespace {

TEST(ForEachInParallel, CallsEveryIndexExactlyOnce) {
  for (const std::size_t count : {0u, 1u, 7u, 1000u, 4099u}) {
    std::vector<std::atomic<int>> calls(count);
    forEachInParallel(
        count, [&](std::size_t i) { ++calls[i]; }, 10);
    for (std::size_t i = 0; i < count; ++i) {
      EXPECT_EQ(calls[i].load(), 1) << "index " << i << " of " << count;
    }
  }
}

TEST(ForEachInParallel, UsesOtherThreadsOnlyForEnoughItems) {
  std::mutex mutex;
  std::set<std::thread::id> threads;
  const auto note_thread = [&](std::size_t) {
    const std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
  };
  forEachInParallel(100, note_thread, 256);
  EXPECT_EQ(threads, std::set{std::this_thread::get_id()});
  threads.clear();
  forEachInParallel(4096, note_thread, 8);
  EXPECT_EQ(threads.size(),
            std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 4096 / 8));
}

TEST(ForEachInParallel, RethrowsTheFirstFailureInIndexOrderAfterEveryThreadFinished) {
  std::atomic<int> running{0};
  std::atomic<int> calls{0};
  const auto work = [&](std::size_t i) {
    ++running;
    ++calls;
    const bool fails = i == 10 || i == 1500 || i == 1600;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    --running;
    if (fails) {
      throw std::runtime_error("item " + std::to_string(i));
    }
  };
  try {
    forEachInParallel(2000, work, 1);
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_EQ(std::string(error.what()), "item 10");
  }
  EXPECT_EQ(running.load(), 0);  // no thread still at work when the call returned
  // A range stops at its first failure: the first range after 11 items.
  EXPECT_LT(calls.load(), 2000);
}

}  // namespace
}  // namespace certbridge::agent
