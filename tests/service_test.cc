// End-to-end tests of `tidemark run`, the continuous backup service, run as a child process
// against librdkafka's mock cluster (in this process, over TCP) while a producer writes.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "backup/retention.h"
#include "backup_reader.h"
#include "cli_util.h"
#include "common/time.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "metrics_check.h"
#include "notify_socket.h"
#include "segment/journal_format.h"
#include "test_util.h"
#include "verify/verify.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::OwnedRecord;
using testing::Spawn;
using testing::Tidemark;

// Produces varied records round-robin over the partitions of `topic` until stopped, at about
// `per_second` records per second (the mock keeps about 5 MB per partition: stay under it).
class BackgroundProducer {
 public:
  BackgroundProducer(const std::string& brokers, std::string topic, int partitions, int per_second)
      : topic_(std::move(topic)), partitions_(partitions) {
    EXPECT_TRUE(producer_.Connect(brokers).ok());
    thread_ = std::thread([this, per_second] {
      std::mt19937_64 rng(17);
      const auto step = std::chrono::microseconds(1000000 / per_second);
      auto next = std::chrono::steady_clock::now();
      for (int64_t i = 0; !stop_.load(); ++i) {
        OwnedRecord r = testing::MakeRecord(rng, i);
        std::vector<kafka::ProduceHeader> hs;
        for (const auto& h : r.headers) hs.push_back({h.name, h.value});
        Status s = producer_.Produce(topic_, static_cast<int32_t>(i % partitions_), r.key, r.value,
                                     hs, r.timestamp);
        if (!s.ok()) ADD_FAILURE() << s.message();
        produced_.fetch_add(1);
        next += step;
        std::this_thread::sleep_until(next);
      }
      EXPECT_TRUE(producer_.Flush().ok());
    });
  }
  ~BackgroundProducer() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int64_t produced() const { return produced_.load(); }

 private:
  kafka::Producer producer_;
  std::string topic_;
  int partitions_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> produced_{0};
  std::thread thread_;
};

int WaitExit(pid_t pid, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits until `pred` holds, polling every 50 ms; false after timeout_ms.
template <typename F>
bool WaitFor(F pred, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("svc");
    ASSERT_TRUE(cluster_.Start(1).ok());
  }
  void TearDown() override {
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A service configuration; `extra` is appended (more sections or keys).
  std::string WriteConfig(const std::string& name, const std::string& id, const std::string& topics,
                          const std::string& backup_extra = "", const std::string& extra = "") {
    const fs::path p = dir_ / name;
    std::ofstream(p) << "[kafka]\nbootstrap_servers = \"" << cluster_.bootstraps()
                     << "\"\ntimeout_ms = 10000\n[kafka.properties]\n\"session.timeout.ms\" = "
                        "6000\n\"heartbeat.interval.ms\" = 500\n"
                     << "[backup]\nid = \"" << id << "\"\ntopics = " << topics
                     << "\nshards = 2\nblock_bytes = 65536\nsegment_max_bytes = 1048576\n"
                        "segment_max_interval_ms = 700\nflush_interval_ms = 50\n"
                        "topic_refresh_interval_ms = 500\ncheckpoint_interval_ms = 100\n"
                     << backup_extra << "[storage]\npath = \"" << (dir_ / "store").string()
                     << "\"\n"
                     << extra;
    return p.string();
  }
  pid_t Start(const std::string& config, const std::string& log) {
    pid_t pid = Spawn({"run", "--config", config}, (dir_ / log).string());
    children_.push_back(pid);
    return pid;
  }
  int Stop(pid_t pid, int sig = SIGTERM, int timeout_ms = 20000) {
    ::kill(pid, sig);
    const int rc = WaitExit(pid, timeout_ms);
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return rc;
  }
  // Offsets the manifest of backup `id` covers, per partition of `topic`.
  std::map<int32_t, int64_t> Covered(const std::string& store, const std::string& id,
                                     const std::string& topic) {
    std::map<int32_t, int64_t> out;
    auto m = backup::ReadManifest(store + "/" + id);
    if (!m.ok()) return out;
    auto it = m->topics.find(topic);
    if (it == m->topics.end()) return out;
    for (const auto& p : it->second.partitions) out[p.partition] = p.end_offset;
    return out;
  }
  // Waits until backup `id` covers every record of `topic` in the source.
  bool WaitCovered(const std::string& store, const std::string& id, const std::string& topic,
                   int partitions, int timeout_ms) {
    auto want = testing::ConsumeTopic(cluster_.bootstraps(), topic);
    return WaitFor(
        [&] {
          auto got = Covered(store, id, topic);
          for (int32_t p = 0; p < partitions; ++p) {
            const int64_t end = want[p].empty() ? 0 : want[p].back().offset + 1;
            if (end > 0 && (!got.count(p) || got[p] < end)) return false;
          }
          return true;
        },
        timeout_ms);
  }
  void ExpectBackupEqualsSource(const testing::PartitionRecords& backup, const std::string& topic,
                                int partitions) {
    auto want = testing::ConsumeTopic(cluster_.bootstraps(), topic);
    for (int32_t p = 0; p < partitions; ++p) {
      SCOPED_TRACE(topic + "/" + std::to_string(p));
      auto it = backup.find({topic, p});
      ASSERT_NE(it, backup.end());
      const auto& got = it->second;
      ASSERT_EQ(got.size(), want[p].size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[p][i]) << "record " << i;
    }
  }

  // The metrics port a service logged (it listens on port 0: any free port).
  int MetricsPort(const std::string& log) {
    int port = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          std::smatch m;
          const std::string text = ReadText(dir_ / log);
          if (!std::regex_search(text, m, std::regex("\\(port ([0-9]+)\\)"))) return false;
          port = std::stoi(m[1]);
          return true;
        },
        10000));
    return port;
  }
  void Produce(const std::string& topic, int partitions, int n, size_t value_bytes = 64) {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(cluster_.bootstraps()).ok());
    std::mt19937_64 rng(static_cast<uint64_t>(n));
    std::string v(value_bytes, '\0');
    for (int i = 0; i < n; ++i) {
      for (auto& ch : v) ch = static_cast<char>(rng());
      ASSERT_TRUE(p.Produce(topic, i % partitions, std::nullopt, v, {}, 1000 + i).ok());
    }
    ASSERT_TRUE(p.Flush().ok());
  }

  fs::path dir_;
  kafka::MockCluster cluster_;
  std::vector<pid_t> children_;
};

