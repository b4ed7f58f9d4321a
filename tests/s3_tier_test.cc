// The object-storage tier against Ceph's RADOS Gateway (tests/s3_gateway.h): tidemark upload,
// uploads from tidemark run, keep_local, and ls/describe/verify/restore from s3://, with the
// failures an operator meets (store down, killed mid-upload, wrong secret, no permission, clock
// skew, an object deleted behind the tool's back).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "backup/snapshot.h"
#include "cli_util.h"
#include "kafka/mock.h"
#include "kafka_test_util.h"
#include "restore/restore.h"
#include "s3/settings.h"
#include "s3_gateway.h"
#include "source/backup_source.h"
#include "test_util.h"
#include "upload/uploader.h"
#include "verify/verify.h"

namespace tidemark {
namespace {

// --- The object-storage tier: tidemark upload, and reading backups from s3:// -------------------

namespace fs = std::filesystem;
using testing::OwnedRecord;

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const Status st_ = (expr);                               \
    ASSERT_TRUE(st_.ok()) << #expr << ": " << st_.message(); \
  } while (0)

class TierTest : public testing::S3Test {
 protected:
  void SetUp() override {
    S3Test::SetUp();
    ASSERT_TRUE(kafka_.Start(1).ok());
    dir_ = testing::FreshTestDir("tier");
    fs::create_directories(dir_ / "tmp");
    ::setenv("TMPDIR", (dir_ / "tmp").c_str(), 1);  // where fetched segments are spooled
    ::setenv("AWS_ACCESS_KEY_ID", gw().key.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", gw().secret.c_str(), 1);
    ::setenv("AWS_ENDPOINT_URL", gw().endpoint.c_str(), 1);
    client_ = Make(gw().secret);
  }
  void TearDown() override {
    ::unsetenv("TMPDIR");
    fs::remove_all(dir_);
  }

  // `n` records in each of `partitions` partitions of `topic`, backed up as snapshot `id`.
  std::map<int32_t, std::vector<OwnedRecord>> FillAndBackUp(const std::string& topic,
                                                            int partitions, int n,
                                                            const std::string& id) {
    EXPECT_TRUE(kafka_.CreateTopic(topic, partitions).ok());
    auto out = testing::ProduceVaried(kafka_.bootstraps(), topic, partitions, n, 11);
    config::Config c;
    c.kafka.bootstrap_servers = kafka_.bootstraps();
    c.kafka.timeout_ms = 20000;
    c.backup.id = id;
    c.backup.topics = {topic};
    c.backup.shards = 2;
    c.backup.block_bytes = 16 * 1024;
    c.backup.compression = format::Codec::kNone;
    c.backup.segment_max_bytes = 256 << 10;  // several segments per partition
    c.storage.path = (dir_ / "local").string();
    auto sum = backup::RunSnapshot(c, nullptr);
    EXPECT_TRUE(sum.ok()) << sum.status().message();
    return out;
  }

  // `tidemark upload`'s configuration file for this test's backups.
  std::string WriteUploadConfig(const std::string& bucket, const std::string& extra) {
    const std::string conf = (dir_ / "upload.toml").string();
    std::ofstream(conf) << "[storage]\npath = \"" << (dir_ / "local").string()
                        << "\"\n[upload]\nbucket = \"" << bucket
                        << "\"\nprefix = \"site-a\"\nkeep_local = \"none\"\n"
                        << extra;
    return conf;
  }

  config::Config UploadConfig(const std::string& bucket, const std::string& keep = "none") {
    config::Config c;
    c.storage.path = (dir_ / "local").string();
    c.upload.bucket = bucket;
    c.upload.prefix = "site-a";
    c.upload.keep_local_ms = *config::ParseKeepLocal(keep);
    c.upload.timeout_ms = 10000;
    return c;
  }

  // Every object under `prefix` in `bucket`, with its size.
  std::map<std::string, uint64_t> Objects(const std::string& bucket, const std::string& prefix) {
    auto l = client_->List(bucket, prefix);
    EXPECT_TRUE(l.ok()) << l.status().message();
    std::map<std::string, uint64_t> out;
    if (l.ok())
      for (const auto& [k, size] : l->objects) out[k] = size;
    return out;
  }

  // The objects a backup must have in the store: its manifest and every segment it names.
  std::set<std::string> Expected(const backup::Manifest& m, const std::string& id) {
    std::set<std::string> want = {"site-a/" + id + "/manifest.json"};
    for (const auto& [t, tm] : m.topics)
      for (const auto& p : tm.partitions)
        for (const auto& s : p.segments) want.insert("site-a/" + id + "/" + s.path);
    return want;
  }

  // `tidemark run` on `topic` into backup `id`, sealing every `seal_ms`, uploading to `bucket`.
  std::string WriteRunConfig(const std::string& id, const std::string& topic,
                             const std::string& seal_ms, const std::string& bucket,
                             const std::string& upload_extra) {
    const std::string conf = (dir_ / "run.toml").string();
    std::ofstream(conf)
        << "[kafka]\nbootstrap_servers = \"" << kafka_.bootstraps()
        << "\"\ntimeout_ms = 10000\n[backup]\nid = \"" << id << "\"\ntopics = [\"" << topic
        << "\"]\nshards = 1\nblock_bytes = 65536\n"
        << "segment_max_bytes = 1048576\nsegment_max_interval_ms = " << seal_ms
        << "\nflush_interval_ms = 50\ncheckpoint_interval_ms = 100\n[storage]\npath = \""
        << (dir_ / "local").string() << "\"\n[upload]\nbucket = \"" << bucket
        << "\"\nprefix = \"site-a\"\nkeep_local = \"none\"\n"
        << upload_extra;
    return conf;
  }

  struct Restored {
    restore::RestoreReport report;
    std::map<int32_t, std::vector<OwnedRecord>> records;  // what landed, per partition
  };
  // Restores backup `id` from `url` into a fresh cluster holding `topic` with `partitions`.
  Result<Restored> RestoreFromS3(const std::string& url, const std::string& id,
                                 const std::string& topic, int partitions) {
    kafka::MockCluster target;
    TM_RETURN_IF_ERROR(target.Start(1));
    TM_RETURN_IF_ERROR(target.CreateTopic(topic, partitions));
    restore::RestoreOptions o;
    o.path = url;
    o.id = id;
    o.brokers = target.bootstraps();
    o.timeout_ms = 20000;
    o.progress = restore::Progress::kOff;
    o.threads = 2;
    o.state_dir = (dir_ / "state").string();
    std::atomic<bool> stop{false};
    Restored out;
    TM_ASSIGN_OR_RETURN(out.report, restore::RunRestore(o, &stop));
    out.records = testing::ConsumeTopic(target.bootstraps(), topic);
    return out;
  }

  kafka::MockCluster kafka_;
  fs::path dir_;
  std::unique_ptr<s3::Client> client_;
};

TEST_F(TierTest, AnUploadedBackupWithoutItsLocalCopyIsListedVerifiedAndRestoredFromS3) {
  const auto produced = FillAndBackUp("orders", 3, 2500, "snap");
  ASSERT_OK(client_->CreateBucket("tier-a"));
  const std::string local = (dir_ / "local" / "snap").string();
  auto before = backup::ReadManifest(local);
  ASSERT_TRUE(before.ok()) << before.status().message();
  ASSERT_GE(before->TotalSegments(), 6u) << "the test wants several segments per partition";

  auto sum = upload::UploadOnce(UploadConfig("tier-a"), "");
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  EXPECT_EQ(sum->segments, before->TotalSegments());
  EXPECT_EQ(sum->manifests, 1u);
  EXPECT_EQ(sum->removed, before->TotalSegments());

  // The store holds exactly the manifest and its segments, byte for byte the local files' sizes.
  const auto objects = Objects("tier-a", "site-a/");
  std::set<std::string> keys;
  for (const auto& [k, size] : objects) keys.insert(k);
  EXPECT_EQ(keys, Expected(*before, "snap"));
  for (const auto& [t, tm] : before->topics)
    for (const auto& p : tm.partitions)
      for (const auto& s : p.segments)
        EXPECT_EQ(objects.at("site-a/snap/" + s.path), s.bytes_stored) << s.path;

  // keep_local = none: the local segments are gone, and the local manifest says where they live.
  auto after = backup::ReadManifest(local);
  ASSERT_TRUE(after.ok());
  for (const auto& [t, tm] : after->topics) {
    for (const auto& p : tm.partitions) {
      for (const auto& s : p.segments) {
        EXPECT_FALSE(s.local) << s.path;
        EXPECT_GT(s.uploaded_ms, 0) << s.path;
        EXPECT_FALSE(fs::exists(local + "/" + s.path)) << s.path;
      }
    }
  }

  auto src = source::Open("s3://tier-a/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok()) << src.status().message();
  auto ls = verify::ListBackups(**src, false);
  ASSERT_TRUE(ls.ok()) << ls.status().message();
  EXPECT_NE(ls->find("snap"), std::string::npos) << *ls;
  EXPECT_NE(ls->find(std::to_string(3 * 2500)), std::string::npos) << *ls;
  auto desc = verify::DescribeBackup(**src, "snap", false);
  ASSERT_TRUE(desc.ok()) << desc.status().message();
  EXPECT_NE(desc->find("partition 2: offsets [0, 2500)"), std::string::npos) << *desc;
  auto rep = verify::VerifyBackup(**src, "snap");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_TRUE(rep->ok()) << verify::ReportToText(*rep);
  EXPECT_EQ(rep->records, 3u * 2500);
  EXPECT_EQ(rep->segments, before->TotalSegments());
  EXPECT_EQ(rep->backup_dir, "s3://tier-a/site-a/snap");

  // The local directory with [upload] reads what it no longer keeps from the store.
  config::UploadConfig u = UploadConfig("tier-a").upload;
  auto local_src = source::Open((dir_ / "local").string(), u);
  ASSERT_TRUE(local_src.ok());
  auto local_rep = verify::VerifyBackup(**local_src, "snap");
  ASSERT_TRUE(local_rep.ok());
  EXPECT_TRUE(local_rep->ok()) << verify::ReportToText(*local_rep);
  EXPECT_EQ(local_rep->records, rep->records);

  // Restore from s3:// into a second cluster: every record, in order.
  auto r = RestoreFromS3("s3://tier-a/site-a", "snap", "orders", 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->report.damaged());
  EXPECT_EQ(r->report.produced, 3u * 2500);
  EXPECT_EQ(r->report.state_dir.rfind((dir_ / "state").string(), 0), 0u) << r->report.state_dir;
  auto& got = r->records;
  for (int32_t p = 0; p < 3; ++p) {
    SCOPED_TRACE("partition " + std::to_string(p));
    ASSERT_EQ(got[p].size(), produced.at(p).size());
    for (size_t i = 0; i < got[p].size(); ++i) {
      OwnedRecord want = produced.at(p)[i];
      want.offset = static_cast<int64_t>(i);
      ASSERT_EQ(got[p][i], want) << "record " << i;
    }
  }
  // Nothing fetched is left behind in the spool.
  src->reset();
  local_src->reset();
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
}

TEST_F(TierTest, AnObjectDeletedBehindTheToolsBackIsNamedByVerify) {
  FillAndBackUp("events", 1, 3000, "gone");
  ASSERT_OK(client_->CreateBucket("tier-b"));
  auto c = UploadConfig("tier-b", "all");
  auto sum = upload::UploadOnce(c, "gone");
  ASSERT_TRUE(sum.ok()) << sum.status().message();
  EXPECT_EQ(sum->removed, 0u) << "keep_local = all keeps every local copy";
  auto m = backup::ReadManifest((dir_ / "local" / "gone").string());
  ASSERT_TRUE(m.ok());
  const auto& seg = m->topics.at("events").partitions.at(0).segments.at(1);
  EXPECT_TRUE(fs::exists(dir_ / "local" / "gone" / seg.path));
  ASSERT_TRUE(client_->DeleteObject("tier-b", "site-a/gone/" + seg.path).ok());

  auto src = source::Open("s3://tier-b/site-a", config::UploadConfig{});
  ASSERT_TRUE(src.ok());
  auto rep = verify::VerifyBackup(**src, "gone");
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  ASSERT_FALSE(rep->ok());
  ASSERT_EQ(rep->damage.size(), 1u) << verify::ReportToText(*rep);
  EXPECT_EQ(rep->damage[0].file, seg.path);
  EXPECT_NE(rep->damage[0].what.find("missing from the store"), std::string::npos)
      << rep->damage[0].what;
  EXPECT_EQ(rep->damage[0].offset, seg.first_offset);
}

TEST_F(TierTest, UploadPoolSendsLargeSegmentsInPartsByteExact) {
  ASSERT_OK(client_->CreateBucket("tier-c"));
  std::string data(12 * 1024 * 1024 + 777, '\0');
  std::mt19937_64 rng(5);
  for (auto& ch : data) ch = static_cast<char>(rng());
  const std::string file = (dir_ / "big.tmseg").string();
  std::ofstream(file, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
  auto c = UploadConfig("tier-c");
  c.upload.multipart_threshold_bytes = 5 << 20;
  c.upload.part_bytes = 5 << 20;
  c.upload.parts_in_flight = 3;
  c.upload.workers = 2;
  auto st = s3::ResolveSettings(c.upload);
  ASSERT_TRUE(st.ok()) << st.status().message();
  auto pool = upload::Pool::Make(c.upload, *st);
  ASSERT_TRUE(pool.ok()) << pool.status().message();
  Status result = Status::Corrupt("not run");
  (*pool)->Submit({file, "big.tmseg", [&](const Status& s) { result = s; }});
  (*pool)->Drain();
  ASSERT_TRUE(result.ok()) << result.message();
  auto head = client_->HeadObject("tier-c", "big.tmseg");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, data.size());
  EXPECT_NE(head->etag.find("-3"), std::string::npos) << "three parts: " << head->etag;
  auto back = client_->GetObject("tier-c", "big.tmseg");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == data) << "the object read back differs";

  // A missing file fails that job alone, clearly.
  Status missing;
  (*pool)->Submit({file + ".nope", "nope", [&](const Status& s) { missing = s; }});
  (*pool)->Drain();
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(".nope"), std::string::npos) << missing.message();
}

TEST_F(TierTest, FailedUploadsRemoveNothingAndSayWhatToDo) {
  FillAndBackUp("audit", 1, 500, "keep");
  const std::string local = (dir_ / "local" / "keep").string();
  auto count_files = [&] {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(local + "/topics"))
      n += e.is_regular_file() ? 1 : 0;
    return n;
  };
  const size_t files = count_files();
  ASSERT_GT(files, 0u);

