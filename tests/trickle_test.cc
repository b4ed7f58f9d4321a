// The measurements behind `tidemark bench run --trickle-rate` that need no running service
// (src/bench/trickle.h, /proc/<pid>/stat from src/bench/process.h): /metrics text, a backup
// directory's walk, CPU windows.
#include "bench/trickle.h"
#include "bench/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tidemark::bench {
namespace {

namespace fs = std::filesystem;

TEST(TrickleMetrics, SumsEveryLabelSetOfExactlyThatName) {
  const std::string body =
      "# HELP tidemark_records_in_total Records consumed.\n"
      "# TYPE tidemark_records_in_total counter\n"
      "tidemark_records_in_total{topic=\"a\"} 10\n"
      "tidemark_records_in_total{topic=\"b\"} 32.5\n"
      "tidemark_durability_point_seconds{quantile=\"0.99\"} 0.02\n"
      "tidemark_durability_point_seconds_count 7\n"
      "tidemark_durability_points_total 12\n"
      "xtidemark_durability_points_total 1000\n";
  EXPECT_DOUBLE_EQ(MetricSum(body, "tidemark_records_in_total"), 42.5);
  EXPECT_DOUBLE_EQ(MetricSum(body, "tidemark_durability_points_total"), 12);
  EXPECT_DOUBLE_EQ(MetricSum(body, "tidemark_durability_point_seconds_count"), 7);
  // A name that only begins another metric's name, or is absent, has no samples.
  EXPECT_EQ(MetricSum(body, "tidemark_durability_point"), -1);
  EXPECT_EQ(MetricSum(body, "tidemark_checkpoints_total"), -1);
  EXPECT_EQ(MetricSum("", "tidemark_records_in_total"), -1);
}

TEST(TrickleMetrics, ReadsTicksAfterACommandNameWithSpacesAndParentheses) {
  // Fields 14 and 15 (utime 250, stime 50) counted after the last ')'.
  const std::string stat =
      "4242 (tide (mark) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 "
      "700000000 20000 18446744073709551615\n";
  EXPECT_EQ(StatCpuTicks(stat), 300u);
  EXPECT_EQ(StatCpuTicks("no command name here"), 0u);
  EXPECT_EQ(StatCpuTicks("1 (x) S 1"), 0u);  // cut short: no ticks, no crash
}

TEST(TrickleMetrics, ProcessCpuSecondsGrowsWithWorkAndIsMinusOneForNoProcess) {
  const double before = ProcessCpuSeconds(::getpid());
  ASSERT_GE(before, 0);
  // Spin until this process has used 50 ms more CPU (more than a few clock ticks), however
  // loaded the machine is.
  const std::clock_t start = std::clock();
  volatile uint64_t spin = 0;
  while (std::clock() - start < CLOCKS_PER_SEC / 20) spin = spin + 1;
  EXPECT_GT(ProcessCpuSeconds(::getpid()), before);
  EXPECT_EQ(ProcessCpuSeconds(-1), -1);
}

TEST(TrickleMetrics, CpuPercentOverTheSamplesInsideTheWindow) {
  const std::vector<std::pair<double, double>> series = {{0, 0}, {10, 1}, {20, 3}, {30, 6}};
  EXPECT_DOUBLE_EQ(CpuPercent(series, 0, 10), 10);
  EXPECT_DOUBLE_EQ(CpuPercent(series, 20, 30), 30);
  EXPECT_DOUBLE_EQ(CpuPercent(series, 0, 30), 20);
  EXPECT_EQ(CpuPercent(series, 11, 19), -1);  // no sample inside
  EXPECT_EQ(CpuPercent(series, 5, 15), -1);   // one sample: no interval
}

TEST(TrickleWalk, CountsSegmentsIndexAndAllocatedBytes) {
  const fs::path dir = fs::temp_directory_path() / ("trickle-walk-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path part = dir / "bench" / "topics" / "t" / "0";
  fs::create_directories(part);
  fs::create_directories(dir / "bench" / "catalog" / "topics");
  auto write = [](const fs::path& p, size_t n) { std::ofstream(p) << std::string(n, 'x'); };
  write(part / "00000000000000000000.tmseg", 10000);
  write(part / "00000000000000000060.tmseg", 5000);
  write(part / "00000000000000000120.tmseg.open", 3000);
  write(dir / "bench" / "manifest.json", 700);
  write(dir / "bench" / "catalog" / "root.json", 200);
  write(dir / "bench" / "catalog" / "topics" / "t.log", 100);
  write(dir / "bench" / ".lock", 5);
  const DiskUse d = WalkStore(dir.string());
  EXPECT_EQ(d.files, 7u);
  EXPECT_EQ(d.sealed, 2u);
  EXPECT_EQ(d.open, 1u);
  EXPECT_EQ(d.bytes, 10000u + 5000 + 3000 + 700 + 200 + 100 + 5);
  EXPECT_EQ(d.sealed_bytes, 15000u);
  EXPECT_EQ(d.index_bytes, 1000u);  // manifest.json and everything under catalog/
  // Allocation is in whole filesystem blocks (tmpfs and ext4 alike): at least the bytes.
  EXPECT_GE(d.sealed_allocated, d.sealed_bytes);
  EXPECT_GE(d.allocated, d.sealed_allocated);
  EXPECT_EQ(WalkStore((dir / "missing").string()).files, 0u);
  fs::remove_all(dir);
}

TEST(BenchProcess, AChildsPeakRssIsItsOwnNotTheBenchmarksPages) {
  // This process holds 256 MB when it starts the child: wait4's ru_maxrss would report at
  // least that for any child (Linux keeps the peak of the address space a child had before its
  // exec, a copy of this one after fork).
  std::vector<char> held(256u << 20);
  for (size_t i = 0; i < held.size(); i += 4096) held[i] = 1;
  auto run = Spawn({"sleep", "0.3"}, ::testing::TempDir() + "/tidemark-spawn.log");
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->exit_code, 0);
  EXPECT_GT(run->peak_rss_mb, 0) << "sleep's own pages were sampled";
  EXPECT_LT(run->peak_rss_mb, 64) << "the benchmark's pages were counted as the child's";
  EXPECT_EQ(held[4096], 1);
}

TEST(BenchProcess, APipelinesPeakRssSumsItsProcesses) {
  // dd holds its 64 MiB block in a child of the shell: only a walk of the descendants sees it.
  auto run = Shell("dd if=/dev/zero bs=64M count=2 status=none | cat > /dev/null",
                   ::testing::TempDir() + "/tidemark-shell.log");
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_GE(run->peak_rss_mb, 60) << "dd's buffer, in a descendant, was not counted";
}

}  // namespace
}  // namespace tidemark::bench
