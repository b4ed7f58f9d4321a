// The restore's block pool (restore/sender.h): its memory follows its budget, whatever the
// producer lags, and a reader waiting for a block is freed by a delivery or by a stop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "restore/sender.h"

namespace tidemark::restore {
namespace {

const auto kNever = [] { return false; };

// Gets a block whose buffer then holds `bytes` (a decompressed block swapped in), as a reader
// does.
BlockRef* Filled(BlockPool* pool, size_t bytes) {
  BlockRef* b = pool->Get(kNever);
  EXPECT_NE(b, nullptr);
  if (b != nullptr) {
    b->data.resize(bytes);
    pool->Filled(b);
  }
  return b;
}

TEST(BlockPoolTest, NewBlocksStopAtTheBudgetOnceBuffersAreKnown) {
  BlockPool pool;
  pool.Limit(/*budget_bytes=*/8 << 20, /*min_blocks=*/2);
  // Two 2 MiB buffers come back: a new block is now counted at 2 MiB.
  BlockRef* a = Filled(&pool, 2 << 20);
  BlockRef* b = Filled(&pool, 2 << 20);
  BlockPool::Release(a);
  BlockPool::Release(b);
  std::vector<BlockRef*> held;
  for (int i = 0; i < 4; ++i) held.push_back(Filled(&pool, 2 << 20));  // 8 MiB: the budget
  EXPECT_EQ(pool.blocks(), 4u);
  EXPECT_LE(pool.peak_bytes(), 8u << 20);

  // A fifth waits until a block comes back (a delivery report on another thread).
  std::atomic<bool> got{false};
  BlockRef* fifth = nullptr;
  std::thread reader([&] {
    fifth = pool.Get(kNever);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load()) << "a block past the budget was made";
  BlockPool::Release(held.back());
  held.pop_back();
  reader.join();
  ASSERT_TRUE(got.load());
  EXPECT_NE(fifth, nullptr);
  EXPECT_EQ(pool.blocks(), 4u) << "the returned block is reused, not a new one made";
  BlockPool::Release(fifth);
  for (BlockRef* h : held) BlockPool::Release(h);
}

TEST(BlockPoolTest, ABlockCountsAtItsRealSizeOnceFilledNotWhenItComesBack) {
  BlockPool pool;
  pool.Limit(/*budget_bytes=*/8 << 20, /*min_blocks=*/1);
  // Made at the 1 MiB estimate, filled with 8 MiB and still held by the producer: the budget is
  // spent, so the next reader waits.
  BlockRef* big = Filled(&pool, 8 << 20);
  EXPECT_GE(pool.peak_bytes(), 8u << 20);
  std::atomic<bool> got{false};
  std::thread reader([&] {
    BlockPool::Release(pool.Get(kNever));
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load()) << "a block was made past the budget its filled buffers spent";
  BlockPool::Release(big);
  reader.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(pool.blocks(), 1u);
}

TEST(BlockPoolTest, TheFloorHoldsWhateverTheBudget) {
  BlockPool pool;
  pool.Limit(/*budget_bytes=*/1, /*min_blocks=*/3);  // the readers may hold three at once
  std::vector<BlockRef*> held;
  for (int i = 0; i < 3; ++i) held.push_back(Filled(&pool, 1 << 20));
  EXPECT_EQ(pool.blocks(), 3u);
  for (BlockRef* h : held) BlockPool::Release(h);
}

TEST(BlockPoolTest, AWaitingReaderGivesUpWhenTheRestoreStops) {
  BlockPool pool;
  pool.Limit(/*budget_bytes=*/1, /*min_blocks=*/1);
  BlockRef* only = Filled(&pool, 4096);
  std::atomic<bool> stop{false};
  BlockRef* got = only;
  std::thread reader([&] { got = pool.Get([&] { return stop.load(); }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  reader.join();
  EXPECT_EQ(got, nullptr);
  BlockPool::Release(only);
}

TEST(BlockPoolTest, ABlockReturnsOnlyWithItsLastReference) {
  BlockPool pool;
  pool.Limit(/*budget_bytes=*/1, /*min_blocks=*/1);
  BlockRef* b = Filled(&pool, 4096);
  b->refs.fetch_add(2);   // two records in the producer's queue
  BlockPool::Release(b);  // the reader is done with it
  BlockPool::Release(b);  // one delivery
  std::atomic<bool> got{false};
  std::thread reader([&] {
    BlockRef* again = pool.Get(kNever);
    got = true;
    BlockPool::Release(again);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.load()) << "a block still referenced was handed out";
  BlockPool::Release(b);  // the last delivery
  reader.join();
  EXPECT_TRUE(got.load());
}

}  // namespace
}  // namespace tidemark::restore
