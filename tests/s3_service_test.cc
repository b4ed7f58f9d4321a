// `tidemark run` with an [upload] section against Ceph's RADOS Gateway: uploads as it seals,
// keep_local, back-pressure while the store is down, and a prompt stop while it hangs.
#include <nlohmann/json.hpp>

#include "bench/grow.h"
#include "metrics_check.h"
#include "s3_tier_fixture.h"
#include "service/tier.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::OwnedRecord;
using testing::TierTest;

TEST_F(TierTest, TheServiceUploadsAsItSealsAndRemovesWhatTheStoreHolds) {
  ASSERT_TRUE(kafka_.CreateTopic("live", 2).ok());
  ASSERT_OK(client_->CreateBucket("tier-f"));
  const std::string conf = WriteRunConfig("svc", "live", "400", "tier-f", "workers = 2\n");
  const std::string log = (dir_ / "run.log").string();
  const pid_t pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(kafka_.bootstraps()).ok());
  std::mt19937_64 rng(3);
  int64_t produced = 0;
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 1000; ++i, ++produced) {
      OwnedRecord r = testing::MakeRecord(rng, produced);
      std::vector<kafka::ProduceHeader> hs;
      for (const auto& h : r.headers) hs.push_back({h.name, h.value});
      ASSERT_TRUE(
          producer
              .Produce("live", static_cast<int32_t>(produced % 2), r.key, r.value, hs, r.timestamp)
              .ok());
    }
    ASSERT_TRUE(producer.Flush().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a seal between batches
  }
  // The store's manifest comes to cover every record, naming only segments it holds.
  auto src = source::Open("s3://tier-f/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  uint64_t remote_records = 0;
  for (int i = 0; i < 600 && remote_records < 3000; ++i) {
    auto m = (*src)->ReadManifest("svc");
    remote_records = m.ok() ? m->TotalRecords() : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(remote_records, 3000u) << testing::Shell("cat " + log).out;
  auto mid = verify::VerifyBackup(**src, "svc");
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->ok()) << verify::ReportToText(*mid);
  // keep_local = none: segments the store's manifest names leave the local disk.
  const std::string local = (dir_ / "local" / "svc").string();
  bool removed = false;
  for (int i = 0; i < 200 && !removed; ++i) {
    auto m = backup::ReadManifest(local);
    removed = m.ok();
    if (m.ok()) {
      for (const auto& p : m->topics.at("live").partitions) {
        for (const auto& s : p.segments) {
          if (s.uploaded_ms != 0 && (s.local || fs::exists(local + "/" + s.path))) removed = false;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(removed) << "uploaded segments are still on the local disk";
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::Shell("cat " + log).out;

  // Whatever the stop left waiting goes with a one-shot upload; then the store holds it all.
  const auto up = testing::Tidemark("upload --config " + conf);
  ASSERT_EQ(up.code, 0) << up.out;
  auto final_rep = verify::VerifyBackup(**src, "svc");
  ASSERT_TRUE(final_rep.ok());
  EXPECT_TRUE(final_rep->ok()) << verify::ReportToText(*final_rep);
  EXPECT_EQ(final_rep->records, 3000u);
  auto want = testing::ConsumeTopic(kafka_.bootstraps(), "live");
  auto r = RestoreFromS3("s3://tier-f/site-a", "svc", "live", 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto& got = r->records;
  for (int32_t p = 0; p < 2; ++p) {
    ASSERT_EQ(got[p].size(), want[p].size()) << "partition " << p;
    for (size_t i = 0; i < got[p].size(); ++i) ASSERT_EQ(got[p][i], want[p][i]) << "record " << i;
  }
}

TEST_F(TierTest, AStoreThatIsDownPausesTheServiceUntilItIsBack) {
  ASSERT_TRUE(kafka_.CreateTopic("held", 1).ok());
  ASSERT_OK(client_->CreateBucket("tier-h"));
  const std::string conf = WriteRunConfig("held", "held", "300", "tier-h",
                                          "queue_max_segments = 2\nretries = 0\ntimeout_ms = "
                                          "2000\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
  ASSERT_EQ(gw().Run("kill-gw").code, 0);
  const std::string log = (dir_ / "run.log").string();
  const pid_t pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  auto read_log = [&] { return testing::Shell("cat " + log).out; };
  // Segments seal every 300 ms while the store is down: at two waiting, consumption pauses.
  testing::ProduceVaried(kafka_.bootstraps(), "held", 1, 500, 21);
  bool paused = false;
  for (int i = 0; i < 400 && !paused; ++i) {
    if (i % 20 == 19) testing::ProduceVaried(kafka_.bootstraps(), "held", 1, 200, 100 + i);
    paused = read_log().find("consumption paused") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(paused) << read_log();
  EXPECT_NE(read_log().find("upload: "), std::string::npos) << "the failures are logged";
  // ...and said by /healthz and the metrics.
  std::smatch port;
  const std::string text = read_log();
  ASSERT_TRUE(std::regex_search(text, port, std::regex("\\(port ([0-9]+)\\)"))) << text;
  const std::string base = "curl -s -m 5 http://127.0.0.1:" + std::string(port[1]);
  auto metric = [&](const std::string& name) {
    std::smatch v;
    const std::string body = testing::Shell(base + "/metrics").out;
    return std::regex_search(body, v, std::regex("\n" + name + " ([0-9.e+]+)\n")) ? std::stod(v[1])
                                                                                  : -1.0;
  };
  bool said = false;
  for (int i = 0; i < 40 && !said; ++i) {  // the stats refresh every 250 ms
    said = testing::Shell(base + "/healthz").out.find("upload backlog full") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(said) << testing::Shell(base + "/healthz").out;
  EXPECT_GE(metric("tidemark_upload_queue_depth"), 2.0);
  EXPECT_GT(metric("tidemark_upload_failures_total"), 0.0);
  // With [upload] every metric is exported: all are documented, and the alert rules and the
  // dashboard name only these.
  const std::string scraped = testing::Shell(base + "/metrics").out;
  testing::ExpectMetricsDocumented(scraped);
  testing::ExpectAlertMetricsExported(scraped);
  testing::ExpectDashboardMetricsExported(scraped);
  // Paused means paused: records produced now are not consumed (nothing more is sealed).
  auto sealed_end = [&] {
    auto m = backup::ReadManifest((dir_ / "local" / "held").string());
    return m.ok() && m->topics.count("held") ? m->topics.at("held").partitions.at(0).end_offset
                                             : int64_t{-1};
  };
  std::this_thread::sleep_for(std::chrono::seconds(1));  // what was consumed before is sealed
  const int64_t before = sealed_end();
  testing::ProduceVaried(kafka_.bootstraps(), "held", 1, 300, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(sealed_end(), before) << "consumed while the upload backlog was full";
  // The store comes back: the backlog drains, consuming resumes, and everything gets there.
  const auto back = gw().Run("start-gw");
  ASSERT_EQ(back.code, 0) << back.out;
  testing::ProduceVaried(kafka_.bootstraps(), "held", 1, 300, 7);
  const auto want = testing::ConsumeTopic(kafka_.bootstraps(), "held");
  auto src = source::Open("s3://tier-h/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok());
  uint64_t remote = 0;
  for (int i = 0; i < 1200 && remote < want.at(0).size(); ++i) {
    auto m = (*src)->ReadManifest("held");
    remote = m.ok() ? m->TotalRecords() : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(remote, want.at(0).size()) << read_log();
  EXPECT_NE(read_log().find("consuming again"), std::string::npos) << read_log();
  EXPECT_GT(metric("tidemark_uploaded_segments_total"), 0.0);
  double removed = 0;  // after the store's manifest names them and a local manifest says so
  for (int i = 0; i < 100 && removed <= 0; ++i) {
    removed = metric("tidemark_local_segments_removed_total");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(removed, 0.0) << "keep_local = none";
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_log();
  auto rep = verify::VerifyBackup(**src, "held");
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << verify::ReportToText(*rep);
  EXPECT_EQ(rep->records, want.at(0).size());
}

TEST_F(TierTest, AStopIsPromptWhileTheStoreHangsAndLosesNothing) {
  // A "store" that accepts connections and never answers: requests wait for timeout_ms (60 s).
  const std::string port_file = (dir_ / "hang.port").string();
  const std::string hang_pid =
      testing::Shell(
          "python3 -c 'import socket,sys,time; s=socket.socket(); "
          "s.bind((\"127.0.0.1\",0)); s.listen(64); print(s.getsockname()[1]); "
          "sys.stdout.flush(); time.sleep(300)' > " +
          port_file + " 2>&1 & echo $!")
          .out;
  std::string port;
  for (int i = 0; i < 100 && port.empty(); ++i) {
    std::ifstream(port_file) >> port;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(port.empty());
  ASSERT_TRUE(kafka_.CreateTopic("hung", 1).ok());
  const std::string conf =
      WriteRunConfig("hung", "hung", "300", "tier-hung",
                     "endpoint = \"http://127.0.0.1:" + port + "\"\ntimeout_ms = 60000\n");
  const std::string log = (dir_ / "run.log").string();
  const pid_t pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  testing::ProduceVaried(kafka_.bootstraps(), "hung", 1, 800, 3);
  // Wait until segments are sealed (their uploads now hang), then stop.
  auto sealed = [&] {
    auto m = backup::ReadManifest((dir_ / "local" / "hung").string());
    return m.ok() && m->topics.count("hung") ? m->topics.at("hung").partitions.at(0).records : 0u;
  };
  for (int i = 0; i < 200 && sealed() < 800; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(sealed(), 800u) << testing::Shell("cat " + log).out;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const auto waited = std::chrono::steady_clock::now() - t0;
  testing::Shell("kill " + hang_pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::Shell("cat " + log).out;
  // The hung requests were cancelled, not waited out (each would take 60 s).
  EXPECT_LT(waited, std::chrono::seconds(30)) << testing::Shell("cat " + log).out;
  // Nothing was lost: every segment is still local, none is marked uploaded.
  auto m = backup::ReadManifest((dir_ / "local" / "hung").string());
  ASSERT_TRUE(m.ok());
  for (const auto& seg : m->topics.at("hung").partitions.at(0).segments) {
    EXPECT_TRUE(seg.local && seg.uploaded_ms == 0) << seg.path;
    EXPECT_TRUE(fs::exists(dir_ / "local" / "hung" / seg.path)) << seg.path;
  }
}

// Retention in the store: the service's catalog in the store stops naming what [retention]
// dropped (a "retention" gap), then the objects go; the store's catalog is a few chunks and a
// root, never a manifest.json; what is kept verifies and restores from the store alone.
TEST_F(TierTest, RetentionDropsObjectsFromTheStoreOnlyAfterItsCatalogStopsNamingThem) {
  ASSERT_TRUE(kafka_.CreateTopic("aged", 2).ok());
  ASSERT_OK(client_->CreateBucket("tier-r"));
  kafka::Producer producer;
  ASSERT_TRUE(producer.Connect(kafka_.bootstraps()).ok());
  auto produce = [&](int n, int64_t ts, const std::string& value) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(producer.Produce("aged", i % 2, std::nullopt, value, {}, ts + i).ok());
    ASSERT_TRUE(producer.Flush().ok());
  };
  auto src = source::Open("s3://tier-r/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  auto remote = [&](const std::function<bool(const backup::Manifest&)>& done) {
    for (int i = 0; i < 1200; ++i) {
      auto m = (*src)->ReadManifest("ret");
      if (m.ok() && done(*m)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  auto segment_objects = [&] {
    size_t n = 0;
    for (const auto& [k, size] : Objects("tier-r", "site-a/ret/topics/"))
      n += k.ends_with(".tmseg");
    return n;
  };
  const std::string log = (dir_ / "ret.log").string();

  // Records stamped in 1970, in several segments per partition, all in the store.
  std::string conf = WriteRunConfig("ret", "aged", "300", "tier-r", "catalog_interval_ms = 200\n");
  pid_t pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  for (int batch = 0; batch < 4; ++batch) {
    produce(100, 1000 + batch * 100, "old");
    std::this_thread::sleep_for(std::chrono::milliseconds(450));
  }
  ASSERT_TRUE(remote([](const backup::Manifest& m) { return m.TotalRecords() == 400; }))
      << testing::Shell("cat " + log).out;
  const size_t before = segment_objects();
  EXPECT_GE(before, 4u);
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::Shell("cat " + log).out;

  // Again with [retention]: everything is older than max_age.
  conf = WriteRunConfig("ret", "aged", "300", "tier-r",
                        "catalog_interval_ms = 200\n[retention]\nmax_age = \"1h\"\n"
                        "interval_ms = 1000\n");
  pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  auto all_pruned = [](const backup::Manifest& m) {
    auto t = m.topics.find("aged");
    if (t == m.topics.end() || t->second.partitions.size() != 2) return false;
    for (const auto& p : t->second.partitions)
      if (p.end_offset < 200 || backup::RetentionStart(p) != p.end_offset || !p.segments.empty())
        return false;
    return true;
  };
  ASSERT_TRUE(remote(all_pruned)) << testing::Shell("cat " + log).out;
  // The catalog stopped naming them: now the objects go.
  for (int i = 0; i < 400 && segment_objects() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(segment_objects(), 0u) << testing::Shell("cat " + log).out;

  // Fresh records are backed up behind the pruned range, in the store.
  produce(60, WallClockMs(), "fresh");
  ASSERT_TRUE(remote([](const backup::Manifest& m) {
    return m.TotalRecords() == 60 && m.topics.at("aged").partitions.at(0).end_offset == 230;
  })) << testing::Shell("cat " + log).out;
  ::kill(pid, SIGTERM);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::Shell("cat " + log).out;

  const auto objects = Objects("tier-r", "site-a/ret/");
  EXPECT_EQ(objects.count("site-a/ret/manifest.json"), 0u);
  ASSERT_EQ(objects.count("site-a/ret/catalog/root.json"), 1u);
  size_t chunks = 0;
  for (const auto& [k, size] : objects) chunks += k.starts_with("site-a/ret/catalog/chunks/");
  EXPECT_GE(chunks, 1u);
  EXPECT_LE(chunks, 8u) << "chunks are merged";
  auto m = (*src)->ReadManifest("ret");
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const auto& p : m->topics.at("aged").partitions) {
    EXPECT_EQ(backup::RetentionStart(p), 200) << p.partition;
    ASSERT_FALSE(p.gaps.empty());
    EXPECT_EQ(p.gaps.front().reason, backup::kGapRetention);
  }
  auto rep = verify::VerifyBackup(**src, "ret");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_TRUE(rep->ok()) << verify::ReportToText(*rep);
  EXPECT_EQ(rep->records, 60u);
  auto r = RestoreFromS3("s3://tier-r/site-a", "ret", "aged", 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (int32_t p = 0; p < 2; ++p) {
    ASSERT_EQ(r->records[p].size(), 30u) << "partition " << p;
    for (const auto& rec : r->records[p]) EXPECT_EQ(rec.value.value_or(""), "fresh");
  }
}

// tidemark prune with [upload]: snapshots in the store older than max_age go (manifest first),
// except the newest keep_last; a stopped service's continuous backup is trimmed locally, then its
// catalog in the store stops naming the dropped segments, then their objects go.
TEST_F(TierTest, PruneAppliesRetentionToSnapshotsAndContinuousBackupsInTheStore) {
  ASSERT_OK(client_->CreateBucket("tier-p"));
  FillAndBackUp("s1", 1, 300, "snap-old");
  FillAndBackUp("s2", 1, 300, "snap-new");
  ASSERT_TRUE(upload::UploadOnce(UploadConfig("tier-p"), "").ok());
  ASSERT_FALSE(Objects("tier-p", "site-a/snap-old/").empty());

  ASSERT_TRUE(kafka_.CreateTopic("aged", 2).ok());
  {
    kafka::Producer producer;
    ASSERT_TRUE(producer.Connect(kafka_.bootstraps()).ok());
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(producer.Produce("aged", i % 2, std::nullopt, "old", {}, 1000 + i).ok());
    ASSERT_TRUE(producer.Flush().ok());
  }
  const std::string log = (dir_ / "cont.log").string();
  const std::string conf =
      WriteRunConfig("cont", "aged", "300", "tier-p", "catalog_interval_ms = 200\n");
  pid_t pid = testing::Spawn({"run", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  auto src = source::Open("s3://tier-p/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  bool covered = false;
  for (int i = 0; i < 600 && !covered; ++i) {
    auto m = (*src)->ReadManifest("cont");
    covered = m.ok() && m->TotalRecords() == 200;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(covered) << testing::Shell("cat " + log).out;
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::Shell("cat " + log).out;
  auto segment_objects = [&](const std::string& id) {
    size_t n = 0;
    for (const auto& [k, size] : Objects("tier-p", "site-a/" + id + "/topics/"))
      n += k.ends_with(".tmseg");
    return n;
  };
  ASSERT_GT(segment_objects("cont"), 0u);

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // both snapshots older than 1 s
  std::ofstream(conf, std::ios::app) << "[retention]\nmax_age = \"1s\"\nkeep_last = 1\n";
  const auto dry = testing::Tidemark("prune --config " + conf + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.out;
  EXPECT_NE(dry.out.find("s3://tier-p/site-a/snap-old"), std::string::npos) << dry.out;
  EXPECT_GT(segment_objects("snap-old"), 0u) << "a dry run deletes nothing";
  const auto r = testing::Tidemark("prune --config " + conf);
  ASSERT_EQ(r.code, 0) << r.out;

  EXPECT_TRUE(Objects("tier-p", "site-a/snap-old/").empty()) << r.out;
  EXPECT_GT(segment_objects("snap-new"), 0u) << "keep_last keeps the newest snapshot";
  EXPECT_EQ(segment_objects("cont"), 0u) << r.out;
  auto m = (*src)->ReadManifest("cont");
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const auto& p : m->topics.at("aged").partitions) {
    EXPECT_EQ(backup::RetentionStart(p), 100) << p.partition;
    EXPECT_TRUE(p.segments.empty());
  }
  for (const std::string id : {"cont", "snap-new"}) {
    auto rep = verify::VerifyBackup(**src, id);
    ASSERT_TRUE(rep.ok()) << rep.status().message();
    EXPECT_TRUE(rep->ok()) << verify::ReportToText(*rep);
  }
}

// The tier on its own (no service): the store's catalog is written anew as a base once the
// chunks since the last base outgrow it (here after a few segments instead of 4 MiB). The root
// then starts with the new base, the earlier base and chunks are deleted from the store, and the
// store reads back exactly what the local manifest names, through every rebase.
TEST_F(TierTest, TheStoresCatalogIsRebasedOnceItsChunksOutgrowTheBase) {
  ASSERT_OK(client_->CreateBucket("tier-b"));
  bench::GrowShape shape;
  shape.topics = 1;
  shape.partitions = 2;
  shape.files = true;  // real segment files: the tier uploads them
  bench::BackupGenerator gen((dir_ / "local").string(), "rb", shape);
  ASSERT_OK(gen.Init());
  ASSERT_OK(gen.Add(4, nullptr));
  config::Config c;
  c.backup.id = "rb";
  c.upload.bucket = "tier-b";
  c.upload.prefix = "site-a";
  c.upload.keep_local_ms = -1;
  c.upload.catalog_interval_ms = 100;
  auto tier = service::Tier::Make(c, gen.dir(), /*min_rebase_bytes=*/1);
  ASSERT_TRUE(tier.ok()) << tier.status().message();
  auto src = source::Open("s3://tier-b/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  // Turns until the store's catalog names every segment the local manifest has.
  auto settle = [&] {
    for (int i = 0; i < 1500; ++i) {
      (*tier)->Turn(gen.mutable_manifest(), MonotonicNs() / 1000000);
      (*tier)->TakeMarks();
      auto m = (*src)->ReadManifest("rb");
      if (m.ok() && m->TotalSegments() == gen.manifest().TotalSegments()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  auto root_chunks = [&] {
    std::vector<std::string> names;
    auto text = client_->GetObject("tier-b", "site-a/rb/catalog/root.json");
    EXPECT_TRUE(text.ok()) << text.status().message();
    if (!text.ok()) return names;
    const nlohmann::json root = nlohmann::json::parse(*text);
    for (const auto& ch : root.at("chunks")) names.push_back(ch.at("name").get<std::string>());
    return names;
  };
  ASSERT_TRUE(settle());
  const std::vector<std::string> first = root_chunks();
  ASSERT_FALSE(first.empty());  // the run's first upload is a base: the root's first chunk
  std::set<std::string> bases = {first[0]};
  for (int round = 0; round < 8; ++round) {
    ASSERT_OK(gen.Add(3, nullptr));
    ASSERT_TRUE(settle()) << "round " << round;
    const auto chunks = root_chunks();
    ASSERT_FALSE(chunks.empty());
    bases.insert(chunks[0]);
    // Every chunk the root names is in the store.
    const auto objects = Objects("tier-b", "site-a/rb/catalog/chunks/");
    for (const auto& ch : chunks) EXPECT_EQ(objects.count("site-a/rb/catalog/" + ch), 1u) << ch;
  }
  EXPECT_GE(bases.size(), 2u) << "no rebase in 8 rounds of chunks";
  // Within a few turns the earlier bases and merged chunks are gone: what stays is what the root
  // names (read again each time: a turn may still upload a new base or chunk).
  std::set<std::string> want, have;
  for (int i = 0; i < 500; ++i) {
    (*tier)->Turn(gen.mutable_manifest(), MonotonicNs() / 1000000);
    want.clear();
    for (const auto& ch : root_chunks()) want.insert("site-a/rb/catalog/" + ch);
    have.clear();
    for (const auto& [k, size] : Objects("tier-b", "site-a/rb/catalog/chunks/")) have.insert(k);
    if (have == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(have, want);
  EXPECT_EQ(have.count("site-a/rb/catalog/" + first[0]), 0u) << "the first base stays";
  // The store reads back what the local manifest names, segment by segment.
  auto m = (*src)->ReadManifest("rb");
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const auto& [topic, t] : gen.manifest().topics) {
    for (const auto& p : t.partitions) {
      const auto& r = m->topics.at(topic).partitions.at(static_cast<size_t>(p.partition));
      ASSERT_EQ(r.segments.size(), p.segments.size()) << topic << "/" << p.partition;
      for (size_t i = 0; i < p.segments.size(); ++i) {
        EXPECT_EQ(r.segments[i].first_offset, p.segments[i].first_offset);
        EXPECT_EQ(r.segments[i].checksum, p.segments[i].checksum);
      }
      EXPECT_EQ(r.end_offset, p.end_offset);
    }
  }
  auto rep = verify::VerifyBackup(**src, "rb");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_TRUE(rep->ok()) << verify::ReportToText(*rep);
  (*tier)->Stop();
}

}  // namespace
}  // namespace tidemark