TEST_F(ServiceTest, KillNineLoopWhileProducingKeepsEveryRecordExactlyOnce) {
  ASSERT_TRUE(cluster_.CreateTopic("events", 3).ok());
  // A trickle beside the busy topic: its records live in the journal until their segment rolls.
  ASSERT_TRUE(cluster_.CreateTopic("trickle", 2).ok());
  const std::string cfg = WriteConfig("run.toml", "live", "[\"events\", \"trickle\"]");
  const std::string store = (dir_ / "store").string();
  BackgroundProducer producer(cluster_.bootstraps(), "events", 3, 1500);
  BackgroundProducer trickle(cluster_.bootstraps(), "trickle", 2, 8);
  std::mt19937 rng(42);
  int kills_with_open_segments = 0;
  auto has_open_segment = [&] {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(store, ec)) {
      if (e.path().string().ends_with(".tmseg.open")) return true;
    }
    return false;
  };
  for (int round = 0; round < 6; ++round) {
    pid_t pid = Start(cfg, "run.log");
    // A random moment: during start-up, recovery, or the steady state. Every other round kills
    // within 100 ms of an unsealed segment being seen (waiting up to 15 s for one), so that on a
    // loaded machine, where the service may take longer than the random moments to start, kills
    // still land with segments open.
    if (round % 2 == 1) {
      (void)WaitFor(has_open_segment, 15000);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1800));
    }
    ASSERT_EQ(Stop(pid, SIGKILL), 128 + SIGKILL);
    for (const auto& e : fs::recursive_directory_iterator(store)) {
      if (e.path().string().ends_with(".tmseg.open")) {
        ++kills_with_open_segments;
        break;
      }
    }
  }
  producer.Stop();
  trickle.Stop();
  ASSERT_GT(producer.produced(), 3000);
  ASSERT_GT(trickle.produced(), 20);
  EXPECT_GT(kills_with_open_segments, 0) << "no kill left an unsealed segment to recover";

  pid_t last = Start(cfg, "run.log");
  ASSERT_TRUE(WaitCovered(store, "live", "events", 3, 30000)) << ReadText(dir_ / "run.log");
  ASSERT_TRUE(WaitCovered(store, "live", "trickle", 2, 30000)) << ReadText(dir_ / "run.log");
  EXPECT_EQ(Stop(last), 0) << ReadText(dir_ / "run.log");
  const std::string log = ReadText(dir_ / "run.log");
  EXPECT_NE(log.find("recovered topics/events/"), std::string::npos) << log;

  const auto backup = testing::ReadBackup(store + "/live");
  ExpectBackupEqualsSource(backup, "events", 3);
  ExpectBackupEqualsSource(backup, "trickle", 2);
  for (const auto& e : fs::recursive_directory_iterator(store))
    EXPECT_FALSE(e.path().string().ends_with(".open")) << e.path();
  // A clean stop sealed everything: nothing is left in the journal.
  EXPECT_TRUE(fs::is_empty(store + "/live/journal"));
  auto v = Tidemark("verify --path " + store + " --id live");
  EXPECT_EQ(v.code, 0) << v.out;
}

// The records a durability point vouched for are durable in the journal, not in a padded block
// per partition: after kill -9 they are put into segments by the next start's recovery, without
// being fetched again (the second run backs up another topic).
TEST_F(ServiceTest, TrickleRecordsInTheJournalSurviveKillNineWithoutARefetch) {
  ASSERT_TRUE(cluster_.CreateTopic("quiet", 2).ok());
  ASSERT_TRUE(cluster_.CreateTopic("other", 1).ok());
  const std::string store = (dir_ / "store").string();
  auto config = [&](const std::string& name, const std::string& topics) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << "[kafka]\nbootstrap_servers = \"" << cluster_.bootstraps()
                     << "\"\n[backup]\nid = \"live\"\ntopics = " << topics
                     << "\nshards = 2\nsegment_max_interval_ms = 3600000\n"
                        "flush_interval_ms = 50\ntopic_refresh_interval_ms = 500\n"
                        "checkpoint_interval_ms = 100\n[storage]\npath = \""
                     << store << "\"\n";
    return p.string();
  };
  pid_t pid = Start(config("quiet.toml", "[\"quiet\"]"), "run.log");
  Produce("quiet", 2, 30, 200);
  // Wait until the journal holds all 30 records (durability points every 50 ms).
  const fs::path jdir = dir_ / "store" / "live" / "journal";
  auto journaled = [&] {
    uint64_t n = 0;
    std::error_code ec;
    for (fs::directory_iterator it(jdir, ec), end; !ec && it != end; it.increment(ec)) {
      int shard = -1;
      uint64_t seq = 0;
      if (!segment::ParseJournalFileName(it->path().filename().string(), &shard, &seq)) continue;
      const std::string text = ReadText(it->path());
      const std::vector<uint8_t> bytes(text.begin(), text.end());
      for (const auto& f : segment::ScanJournal(bytes, seq).frames)
        for (const auto& sec : f.sections) n += sec.record_count;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return journaled() == 30; }, 20000))
      << journaled() << " records journaled\n"
      << ReadText(dir_ / "run.log");
  ASSERT_EQ(Stop(pid, SIGKILL), 128 + SIGKILL);
  // Only the journal holds them: no segment was written for a trickle within its roll.
  for (const auto& e : fs::recursive_directory_iterator(store))
    EXPECT_EQ(e.path().string().find(".tmseg"), std::string::npos) << e.path();

  pid = Start(config("other.toml", "[\"other\"]"), "run2.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = Covered(store, "live", "quiet");
        return got.count(0) && got.count(1) && got[0] == 15 && got[1] == 15;
      },
      20000))
      << ReadText(dir_ / "run2.log");
  EXPECT_EQ(Stop(pid), 0);
  const std::string log = ReadText(dir_ / "run2.log");
  EXPECT_NE(log.find("records from the journal"), std::string::npos) << log;
  ExpectBackupEqualsSource(testing::ReadBackup(store + "/live"), "quiet", 2);
  EXPECT_TRUE(fs::is_empty(jdir)) << "the journal was not removed after its recovery";
  auto v = Tidemark("verify --path " + store + " --id live");
  EXPECT_EQ(v.code, 0) << v.out;
}