  // A missing bucket: named before anything is sent.
  auto missing = upload::UploadOnce(UploadConfig("no-such-tier"), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("bucket 'no-such-tier' does not exist"),
            std::string::npos)
      << missing.status().message();

  // A wrong secret: a 403 that names the key, never the secret.
  ASSERT_OK(client_->CreateBucket("tier-d"));
  ::setenv("AWS_SECRET_ACCESS_KEY", "0000000000000000000000000000000000000000", 1);
  auto denied = upload::UploadOnce(UploadConfig("tier-d"), "");
  ::setenv("AWS_SECRET_ACCESS_KEY", gw().secret.c_str(), 1);
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.status().message().find("secret key does not match access key " + gw().key),
            std::string::npos)
      << denied.status().message();
  EXPECT_EQ(denied.status().message().find("0000000000"), std::string::npos);

  // An unreachable endpoint: retried, then named.
  auto c = UploadConfig("tier-d");
  c.upload.endpoint = "http://127.0.0.1:1";
  c.upload.retries = 1;
  auto down = upload::UploadOnce(c, "");
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.status().message().find("after 2 attempts"), std::string::npos)
      << down.status().message();

  // None of it removed or marked anything.
  EXPECT_EQ(count_files(), files);
  auto m = backup::ReadManifest(local);
  ASSERT_TRUE(m.ok());
  for (const auto& s : m->topics.at("audit").partitions.at(0).segments) {
    EXPECT_TRUE(s.local);
    EXPECT_EQ(s.uploaded_ms, 0);
  }
  EXPECT_TRUE(Objects("tier-d", "").empty());
}

