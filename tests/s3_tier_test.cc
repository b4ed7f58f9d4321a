// The object-storage tier against Ceph's RADOS Gateway: tidemark upload and reading backups
// from s3://, with the failures an operator meets (killed mid-upload, wrong secret, no
// permission, clock skew, an object deleted behind the tool's back).
#include "s3_tier_fixture.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::OwnedRecord;
using testing::TierTest;

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

}  // namespace
}  // namespace tidemark