// --- kill -9 with [retention] trimming --------------------------------------------------------

// What a backup looks like to the retention invariants, checked on a stopped service's backup
// (a kill -9 or a killed prune just before): verify passes; in each partition of `topic` the
// offsets below its retention start are one gap with reason "retention" (never a loss), there is
// no other gap, and every offset from the retention start to the end is in exactly one named
// segment, in order (and equal to the source's record at that offset, when `source` is given).
// Files below the retention start that the catalog does not name (a prune cut short between the
// catalog line and the unlinks) are returned: the next start must remove them.
struct RetentionState {
  std::map<int32_t, int64_t> start, end;
  uint64_t bytes_stored = 0;
  std::set<fs::path> unnamed_below;  // sealed files below the retention start, not named
  std::set<fs::path> unnamed;        // every sealed file not named
};

void CheckRetentionInvariants(const std::string& store, const std::string& id,
                              const std::string& topic, int partitions,
                              const std::map<int32_t, std::vector<OwnedRecord>>* source,
                              RetentionState* out) {
  *out = RetentionState{};
  auto report = verify::VerifyBackup(store, id);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
  auto m = backup::ReadManifest(store + "/" + id);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto t = m->topics.find(topic);
  ASSERT_NE(t, m->topics.end());
  ASSERT_EQ(t->second.partitions.size(), static_cast<size_t>(partitions));
  const testing::PartitionRecords records = testing::ReadBackup(store + "/" + id);
  std::set<std::string> named;
  for (const auto& p : t->second.partitions) {
    SCOPED_TRACE(topic + "/" + std::to_string(p.partition));
    const int64_t rs = backup::RetentionStart(p);
    out->start[p.partition] = rs;
    out->end[p.partition] = p.end_offset;
    out->bytes_stored += p.bytes_stored;
    size_t g = 0;
    if (rs > p.start_offset) {
      ASSERT_FALSE(p.gaps.empty()) << "retention start " << rs << " without a retention gap";
      EXPECT_EQ(p.gaps[0].from, p.start_offset);
      EXPECT_EQ(p.gaps[0].to, rs);
      EXPECT_EQ(p.gaps[0].reason, backup::kGapRetention);
      g = 1;
    }
    for (; g < p.gaps.size(); ++g) {
      ADD_FAILURE() << "gap [" << p.gaps[g].from << ", " << p.gaps[g].to << ") " << p.gaps[g].reason
                    << " at or above the retention start " << rs << ": a record was lost";
    }
    for (const auto& s : p.segments) {
      named.insert(s.path);
      EXPECT_GE(s.first_offset, rs) << s.path << " is named below the retention start";
    }
    auto it = records.find({topic, p.partition});
    const size_t n = it == records.end() ? 0 : it->second.size();
    ASSERT_EQ(static_cast<int64_t>(n), p.end_offset - rs)
        << "the kept range [" << rs << ", " << p.end_offset << ") is not held exactly once";
    for (size_t i = 0; i < n; ++i) {
      const OwnedRecord& r = it->second[i];
      ASSERT_EQ(r.offset, rs + static_cast<int64_t>(i)) << "record " << i;
      if (source != nullptr) {
        const auto& src = source->at(p.partition);
        ASSERT_LT(static_cast<size_t>(r.offset), src.size());
        ASSERT_EQ(r, src[static_cast<size_t>(r.offset)]) << "offset " << r.offset;
      }
    }
  }
  const fs::path base = fs::path(store) / id;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(base / "topics" / topic, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file() || !name.ends_with(".tmseg")) continue;
    if (named.count(fs::relative(it->path(), base).string())) continue;
    out->unnamed.insert(it->path());
    const int32_t part = std::stoi(it->path().parent_path().filename().string());
    if (std::stoll(name) < out->start[part]) out->unnamed_below.insert(it->path());
  }
}

// Watches directories for the deletion of sealed segments (retention's unlinks).
class SegmentDeletions {
 public:
  SegmentDeletions() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) { EXPECT_GE(fd_, 0); }
  ~SegmentDeletions() { ::close(fd_); }
  void Watch(const fs::path& dir) {
    EXPECT_GE(::inotify_add_watch(fd_, dir.c_str(), IN_DELETE), 0) << dir;
  }
  void Drain() { (void)Wait(0); }
  // True when a ".tmseg" file was deleted within timeout_ms.
  bool Wait(int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    alignas(struct inotify_event) char buf[8192];
    bool seen = false;
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof(buf));
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
        if (ev->len > 0 && std::string_view(ev->name).ends_with(".tmseg")) seen = true;
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      }
      if (seen) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            until - std::chrono::steady_clock::now())
                            .count();
      if (n <= 0 && left <= 0) return false;
      if (n <= 0) {
        struct pollfd pfd = {fd_, POLLIN, 0};
        (void)::poll(&pfd, 1, static_cast<int>(left));
      }
    }
  }

 private:
  int fd_;
};