TEST_F(TierTest, ClockSkewAndAMissingPermissionAreNamedAndRemoveNothing) {
  FillAndBackUp("audit", 1, 400, "perm");
  ASSERT_OK(client_->CreateBucket("tier-g"));
  const std::string conf = WriteUploadConfig("tier-g", "retries = 1\n");
  const char* bin = std::getenv("TIDEMARK_BIN");
  ASSERT_NE(bin, nullptr);
  const char* asan = std::getenv("ASAN_OPTIONS");
  // libfaketime moves this process's clock two hours back (preloaded: ASan must allow that).
  const std::string skewed = testing::Shell("ASAN_OPTIONS='" + std::string(asan ? asan : "") +
                                            ":verify_asan_link_order=0' faketime -f -2h " + bin +
                                            " upload --config " + conf + " 2>&1")
                                 .out;
  EXPECT_NE(skewed.find("this machine's clock is off (RequestTimeTooSkewed)"), std::string::npos)
      << skewed;

  // Another user of the same store: the bucket is not theirs.
  const std::string other = gw().Run("user intruder").out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(other, m, std::regex("access_key=(\\S+) secret_key=(\\S+)")))
      << other;
  const std::string key = m[1], secret = m[2];
  const auto denied =
      testing::Shell("AWS_ACCESS_KEY_ID=" + key + " AWS_SECRET_ACCESS_KEY=" + secret + " " + bin +
                     " upload --config " + conf + " 2>&1");
  EXPECT_EQ(denied.code, 2) << denied.out;
  EXPECT_NE(denied.out.find("access denied for access key " + key), std::string::npos)
      << denied.out;
  EXPECT_EQ(denied.out.find(secret), std::string::npos) << denied.out;

  // Neither moved anything: every segment is local and unmarked, the bucket is empty.
  auto man = backup::ReadManifest((dir_ / "local" / "perm").string());
  ASSERT_TRUE(man.ok());
  for (const auto& s : man->topics.at("audit").partitions.at(0).segments) {
    EXPECT_TRUE(s.local && s.uploaded_ms == 0) << s.path;
    EXPECT_TRUE(fs::exists(dir_ / "local" / "perm" / s.path)) << s.path;
  }
  EXPECT_TRUE(Objects("tier-g", "").empty());
}