// A service config with 100 ms rolls (a retention turn has many segments to drop) and
// `retention` as its [retention] section.
std::string RetentionRunConfig(const fs::path& file, const std::string& brokers,
                               const std::string& store, const std::string& retention) {
  std::ofstream(file) << "[kafka]\nbootstrap_servers = \"" << brokers
                      << "\"\ntimeout_ms = 10000\n[kafka.properties]\n\"session.timeout.ms\" = "
                         "6000\n\"heartbeat.interval.ms\" = 500\n"
                         "[backup]\nid = \"pruned\"\ntopics = [\"events\"]\nshards = 2\n"
                         "block_bytes = 65536\nsegment_max_bytes = 1048576\n"
                         "segment_max_interval_ms = 100\nflush_interval_ms = 50\n"
                         "topic_refresh_interval_ms = 500\ncheckpoint_interval_ms = 100\n"
                         "[storage]\npath = \""
                      << store << "\"\n"
                      << retention;
  return file.string();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The kill -9 loop with [retention] trimming as the service runs (max_bytes far below what it
// fetches, so every turn drops segments): after every kill the backup keeps every offset from
// each partition's retention start exactly once, what is below is a retention gap, and files a
// kill left below the retention start are gone once the next start has recovered. Half the
// kills land the moment retention unlinks its first segment: inside a prune.
TEST_F(ServiceTest, KillNineLoopWhileRetentionTrimsKeepsTheKeptRangeExact) {
  ASSERT_TRUE(cluster_.CreateTopic("events", 3).ok());
  const std::string store = (dir_ / "store").string();
  const std::string cfg =
      RetentionRunConfig(dir_ / "ret.toml", cluster_.bootstraps(), store,
                         "[retention]\nmax_bytes = 150000\ninterval_ms = 1000\n");
  BackgroundProducer producer(cluster_.bootstraps(), "events", 3, 900);
  SegmentDeletions deletions;
  std::mt19937 rng(std::random_device{}());
  int kills_in_prune = 0, kills_leaving_unnamed_below = 0, trimmed_rounds = 0;
  std::set<fs::path> must_go;  // left below a retention start by the previous kill
  const int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    deletions.Drain();
    const size_t started_before = Count(ReadText(dir_ / "run.log"), "continuous into");
    pid_t pid = Start(cfg, "run.log");
    if (!must_go.empty()) {
      // The start's recovery finishes the prune the kill cut short.
      ASSERT_TRUE(WaitFor(
          [&] { return Count(ReadText(dir_ / "run.log"), "continuous into") > started_before; },
          30000))
          << ReadText(dir_ / "run.log");
      for (const auto& f : must_go) EXPECT_FALSE(fs::exists(f)) << f << " survived a restart";
      must_go.clear();
    }
    if (round == 0) {
      // Each shard makes its partitions' directories when it first writes to them.
      ASSERT_TRUE(WaitFor(
          [&] {
            for (int p = 0; p < 3; ++p)
              if (!fs::exists(dir_ / "store/pruned/topics/events" / std::to_string(p)))
                return false;
            return true;
          },
          30000));
      for (int p = 0; p < 3; ++p)
        deletions.Watch(dir_ / "store/pruned/topics/events" / std::to_string(p));
    }
    if (round % 2 == 1) {
      // At retention's first unlink (recovery's included), or at a random moment after all.
      if (deletions.Wait(8000)) ++kills_in_prune;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1700));
    }
    ASSERT_EQ(Stop(pid, SIGKILL), 128 + SIGKILL);
    RetentionState st;
    CheckRetentionInvariants(store, "pruned", "events", 3, nullptr, &st);
    if (HasFatalFailure()) return;
    for (const auto& [p, s] : st.start) trimmed_rounds += s > 0 ? 1 : 0;
    if (!st.unnamed_below.empty()) ++kills_leaving_unnamed_below;
    must_go = st.unnamed_below;
  }
  producer.Stop();
  ASSERT_GT(producer.produced(), 3000);

  pid_t last = Start(cfg, "run.log");
  ASSERT_TRUE(WaitCovered(store, "pruned", "events", 3, 30000)) << ReadText(dir_ / "run.log");
  EXPECT_EQ(Stop(last), 0) << ReadText(dir_ / "run.log");
  for (const auto& f : must_go) EXPECT_FALSE(fs::exists(f)) << f << " survived a restart";
  const auto source = testing::ConsumeTopic(cluster_.bootstraps(), "events");
  RetentionState st;
  CheckRetentionInvariants(store, "pruned", "events", 3, &source, &st);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(st.unnamed.empty()) << st.unnamed.size() << " files not named after a clean stop, "
                                  << "e.g. " << st.unnamed.begin()->string();
  for (const auto& [p, s] : st.start) EXPECT_GT(s, 0) << "partition " << p << " never trimmed";
  EXPECT_GT(trimmed_rounds, 0);
  EXPECT_GT(kills_in_prune, 0) << "no kill landed at a retention unlink";
  std::printf("%d kills at a retention unlink, %d left files below a retention start\n",
              kills_in_prune, kills_leaving_unnamed_below);
  EXPECT_NE(ReadText(dir_ / "run.log").find("retention: "), std::string::npos);
  auto v = Tidemark("verify --path " + store + " --id pruned");
  EXPECT_EQ(v.code, 0) << v.out;
}

// `tidemark prune --config F` on a stopped service's backup, killed after a short random delay
// or at its first unlink, again and again with a tighter max_bytes each time: after every kill the
// same invariants hold; a completed prune then converges (under max_bytes, and a second one drops
// nothing); files a killed prune left below a retention start are removed by the service's next
// start.
TEST_F(ServiceTest, KilledPrunesKeepTheKeptRangeExactAndACompletedPruneConverges) {
  ASSERT_TRUE(cluster_.CreateTopic("events", 3).ok());
  const std::string store = (dir_ / "store").string();
  const std::string run_cfg =
      RetentionRunConfig(dir_ / "run.toml", cluster_.bootstraps(), store, "");
  {
    BackgroundProducer producer(cluster_.bootstraps(), "events", 3, 600);
    pid_t pid = Start(run_cfg, "run.log");
    // Many segments, so that a prune has many files to unlink (and a kill can land among them).
    ASSERT_TRUE(WaitFor(
        [&] {
          auto m = backup::ReadManifest(store + "/pruned");
          return m.ok() && m->TotalSegments() >= 60;
        },
        30000))
        << ReadText(dir_ / "run.log");
    producer.Stop();
    ASSERT_TRUE(WaitCovered(store, "pruned", "events", 3, 30000)) << ReadText(dir_ / "run.log");
    ASSERT_EQ(Stop(pid), 0) << ReadText(dir_ / "run.log");
  }
  const auto source = testing::ConsumeTopic(cluster_.bootstraps(), "events");
  RetentionState st;
  CheckRetentionInvariants(store, "pruned", "events", 3, &source, &st);
  if (HasFatalFailure()) return;
  auto m = backup::ReadManifest(store + "/pruned");
  ASSERT_TRUE(m.ok());
  ASSERT_GE(m->TotalSegments(), 60u);
  const uint64_t total = st.bytes_stored;

  auto prune_cfg = [&](uint64_t max_bytes) {
    const fs::path p = dir_ / "prune.toml";
    std::ofstream(p) << "[storage]\npath = \"" << store
                     << "\"\n[retention]\nmax_bytes = " << max_bytes << "\n";
    return p.string();
  };
  // How long a prune takes to plan (a dry run): the kills fall within about that and a bit more.
  const auto t0 = std::chrono::steady_clock::now();
  auto dry = Tidemark("prune --config " + prune_cfg(total / 2) + " --dry-run --json", false);
  ASSERT_EQ(dry.code, 0) << dry.out;
  const int dry_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  std::mt19937 rng(std::random_device{}());
  const std::string log = (dir_ / "prune.log").string();
  int interrupted = 0, completed = 0, left_below = 0, at_unlink = 0;
  SegmentDeletions deletions;
  for (int p = 0; p < 3; ++p)
    deletions.Watch(fs::path(store) / "pruned/topics/events" / std::to_string(p));
  std::set<fs::path> unnamed_below;
  const int kKills = 8;
  uint64_t max_bytes = total;
  for (int k = 0; k < kKills; ++k) {
    SCOPED_TRACE("kill " + std::to_string(k));
    max_bytes = total * static_cast<uint64_t>(kKills + 1 - k) / (kKills + 2);
    deletions.Drain();
    pid_t pid = Spawn({"prune", "--config", prune_cfg(max_bytes)}, log);
    children_.push_back(pid);
    if (k % 2 == 1) {
      // At the prune's first unlink: the catalog stopped naming the segments, they still exist.
      if (deletions.Wait(10000)) ++at_unlink;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (dry_ms * 3 / 2 + 1)));
    }
    const int rc = Stop(pid, SIGKILL);
    if (rc == 128 + SIGKILL) {
      ++interrupted;
    } else {
      ASSERT_EQ(rc, 0) << ReadText(log);
      ++completed;
    }
    CheckRetentionInvariants(store, "pruned", "events", 3, &source, &st);
    if (HasFatalFailure()) return;
    // A later prune does not remove what an earlier one left: count the kills that left more.
    const size_t before = unnamed_below.size();
    unnamed_below.insert(st.unnamed_below.begin(), st.unnamed_below.end());
    if (unnamed_below.size() > before) ++left_below;
    // Only what is below a retention start may be left unnamed: never a kept segment.
    for (const auto& f : st.unnamed) EXPECT_TRUE(st.unnamed_below.count(f)) << f;
  }
  EXPECT_GT(interrupted, 0) << "every prune finished before its kill";
  EXPECT_GT(at_unlink, 0) << "no kill landed at a prune's unlink";
  std::printf(
      "%d prunes killed (%d at an unlink), %d finished first, %d kills left files below a "
      "retention start\n",
      interrupted, at_unlink, completed, left_below);

  // A completed prune converges: the backup fits max_bytes, and another prune drops nothing.
  auto done = Tidemark("prune --config " + prune_cfg(max_bytes) + " --json", false);
  ASSERT_EQ(done.code, 0) << done.out;
  CheckRetentionInvariants(store, "pruned", "events", 3, &source, &st);
  if (HasFatalFailure()) return;
  EXPECT_LE(st.bytes_stored, max_bytes);
  for (const auto& [p, s] : st.start) EXPECT_GT(s, 0) << "partition " << p << " never trimmed";
  auto again = Tidemark("prune --config " + prune_cfg(max_bytes) + " --json", false);
  ASSERT_EQ(again.code, 0) << again.out;
  const auto j = nlohmann::json::parse(again.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << again.out;
  ASSERT_EQ(j["backups"].size(), 1u) << again.out;
  EXPECT_EQ(j["backups"][0]["action"], "kept") << again.out;
  RetentionState after;
  CheckRetentionInvariants(store, "pruned", "events", 3, &source, &after);
  if (HasFatalFailure()) return;
  EXPECT_EQ(after.start, st.start);
  EXPECT_EQ(after.bytes_stored, st.bytes_stored);

  // The service's next start removes what killed prunes left below a retention start.
  pid_t pid = Start(run_cfg, "run2.log");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadText(dir_ / "run2.log").find("continuous into") != std::string::npos; },
      30000))
      << ReadText(dir_ / "run2.log");
  ASSERT_EQ(Stop(pid), 0) << ReadText(dir_ / "run2.log");
  for (const auto& f : unnamed_below) EXPECT_FALSE(fs::exists(f)) << f << " survived a restart";
  CheckRetentionInvariants(store, "pruned", "events", 3, &source, &st);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(st.unnamed.empty()) << st.unnamed.size() << " files not named after a restart";
  auto v = Tidemark("verify --path " + store + " --id pruned");
  EXPECT_EQ(v.code, 0) << v.out;
}