TEST_F(TierTest, AGatewayKilledMidUploadAndRestartedLosesAndDuplicatesNothing) {
  // Many small segments, one worker: the upload takes long enough to be caught in the middle.
  FillAndBackUp("clicks", 24, 300, "kill");
  ASSERT_OK(client_->CreateBucket("tier-e"));
  const std::string conf =
      WriteUploadConfig("tier-e", "workers = 1\nretries = 8\ntimeout_ms = 5000\n");
  const std::string log = (dir_ / "upload.log").string();
  const pid_t pid = testing::Spawn({"upload", "--config", conf}, log);
  ASSERT_GT(pid, 0);
  // Kill the gateway once some segments are in, before the manifest is.
  bool caught = false;
  for (int i = 0; i < 2000 && !caught; ++i) {
    const auto objs = Objects("tier-e", "site-a/kill/");
    if (objs.count("site-a/kill/manifest.json") != 0) break;
    if (objs.size() >= 2) {
      gw().Run("kill-gw");
      caught = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(caught) << "the upload finished before the gateway could be killed";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto restart = gw().Run("start-gw");
  ASSERT_EQ(restart.code, 0) << restart.out;
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::ifstream in(log);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // Retries ran out while the gateway was down: the run says so, and a re-run continues.
    EXPECT_NE(out.find("run tidemark upload again"), std::string::npos) << out;
    const auto again = testing::Tidemark("upload --config " + conf);
    ASSERT_EQ(again.code, 0) << again.out;
  }
  // Exactly the manifest and its segments, each once; no local segment left; the backup reads
  // back whole from the store.
  auto m = backup::ReadManifest((dir_ / "local" / "kill").string());
  ASSERT_TRUE(m.ok());
  std::set<std::string> keys;
  for (const auto& [k, size] : Objects("tier-e", "site-a/")) keys.insert(k);
  EXPECT_EQ(keys, Expected(*m, "kill"));
  for (const auto& [t, tm] : m->topics)
    for (const auto& p : tm.partitions)
      for (const auto& s : p.segments) EXPECT_FALSE(s.local) << s.path;
  const auto verify = testing::Tidemark("verify --path s3://tier-e/site-a --id kill");
  EXPECT_EQ(verify.code, 0) << verify.out;
  EXPECT_NE(verify.out.find("verify OK: s3://tier-e/site-a/kill"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find(std::to_string(24 * 300) + " records"), std::string::npos)
      << verify.out;
}

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

}  // namespace
}  // namespace tidemark