TEST_F(ServiceTest, MetricsNewTopicBadReloadAndGracefulStop) {
  ASSERT_TRUE(cluster_.CreateTopic("t1", 2).ok());
  const std::string cfg =
      WriteConfig("run.toml", "live", "[\"t*\"]", "", "[metrics]\nlisten = \"127.0.0.1:0\"\n");
  const std::string store = (dir_ / "store").string();
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(cluster_.bootstraps()).ok());
    for (int i = 0; i < 500; ++i)
      ASSERT_TRUE(p.Produce("t1", i % 2, "k", "v" + std::to_string(i), {}, 1000 + i).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  pid_t pid = Start(cfg, "run.log");
  const int port = MetricsPort("run.log");
  ASSERT_GT(port, 0);
  ASSERT_TRUE(WaitCovered(store, "live", "t1", 2, 20000));

  // A topic created while the service runs is picked up.
  ASSERT_TRUE(cluster_.CreateTopic("t2", 1).ok());
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(cluster_.bootstraps()).ok());
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(p.Produce("t2", 0, "k", "x", {}, 5000 + i).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  ASSERT_TRUE(WaitCovered(store, "live", "t2", 1, 20000)) << ReadText(dir_ / "run.log");

  // The metrics endpoint: Prometheus text, parsed line by line.
  httplib::Client http("127.0.0.1", port);
  std::map<std::string, double> metrics;
  std::string scraped;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = http.Get("/metrics");
        if (!res || res->status != 200) return false;
        scraped = res->body;
        metrics.clear();
        std::istringstream in(res->body);
        for (std::string line; std::getline(in, line);) {
          if (line.empty() || line[0] == '#') continue;
          const size_t sp = line.rfind(' ');
          metrics[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
        }
        return metrics["tidemark_records_in_total{topic=\"t2\"}"] == 300;
      },
      10000));
  EXPECT_EQ(metrics["tidemark_records_in_total{topic=\"t1\"}"], 500);
  EXPECT_EQ(metrics["tidemark_records_stored{topic=\"t1\"}"], 500);
  EXPECT_GT(metrics["tidemark_bytes_in_total{topic=\"t1\"}"], 0);
  EXPECT_GT(metrics["tidemark_compression_ratio{topic=\"t1\"}"], 0);
  EXPECT_EQ(metrics.count("tidemark_consumer_lag_records{topic=\"t1\",partition=\"0\"}"), 1u);
  EXPECT_EQ(metrics["tidemark_consumer_lag_records{topic=\"t1\",partition=\"0\"}"], 0);
  EXPECT_EQ(metrics["tidemark_partitions_owned"], 3);
  EXPECT_GE(metrics["tidemark_segment_seal_seconds_count"], 2);
  EXPECT_GE(metrics["tidemark_durability_point_seconds_count"], 1);
  EXPECT_EQ(metrics["tidemark_buffer_pool_size"], 16);
  EXPECT_EQ(metrics["tidemark_healthy"], 1);
  // Without [upload]: the upload counters are not exported, so the names the alert rules and
  // the dashboard use are checked by the s3 suite's service test, which runs with it.
  testing::ExpectMetricsDocumented(scraped);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;

  // A bad reload is refused and the running configuration kept.
  const std::string good = ReadText(cfg);
  std::ofstream(cfg) << good << "[backup.oops]\n";
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitFor(
      [&] { return ReadText(dir_ / "run.log").find("reload rejected") != std::string::npos; },
      10000));
  // A good one changes what can change (here: t2 is no longer wanted) and says what cannot.
  std::string changed = std::regex_replace(good, std::regex("\\[\"t\\*\"\\]"), "[\"t1\"]");
  changed = std::regex_replace(changed, std::regex("shards = 2"), "shards = 1");
  std::ofstream(cfg) << changed;
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(WaitFor(
      [&] { return ReadText(dir_ / "run.log").find("reloaded ") != std::string::npos; }, 10000));
  const std::string log = ReadText(dir_ / "run.log");
  EXPECT_NE(log.find("backup.shards change only at a restart"), std::string::npos) << log;
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadText(dir_ / "run.log").find("1 partitions no longer match") != std::string::npos;
      },
      10000))
      << ReadText(dir_ / "run.log");
  std::string body;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/metrics");  // refreshed about once a second
        body = r ? r->body : "";
        return body.find("tidemark_partitions_owned 2\n") != std::string::npos;
      },
      5000))
      << body;
  EXPECT_NE(body.find("tidemark_config_reloads_total{result=\"rejected\"} 1"), std::string::npos);
  EXPECT_NE(body.find("tidemark_config_reloads_total{result=\"ok\"} 1"), std::string::npos);

  // More records, then SIGTERM: everything is sealed and the manifest covers it, exit 0.
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(cluster_.bootstraps()).ok());
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(p.Produce("t1", i % 2, "k", "late", {}, 9000).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Stop(pid, SIGTERM, 10000), 0) << ReadText(dir_ / "run.log");
  for (const auto& e : fs::recursive_directory_iterator(store))
    EXPECT_FALSE(e.path().string().ends_with(".open")) << e.path();
  auto backup = testing::ReadBackup(store + "/live");
  ExpectBackupEqualsSource(backup, "t1", 2);
  ExpectBackupEqualsSource(backup, "t2", 1);
  auto v = Tidemark("verify --path " + store + " --id live");
  EXPECT_EQ(v.code, 0) << v.out;

  // A continuous backup restores like a snapshot: into an empty cluster, record for record.
  kafka::MockCluster target;
  ASSERT_TRUE(target.Start(1).ok());
  ASSERT_TRUE(target.CreateTopic("t1", 2).ok());
  ASSERT_TRUE(target.CreateTopic("t2", 1).ok());
  auto r = Tidemark("restore --path " + store + " --id live --brokers " + target.bootstraps() +
                    " --progress off");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const auto& [topic, parts] : {std::pair<std::string, int>{"t1", 2}, {"t2", 1}}) {
    auto want = testing::ConsumeTopic(cluster_.bootstraps(), topic);
    auto got = testing::ConsumeTopic(target.bootstraps(), topic);
    for (int32_t p = 0; p < parts; ++p) {
      SCOPED_TRACE(topic + "/" + std::to_string(p));
      EXPECT_EQ(got[p], want[p]);
    }
  }
}

// The service recovers its store before READY=1 with systemd kept informed, so a large store
// is not killed by TimeoutStartSec or the watchdog at every restart.
TEST_F(ServiceTest, StoreRecoveryKeepsSystemdInformedBeforeReady) {
  ASSERT_TRUE(cluster_.CreateTopic("t1", 1).ok());
  Produce("t1", 1, 100);
  testing::NotifySocket sock;
  ::setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  pid_t pid = Start(WriteConfig("run.toml", "live", "[\"t1\"]"), "run.log");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  const std::vector<std::string> got = sock.Read("READY=1", 30000);
  ASSERT_FALSE(got.empty()) << ReadText(dir_ / "run.log");
  ASSERT_NE(got.back().find("READY=1"), std::string::npos) << ReadText(dir_ / "run.log");
  bool recovering = false;
  for (const auto& m : got) {
    if (m.find("STATUS=recovering the store in ") == std::string::npos) continue;
    recovering = true;
    EXPECT_NE(m.find("EXTEND_TIMEOUT_USEC="), std::string::npos) << m;
    EXPECT_NE(m.find("WATCHDOG=1"), std::string::npos) << m;
  }
  EXPECT_TRUE(recovering) << got.front();
  EXPECT_EQ(Stop(pid), 0);
}

TEST_F(ServiceTest, ASecondInstanceOnTheSameDirectoryIsRefusedNamingTheFirst) {
  ASSERT_TRUE(cluster_.CreateTopic("t1", 1).ok());
  const std::string cfg = WriteConfig("run.toml", "live", "[\"t1\"]");
  pid_t first = Start(cfg, "first.log");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadText(dir_ / "first.log").find("backing up from") != std::string::npos; },
      10000));
  auto second = Tidemark("run --config " + cfg);
  EXPECT_EQ(second.code, 2) << second.out;
  EXPECT_NE(second.out.find("pid " + std::to_string(first)), std::string::npos) << second.out;
  EXPECT_EQ(Stop(first), 0);

  // An id that names a snapshot backup is refused too.
  auto snap = Tidemark("backup --brokers " + cluster_.bootstraps() + " --topics t1 --path " +
                       (dir_ / "store").string() + " --id snap");
  ASSERT_EQ(snap.code, 0) << snap.out;
  auto on_snapshot = Tidemark("run --config " + WriteConfig("snap.toml", "snap", "[\"t1\"]"));
  EXPECT_EQ(on_snapshot.code, 2) << on_snapshot.out;
  EXPECT_NE(on_snapshot.out.find("is a snapshot backup"), std::string::npos) << on_snapshot.out;

  // A librdkafka property it does not know: exit 2 naming it, not a restart loop.
  const std::string bad = WriteConfig("bad.toml", "other", "[\"t1\"]");
  std::string text = ReadText(bad);
  text.replace(text.find("[backup]"), 0, "\"no.such.property\" = \"x\"\n");
  std::ofstream(bad) << text;
  auto bad_prop = Tidemark("run --config " + bad);
  EXPECT_EQ(bad_prop.code, 2) << bad_prop.out;
  EXPECT_NE(bad_prop.out.find("no.such.property"), std::string::npos) << bad_prop.out;
}

// The data directory fills up: the pipeline stops (back-pressure: nothing more is consumed),
// the failure shows in the log, the metrics and /healthz, and the service tries again after a
// back-off. Once there is space, it catches up and nothing is lost.
TEST_F(ServiceTest, FullDiskIsReportedAndNothingIsLostOnceSpaceReturns) {
  const fs::path mnt = dir_ / "store";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0)
    GTEST_SKIP() << "cannot mount a size-limited tmpfs here (needs root): " << std::strerror(errno);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  ASSERT_TRUE(cluster_.CreateTopic("fill", 2).ok());
  Produce("fill", 2, 250, 16 * 1024);  // 4 MB of incompressible values for a 2 MiB disk
  const std::string cfg = WriteConfig("run.toml", "live", "[\"fill\"]", "compression = \"none\"\n",
                                      "[metrics]\nlisten = \"127.0.0.1:0\"\n");
  pid_t pid = Start(cfg, "run.log");
  const int port = MetricsPort("run.log");
  ASSERT_GT(port, 0);
  httplib::Client http("127.0.0.1", port);
  std::string health;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/healthz");
        health = r ? std::to_string(r->status) + " " + r->body : "";
        return r && r->status == 503 && r->body.find("No space left") != std::string::npos;
      },
      20000))
      << health << ReadText(dir_ / "run.log");
  auto m = http.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body.find("tidemark_failures_total 0\n"), std::string::npos) << m->body;
  EXPECT_NE(ReadText(dir_ / "run.log").find("starting again in"), std::string::npos);

  // Space returns: the next try recovers the store and catches up.
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
  ASSERT_TRUE(WaitCovered(mnt.string(), "live", "fill", 2, 60000)) << ReadText(dir_ / "run.log");
  EXPECT_EQ(Stop(pid), 0);
  ExpectBackupEqualsSource(testing::ReadBackup(mnt.string() + "/live"), "fill", 2);
  auto v = Tidemark("verify --path " + mnt.string() + " --id live");
  EXPECT_EQ(v.code, 0) << v.out;
}

// The broker goes away for a while: the service waits, says so, and resumes.
TEST_F(ServiceTest, BrokerDownForAWhileIsReportedAndTheBackupResumes) {
  ASSERT_TRUE(cluster_.CreateTopic("t1", 2).ok());
  Produce("t1", 2, 300);
  const std::string cfg =
      WriteConfig("run.toml", "live", "[\"t1\"]", "", "[metrics]\nlisten = \"127.0.0.1:0\"\n");
  const std::string store = (dir_ / "store").string();
  pid_t pid = Start(cfg, "run.log");
  const int port = MetricsPort("run.log");
  ASSERT_TRUE(WaitCovered(store, "live", "t1", 2, 20000));
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.handle(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  httplib::Client http("127.0.0.1", port);
  std::string health;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/healthz");
        health = r ? r->body : "";
        return r && r->status == 503 && r->body.find("kafka") != std::string::npos;
      },
      20000))
      << health;
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.handle(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  Produce("t1", 2, 300);
  ASSERT_TRUE(WaitCovered(store, "live", "t1", 2, 30000)) << ReadText(dir_ / "run.log");
  EXPECT_EQ(Stop(pid), 0);
  ExpectBackupEqualsSource(testing::ReadBackup(store + "/live"), "t1", 2);
}

// Two processes in one consumer group: each backs up its share into its own store. One is
// killed (-9) and the other takes its partitions over from the group's committed offsets; the
// first comes back, and then the second stops gracefully, handing everything over exactly.
// The union of the two backups, by offset, is exactly the source.
TEST_F(ServiceTest, TwoProcessesInOneGroupShareAndTakeOverPartitions) {
  ASSERT_TRUE(cluster_.CreateTopic("shared", 4).ok());
  const std::string group = "group = \"tm-nodes\"\n";
  const std::string cfg_a = WriteConfig("a.toml", "node-a", "[\"shared\"]", group);
  const std::string cfg_b = WriteConfig("b.toml", "node-b", "[\"shared\"]", group);
  const std::string store = (dir_ / "store").string();
  BackgroundProducer producer(cluster_.bootstraps(), "shared", 4, 800);
  pid_t a = Start(cfg_a, "a.log");
  pid_t b = Start(cfg_b, "b.log");
  auto owns = [&](const std::string& log) {
    const std::string text = ReadText(dir_ / log);
    return text.find("backing up from") != std::string::npos;
  };
  ASSERT_TRUE(WaitFor([&] { return owns("a.log") && owns("b.log"); }, 30000))
      << ReadText(dir_ / "a.log") << ReadText(dir_ / "b.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_EQ(Stop(a, SIGKILL), 128 + SIGKILL);
  // b takes over after the group's session timeout (6 s).
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string text = ReadText(dir_ / "b.log");
        size_t n = 0;
        for (size_t at = 0; (at = text.find("backing up from", at)) != std::string::npos; ++at) ++n;
        return n >= 4;
      },
      30000))
      << ReadText(dir_ / "b.log");
  a = Start(cfg_a, "a.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  ASSERT_EQ(Stop(b), 0) << ReadText(dir_ / "b.log");
  producer.Stop();
  // a, recovered and back in the group, ends up with every partition and catches up.
  std::map<std::pair<std::string, int32_t>, std::map<int64_t, OwnedRecord>> merged;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto want = testing::ConsumeTopic(cluster_.bootstraps(), "shared");
        auto ca = Covered(store, "node-a", "shared");
        auto cb = Covered(store, "node-b", "shared");
        for (int32_t p = 0; p < 4; ++p) {
          const int64_t end = want[p].empty() ? 0 : want[p].back().offset + 1;
          if (std::max(ca[p], cb[p]) < end) return false;
        }
        return true;
      },
      40000))
      << ReadText(dir_ / "a.log");
  EXPECT_EQ(Stop(a), 0) << ReadText(dir_ / "a.log");

  size_t overlapping = 0;
  for (const char* id : {"node-a", "node-b"}) {
    auto v = Tidemark(std::string("verify --path ") + store + " --id " + id);
    EXPECT_EQ(v.code, 0) << v.out;
    for (auto& [tp, recs] : testing::ReadBackup(store + "/" + id)) {
      for (auto& r : recs) {
        auto [it, inserted] = merged[tp].emplace(r.offset, r);
        if (!inserted) {
          ++overlapping;  // both nodes hold it (a kill -9 before the commit): the same record
          EXPECT_EQ(it->second, r);
        }
      }
    }
  }
  testing::PartitionRecords uni;
  for (auto& [tp, recs] : merged) {
    for (auto& [off, r] : recs) uni[tp].push_back(r);
  }
  ExpectBackupEqualsSource(uni, "shared", 4);
  // Records both stores hold are the same records at the same offsets (asserted above): a kill
  // before the commit, or a commit the group fenced during a rebalance, makes the next owner
  // start from an earlier committed offset.
  std::printf("records held by both nodes: %zu\n", overlapping);
  const std::string blog = ReadText(dir_ / "b.log");
  EXPECT_NE(blog.find("revoked"), std::string::npos) << blog;
}

// [retention] as the service runs: segments whose newest record is older than max_age leave the
// front of their partitions once the catalog says so, the pruned range is a "retention" gap, the
// files are gone, new records are backed up behind it, and verify tells pruned from lost.
TEST_F(ServiceTest, RetentionPrunesOldSegmentsAsItRunsAndVerifyTellsPrunedFromLost) {
  ASSERT_TRUE(cluster_.CreateTopic("aged", 2).ok());
  Produce("aged", 2, 400);  // stamped in 1970: older than any max_age
  const std::string cfg = WriteConfig("ret.toml", "ret", "[\"aged\"]", "",
                                      "[retention]\nmax_age = \"1h\"\ninterval_ms = 1000\n");
  const std::string store = (dir_ / "store").string();
  pid_t pid = Start(cfg, "ret.log");
  auto all_pruned = [&](int64_t at_least) {
    auto m = backup::ReadManifest(store + "/ret");
    if (!m.ok()) return false;
    auto it = m->topics.find("aged");
    if (it == m->topics.end() || it->second.partitions.size() < 2) return false;
    for (const auto& p : it->second.partitions) {
      if (p.end_offset < at_least || backup::RetentionStart(p) != p.end_offset) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return all_pruned(200); }, 60000)) << ReadText(dir_ / "ret.log");
  auto sealed_files = [&] {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(store + "/ret/topics"))
      n += e.path().string().ends_with(".tmseg") ? 1 : 0;
    return n;
  };
  EXPECT_EQ(sealed_files(), 0);

  // Records of today are kept, behind the pruned range.
  {
    kafka::Producer p;
    ASSERT_TRUE(p.Connect(cluster_.bootstraps()).ok());
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(p.Produce("aged", i % 2, std::nullopt, "fresh", {}, WallClockMs()).ok());
    ASSERT_TRUE(p.Flush().ok());
  }
  ASSERT_TRUE(WaitCovered(store, "ret", "aged", 2, 30000));
  ASSERT_EQ(Stop(pid), 0);
  auto m = backup::ReadManifest(store + "/ret");
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const auto& p : m->topics.at("aged").partitions) {
    EXPECT_EQ(backup::RetentionStart(p), 200) << p.partition;
    EXPECT_EQ(p.records, 20u) << p.partition;
    ASSERT_FALSE(p.gaps.empty());
    EXPECT_EQ(p.gaps.front().reason, backup::kGapRetention);
  }
  EXPECT_GT(sealed_files(), 0);
  auto report = verify::VerifyBackup(store, "ret");
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
  EXPECT_NE(ReadText(dir_ / "ret.log").find("retention:"), std::string::npos);
}

// A version 1 continuous backup (one manifest.json, as tidemark run kept it before format 2) is
// converted to a catalog at the start, keeps every record, and the backup goes on behind it.
TEST_F(ServiceTest, AVersionOneContinuousBackupIsConvertedAtStartAndKeepsEveryRecord) {
  ASSERT_TRUE(cluster_.CreateTopic("legacy", 2).ok());
  Produce("legacy", 2, 300);
  const std::string store = (dir_ / "store").string();
  // Real segments and a version 1 manifest: a snapshot, relabelled as continuous.
  auto snap = testing::Tidemark("backup --brokers " + cluster_.bootstraps() +
                                " --topics legacy --path " + store + " --id v1");
  ASSERT_EQ(snap.code, 0) << snap.out;
  auto v1 = backup::ReadManifest(store + "/v1");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  v1->kind = "continuous";
  v1->groups.clear();
  v1->groups_note = "a continuous backup does not capture consumer groups";
  ASSERT_FALSE(backup::HasCatalog(store + "/v1"));
  ASSERT_TRUE(backup::WriteManifest(store + "/v1", *v1).ok());
  Produce("legacy", 2, 100);

  pid_t pid = Start(WriteConfig("v1.toml", "v1", "[\"legacy\"]"), "v1.log");
  ASSERT_TRUE(WaitCovered(store, "v1", "legacy", 2, 30000)) << ReadText(dir_ / "v1.log");
  ASSERT_EQ(Stop(pid), 0);
  EXPECT_TRUE(backup::HasCatalog(store + "/v1"));
  EXPECT_FALSE(fs::exists(fs::path(store) / "v1" / "manifest.json"));
  EXPECT_NE(ReadText(dir_ / "v1.log").find("converted to a catalog"), std::string::npos);
  ExpectBackupEqualsSource(testing::ReadBackup(store + "/v1"), "legacy", 2);
  auto report = verify::VerifyBackup(store, "v1");
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->ok()) << verify::ReportToText(*report);
}

}  // namespace
}  // namespace tidemark
