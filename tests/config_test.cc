// Unit tests: configuration parsing and validation, time parsing, the latency histogram.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <fstream>
#include "common/dir_lock.h"
#include "common/histogram.h"
#include "common/time.h"
#include "config/config.h"
#include "kafka/kafka.h"
#include "s3/settings.h"
#include "shard/shard.h"
#include "upload/uploader.h"

namespace tidemark {
namespace {

constexpr const char* kFull = R"(
[kafka]
bootstrap_servers = "10.0.0.1:9092,10.0.0.2:9092"
timeout_ms = 5000
[kafka.properties]
"security.protocol" = "SASL_SSL"
"fetch.wait.max.ms" = 250
"enable.ssl.certificate.verification" = false
[backup]
id = "prod"
topics = ["orders", "payments.*"]
exclude = ["__*", "tmp.*"]
compression = "lz4"
level = 3
segment_max_bytes = 134217728
segment_max_interval_ms = 60000
shards = 0
groups = ["billing", "audit.*"]
[storage]
path = "/var/lib/tidemark"
direct_io = "on"
[restore]
rate_limit_bytes = 50000000
rate_limit_records = 100000
threads = 2
[restore.properties]
"compression.type" = "zstd"
[upload]
endpoint = "http://minio.local:9000"
bucket = "kafka-backups"
prefix = "/site-a/"
region = "us-east-1"
addressing = "virtual"
ca_file = "/etc/ssl/minio.pem"
credentials_file = "/etc/tidemark/s3.credentials"
profile = "backup"
keep_local = "12h"
workers = 8
part_size_bytes = 8388608
multipart_threshold_bytes = 16777216
parts_in_flight = 2
queue_max_segments = 32
catalog_interval_ms = 30000
timeout_ms = 20000
retries = 3
[metrics]
listen = "127.0.0.1:9464"
)";

TEST(Config, ParsesEveryDocumentedKey) {
  auto c = config::ParseConfig(kFull, "full.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kafka.bootstrap_servers, "10.0.0.1:9092,10.0.0.2:9092");
  EXPECT_EQ(c->kafka.timeout_ms, 5000);
  ASSERT_EQ(c->kafka.properties.size(), 3u);
  std::map<std::string, std::string> props(c->kafka.properties.begin(), c->kafka.properties.end());
  EXPECT_EQ(props["security.protocol"], "SASL_SSL");
  EXPECT_EQ(props["fetch.wait.max.ms"], "250");
  EXPECT_EQ(props["enable.ssl.certificate.verification"], "false");
  EXPECT_EQ(c->backup.id, "prod");
  EXPECT_EQ(c->backup.topics, (std::vector<std::string>{"orders", "payments.*"}));
  EXPECT_EQ(c->backup.exclude.size(), 2u);
  EXPECT_EQ(c->backup.compression, format::Codec::kLz4);
  EXPECT_EQ(c->backup.level, 3);
  EXPECT_EQ(c->storage.direct_io, io::DirectIoMode::kOn);
  EXPECT_EQ(c->upload.bucket, "kafka-backups");
  EXPECT_EQ(c->upload.prefix, "site-a") << "slashes at either end are dropped";
  EXPECT_FALSE(c->upload.path_style);
  EXPECT_EQ(c->upload.ca_file, "/etc/ssl/minio.pem");
  EXPECT_EQ(c->upload.credentials_file, "/etc/tidemark/s3.credentials");
  EXPECT_EQ(c->upload.profile, "backup");
  EXPECT_EQ(c->upload.keep_local_ms, 12 * 3600 * 1000);
  EXPECT_EQ(c->upload.workers, 8);
  EXPECT_EQ(c->upload.part_bytes, 8u << 20);
  EXPECT_EQ(c->upload.multipart_threshold_bytes, 16u << 20);
  EXPECT_EQ(c->upload.parts_in_flight, 2);
  EXPECT_EQ(c->upload.queue_max_segments, 32);
  EXPECT_EQ(c->upload.catalog_interval_ms, 30000);
  EXPECT_EQ(c->upload.timeout_ms, 20000);
  EXPECT_EQ(c->upload.retries, 3);
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(c->backup.groups, (std::vector<std::string>{"billing", "audit.*"}));
  EXPECT_EQ(c->restore.rate_limit_bytes, 50000000u);
  EXPECT_EQ(c->restore.rate_limit_records, 100000u);
  EXPECT_EQ(c->restore.threads, 2);
  ASSERT_EQ(c->restore.properties.size(), 1u);
  EXPECT_EQ(c->restore.properties[0].second, "zstd");
  EXPECT_TRUE(config::ValidateForBackup(*c).ok());
}

TEST(Config, RestoreKeysAreCheckedLikeEveryOther) {
  auto bad = config::ParseConfig("[restore]\nrate_limit_bytes = -1\n", "r.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("r.toml:2: 'restore.rate_limit_bytes'"), std::string::npos)
      << bad.status().message();
  auto unknown = config::ParseConfig("[restore]\nrate = 5\n", "r.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown key 'restore.rate'"), std::string::npos)
      << unknown.status().message();
  auto typed = config::ParseConfig("[restore.properties]\n\"acks\" = [1]\n", "r.toml");
  ASSERT_FALSE(typed.ok());
  EXPECT_NE(typed.status().message().find("'restore.properties.acks'"), std::string::npos)
      << typed.status().message();
}

TEST(Config, KeepLocalIsAllNoneOrADuration) {
  EXPECT_EQ(*config::ParseKeepLocal("all"), -1);
  EXPECT_EQ(*config::ParseKeepLocal("none"), 0);
  EXPECT_EQ(*config::ParseKeepLocal("90s"), 90000);
  EXPECT_EQ(*config::ParseKeepLocal("30m"), 30 * 60000);
  EXPECT_EQ(*config::ParseKeepLocal("7d"), 7 * 86400000ll);
  for (const char* bad : {"", "7", "7w", "-1h", "0h", "h", "12hh", "forever"})
    EXPECT_FALSE(config::ParseKeepLocal(bad).ok()) << bad;
  auto c = config::ParseConfig("[upload]\nkeep_local = \"1y\"\n", "u.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'upload.keep_local'"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("none, all or a duration"), std::string::npos)
      << c.status().message();
}

TEST(Config, RetentionKeysAndDurations) {
  auto c = config::ParseConfig(
      "[retention]\nmax_age = \"30d\"\nmax_bytes = 1000000\nkeep_last = 5\ninterval_ms = 5000\n",
      "r.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->retention.max_age_ms, 30 * 86400000ll);
  EXPECT_EQ(c->retention.max_bytes, 1000000u);
  EXPECT_EQ(c->retention.keep_last, 5);
  EXPECT_EQ(c->retention.interval_ms, 5000);
  EXPECT_TRUE(c->retention.enabled());
  auto none = config::ParseConfig("[retention]\nmax_age = \"none\"\n", "r.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->retention.enabled());
  EXPECT_EQ(none->retention.keep_last, 3);
  // A duration that would overflow milliseconds is refused, not wrapped.
  for (const char* bad : {"30x", "-1d", "99999999999999999d", "9223372036854775807s", "1e3s"}) {
    auto r = config::ParseConfig(std::string("[retention]\nmax_age = \"") + bad + "\"\n", "r.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("'retention.max_age'"), std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(config::ParseKeepLocal("99999999999999999d").ok());
  auto unknown = config::ParseConfig("[retention]\nmax_days = 3\n", "r.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("max_days"), std::string::npos);
}

TEST(Config, UploadKeysAreChecked) {
  struct Case {
    const char* toml;
    const char* expect;
  };
  const Case cases[] = {
      {"[upload]\nendpoint = \"minio:9000\"\n", "must start with http:// or https://"},
      {"[upload]\naddressing = \"dns\"\n", "'dns' is not one of path, virtual"},
      {"[upload]\npart_size_bytes = 1048576\n",
       "'upload.part_size_bytes' = 1048576 is out of range"},
      {"[upload]\nworkers = 0\n", "'upload.workers' = 0 is out of range"},
      {"[upload]\ncatalog_interval_ms = 10\n", "'upload.catalog_interval_ms' = 10 is out of range"},
      {"[upload]\nsecret_key = \"x\"\n", "unknown key 'upload.secret_key'"},
  };
  for (const auto& tc : cases) {
    auto c = config::ParseConfig(tc.toml, "u.toml");
    ASSERT_FALSE(c.ok()) << tc.toml;
    EXPECT_EQ(ExitCodeFor(c.status()), 2);
    EXPECT_NE(c.status().message().find(tc.expect), std::string::npos) << c.status().message();
  }
}

TEST(S3Settings, UrlsAndCredentialsFromTheEnvironmentOrAFile) {
  auto l = s3::ParseS3Url("s3://kafka-backups/site-a/");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->bucket, "kafka-backups");
  EXPECT_EQ(l->prefix, "site-a");
  EXPECT_EQ(l->Key("nightly/manifest.json"), "site-a/nightly/manifest.json");
  EXPECT_EQ(s3::ParseS3Url("s3://b1x")->Key("k"), "k");
  for (const char* bad : {"s3://", "s3://ab", "s3://Upper/x", "/var/lib", "s3://-x-/p"})
    EXPECT_FALSE(s3::ParseS3Url(bad).ok()) << bad;

  ::setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
  ::setenv("AWS_REGION", "eu-west-1", 1);
  ::unsetenv("AWS_ENDPOINT_URL");
  config::UploadConfig u;
  u.bucket = "kafka-backups";
  auto st = s3::ResolveSettings(u);
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->credentials.access_key, "AKENV");
  EXPECT_EQ(st->client.region, "eu-west-1");
  EXPECT_EQ(st->client.endpoint, "https://s3.eu-west-1.amazonaws.com") << "no endpoint: AWS";

  // A credentials file (the [upload] key) wins over the environment; its profile is chosen.
  const std::string file = ::testing::TempDir() + "/tidemark-creds";
  std::ofstream(file) << "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = d\n"
                      << "[backup]\naws_access_key_id=AKFILE\naws_secret_access_key=s3cr3t\n";
  u.credentials_file = file;
  u.profile = "backup";
  u.endpoint = "http://127.0.0.1:7480";
  st = s3::ResolveSettings(u);
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ(st->credentials.access_key, "AKFILE");
  EXPECT_EQ(st->credentials.secret_key, "s3cr3t");
  EXPECT_EQ(st->client.endpoint, "http://127.0.0.1:7480");
  u.profile = "nope";
  auto missing = s3::ResolveSettings(u);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("section [nope]"), std::string::npos);
  EXPECT_EQ(missing.status().message().find("s3cr3t"), std::string::npos);

  u.credentials_file.clear();
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SHARED_CREDENTIALS_FILE");
  auto none = s3::ResolveSettings(u);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(ExitCodeFor(none.status()), 2);
  EXPECT_NE(none.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AWS_REGION");
  std::filesystem::remove(file);
}

// The manifest the store is shown: each partition up to its first segment not uploaded yet.
TEST(Upload, TheRemoteViewNamesOnlyUploadedSegmentsAndTheOffsetsTheyCover) {
  backup::Manifest m;
  auto& p = backup::FindOrAddPartition(&m, "orders", 0);
  auto seg = [](int64_t first, int64_t last, int64_t uploaded) {
    segment::SealedSegment s;
    s.path = "topics/orders/0/" + std::to_string(first) + ".tmseg";
    s.first_offset = first;
    s.last_offset = last;
    s.records = static_cast<uint64_t>(last - first + 1);
    s.bytes_stored = 4096;
    s.uploaded_ms = uploaded;
    return s;
  };
  p.segments = {seg(10, 19, 5), seg(25, 29, 6), seg(30, 39, 0), seg(40, 49, 7)};
  p.gaps = {{0, 10, backup::kGapLogStart},
            {20, 25, backup::kGapNotDelivered},
            {35, 36, backup::kGapNotDelivered}};
  p.end_offset = 50;
  p.records = 35;
  p.segments[0].local = false;  // removed from this node after its upload
  // (p is not used past here: adding a partition may move it.)
  auto& q = backup::FindOrAddPartition(&m, "orders", 1);
  q.segments = {seg(0, 9, 1)};
  q.end_offset = 10;
  q.records = 10;

  const backup::Manifest v = upload::RemoteView(m);
  const auto& vp = v.topics.at("orders").partitions.at(0);
  ASSERT_EQ(vp.segments.size(), 2u) << "stops before the first segment not in the store";
  EXPECT_TRUE(vp.segments[0].local) << "the store's copy does not carry what a node keeps";
  EXPECT_EQ(vp.end_offset, 30);
  EXPECT_EQ(vp.records, 15u);
  EXPECT_EQ(vp.bytes_stored, 8192u);
  ASSERT_EQ(vp.gaps.size(), 2u);
  EXPECT_EQ(vp.gaps[1].to, 25);
  const auto& vq = v.topics.at("orders").partitions.at(1);
  EXPECT_EQ(vq.segments.size(), 1u);
  EXPECT_EQ(vq.end_offset, 10) << "a partition all in the store is shown whole";
}

TEST(Config, ErrorsNameTheKeyAndLine) {
  struct Case {
    const char* toml;
    const char* expect;
  };
  const Case cases[] = {
      {"[backup]\nshards = -1\n", "t.toml:2: 'backup.shards' = -1 is out of range"},
      {"[backup]\ntopics = \"orders\"\n", "t.toml:2: 'backup.topics' must be an array of strings"},
      {"[backup]\ncompression = \"brotli\"\n", "'backup.compression': 'brotli' is not one of"},
      {"[storage]\npath = 7\n", "t.toml:2: 'storage.path' must be a string"},
      {"[kafka]\n\nbootstrap = \"x\"\n", "t.toml:3: unknown key 'kafka.bootstrap'"},
      {"[kafka.properties]\n\"a\" = [1]\n",
       "'kafka.properties.a' must be a string, integer or boolean"},
      {"[backups]\n", "unknown key '<top level>.backups'"},
      {"[backup\n", "t.toml:1:"},
  };
  for (const auto& tc : cases) {
    auto c = config::ParseConfig(tc.toml, "t.toml");
    ASSERT_FALSE(c.ok()) << tc.toml;
    EXPECT_TRUE(c.status().Is(Errc::kConfig));
    EXPECT_NE(c.status().message().find(tc.expect), std::string::npos) << c.status().message();
    EXPECT_EQ(ExitCodeFor(c.status()), 2);
  }
}

TEST(Config, ValidateForBackupSaysWhatIsMissing) {
  config::Config c;
  EXPECT_NE(config::ValidateForBackup(c).message().find("--brokers"), std::string::npos);
  c.kafka.bootstrap_servers = "b:1";
  EXPECT_NE(config::ValidateForBackup(c).message().find("--topics"), std::string::npos);
  c.backup.topics = {"t"};
  EXPECT_NE(config::ValidateForBackup(c).message().find("--id"), std::string::npos);
  c.backup.id = "../etc";
  EXPECT_NE(config::ValidateForBackup(c).message().find("may hold only"), std::string::npos);
  c.backup.id = "nightly-2026.11.22";
  EXPECT_TRUE(config::ValidateForBackup(c).ok());
}

TEST(Config, KafkaPropertiesGoToLibrdkafkaVerbatim) {
  config::Config c;
  c.kafka.bootstrap_servers = "127.0.0.1:1";
  c.backup.id = "x";
  c.kafka.properties = {{"fetch.wait.max.ms", "250"}};
  kafka::ErrorState errors;
  auto ok = kafka::MakeBackupConsumer(c, &errors);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  c.kafka.properties = {{"no.such.property", "1"}};
  auto bad = kafka::MakeBackupConsumer(c, &errors);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().Is(Errc::kConfig));
  EXPECT_NE(bad.status().message().find("no.such.property"), std::string::npos)
      << bad.status().message();
}

TEST(Config, PrefetchBudgetIsDividedOverQueuesWithAFloor) {
  constexpr uint64_t kMiB = 1 << 20;
  // One shard queue gets the whole budget; four share it; many get the floor, not less.
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 1).max_kbytes, 64 * 1024);
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 4).max_kbytes, 16 * 1024);
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 1000).max_kbytes,
            static_cast<int64_t>(kafka::kPrefetchFloorBytes / 1024));
  // Not known (a handle for metadata): the floor. A budget below the floor is the floor.
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 0).max_kbytes,
            static_cast<int64_t>(kafka::kPrefetchFloorBytes / 1024));
  EXPECT_EQ(kafka::PrefetchPerQueue(1 * kMiB, 1).max_kbytes,
            static_cast<int64_t>(kafka::kPrefetchFloorBytes / 1024));
  // The record cap follows the share (a record counts as at least 256 bytes).
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 1).min_messages, 262144);
  EXPECT_EQ(kafka::PrefetchPerQueue(64 * kMiB, 4).min_messages, 65536);
  // librdkafka's own maxima are never passed.
  const auto huge = kafka::PrefetchPerQueue(uint64_t{1} << 40, 1);
  EXPECT_EQ(huge.max_kbytes, 2097151);
  EXPECT_EQ(huge.min_messages, 10000000);
}

namespace {
std::string ConsumerProperty(rd_kafka_t* rk, const char* name) {
  char buf[64];
  size_t size = sizeof(buf);
  if (rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size) != RD_KAFKA_CONF_OK) return "?";
  return buf;
}
}  // namespace

TEST(Config, ConsumerPrefetchComesFromTheBudgetAndPropertiesWin) {
  config::Config c;
  c.kafka.bootstrap_servers = "127.0.0.1:1";
  c.backup.id = "x";
  c.backup.prefetch_bytes = 96ull << 20;
  kafka::ErrorState errors;
  auto three = kafka::MakeBackupConsumer(c, &errors, {}, nullptr, 3);
  ASSERT_TRUE(three.ok()) << three.status().message();
  EXPECT_EQ(ConsumerProperty(three->get(), "queued.max.messages.kbytes"), "32768");
  EXPECT_EQ(ConsumerProperty(three->get(), "queued.min.messages"), "131072");
  // The operator's [kafka.properties] has the last word.
  c.kafka.properties = {{"queued.max.messages.kbytes", "1024"}};
  auto own = kafka::MakeBackupConsumer(c, &errors, {}, nullptr, 3);
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_EQ(ConsumerProperty(own->get(), "queued.max.messages.kbytes"), "1024");
  EXPECT_EQ(ConsumerProperty(own->get(), "queued.min.messages"), "131072");
  // And the key is read from [backup], range-checked.
  auto parsed = config::ParseConfig("[backup]\nprefetch_bytes = 33554432\n", "f.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->backup.prefetch_bytes, 33554432u);
  auto small = config::ParseConfig("[backup]\nprefetch_bytes = 4096\n", "f.toml");
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("prefetch_bytes"), std::string::npos);
}

TEST(Config, MetricsListenPortIsParsedStrictly) {
  // Each refused value, and what the message must say beside the key and its line.
  const std::pair<const char*, const char*> bad[] = {
      {"host:abc", "not a number"},   {"host:", "has no port"},
      {"host:70000", "past 65535"},   {"host:-1", "not a number"},
      {"host:9464x", "not a number"}, {"host", "has no port"},
      {":9464", "has no host"},       {"::1:9464", "IPv6 address in brackets"},
      {"[]:9464", "has no host"},     {"host: 9464", "not a number"},
  };
  for (const auto& [listen, why] : bad) {
    auto r =
        config::ParseConfig(std::string("[metrics]\n\nlisten = \"") + listen + "\"\n", "m.toml");
    ASSERT_FALSE(r.ok()) << listen;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("m.toml:3: 'metrics.listen'"), std::string::npos) << m;
    EXPECT_NE(m.find(why), std::string::npos) << listen << ": " << m;
  }
  for (const char* good : {"127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0", "localhost:65535"}) {
    auto r = config::ParseConfig(std::string("[metrics]\nlisten = \"") + good + "\"\n", "m.toml");
    EXPECT_TRUE(r.ok()) << good << ": " << r.status().message();
  }
  auto v6 = config::ParseHostPort("[::1]:9464");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9464);
}

TEST(Config, SplitList) {
  EXPECT_EQ(config::SplitList(" a, b ,,c "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(config::SplitList("").empty());
}

TEST(Topics, GlobsIncludeAndExclude) {
  std::vector<kafka::TopicInfo> all = {{"orders", 3},
                                       {"payments.eu", 2},
                                       {"payments.us", 2},
                                       {"__consumer_offsets", 50},
                                       {"tmp.x", 1}};
  auto m = kafka::MatchTopics(all, {"*"}, {"__*", "tmp.*"});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].name, "orders");
  auto p = kafka::MatchTopics(all, {"payments.?s", "orders"}, {});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].name, "payments.us");
  EXPECT_TRUE(kafka::MatchTopics(all, {"nope*"}, {}).empty());
}

TEST(Time, ParsesRfc3339AndEpochMillis) {
  EXPECT_EQ(*ParseTime("2026-11-20T14:03:00Z"), 1795183380000);
  EXPECT_EQ(*ParseTime("2026-11-20T14:03:00.5Z"), 1795183380500);
  EXPECT_EQ(*ParseTime("2026-11-20T15:03:00.123+01:00"), 1795183380123);
  EXPECT_EQ(*ParseTime("1795183380000"), 1795183380000);
  EXPECT_EQ(FormatRfc3339(1795183380123), "2026-11-20T14:03:00.123Z");
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-20T14:03:00",
                          "2026-11-20T14:03:00Zjunk"}) {
    auto r = ParseTime(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(ExitCodeFor(r.status()), 2);
    }
  }
}

TEST(Time, RefusesDatesThatDoNotExistAndSaysWhy) {
  // Each refused input, and a part of the reason the message must give.
  const std::pair<const char*, const char*> cases[] = {
      {"2026-02-31T00:00:00Z", "2026-02-31 does not exist (28 days"},
      {"2025-02-29T12:00:00Z", "2025-02-29 does not exist"},
      {"2026-04-31T00:00:00Z", "2026-04-31 does not exist (30 days"},
      {"2026-00-10T00:00:00Z", "month 00"},
      {"2026-11-00T00:00:00Z", "does not exist"},
      {"2026-11-20T24:00:00Z", "hour 24"},
      {"2026-11-20T23:60:00Z", "minute 60"},
      {"2026-11-20T23:59:61Z", "second 61"},
      {"2026-11-20T14:03:00+1:00", "offset"},
      {"2026-11-20T14:03:00+01:60", "offset +01:60"},
      {"2026-11-20T14:03:00+24:00", "offset +24:00"},
      {"2026-11-20T14:03:00+0100", "offset"},
      {"2026-11-20T14:03:00+01:00x", "unexpected 'x'"},
      {"2026-11-20T14:03:00Z ", "unexpected ' '"},
      {"2026-11-20T14:03:00.Z", "decimal point"},
      {"2026-11-20T14:03:00", "no UTC offset"},
      {"2026-11-20X14:03:00Z", "'T'"},
      {"2026-1-20T14:03:00Z", "YYYY-MM-DD"},
      {"2026-11-20T14:3:00Z", "hh:mm:ss"},
      {"99999999999999999", "epoch milliseconds"},
  };
  for (const auto& [input, why] : cases) {
    auto r = ParseTime(input);
    ASSERT_FALSE(r.ok()) << input << " parsed as " << *r;
    EXPECT_EQ(ExitCodeFor(r.status()), 2) << input;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(why), std::string::npos) << input << ": " << m;
    EXPECT_NE(m.find("use RFC 3339"), std::string::npos) << m;
    EXPECT_NE(m.find("epoch milliseconds"), std::string::npos) << m;
  }
  // The documented forms stay accepted, leap days included.
  EXPECT_EQ(*ParseTime("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(*ParseTime("2026-11-20t14:03:00z"), 1795183380000);
  EXPECT_EQ(*ParseTime("2026-11-20 14:03:00Z"), 1795183380000);
  EXPECT_EQ(*ParseTime("2026-11-20T09:33:00.123456789-04:30"), 1795183380123);
  EXPECT_EQ(*ParseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59.5Z"), -500);
  EXPECT_EQ(*ParseTime("0"), 0);
}

TEST(Secrets, KeysThatNameASecretAreRedacted) {
  for (const char* k : {"sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret",
                        "ssl.keystore.key", "SASL.PASSWORD", "api_token", "ssl.keystore.location"})
    EXPECT_TRUE(config::IsSecretKey(k)) << k;
  for (const char* k : {"sasl.username", "bootstrap.servers", "session.timeout.ms", "acks"})
    EXPECT_FALSE(config::IsSecretKey(k)) << k;
  EXPECT_EQ(config::ShownValue("sasl.password", "hunter2"), "<redacted>");
  EXPECT_EQ(config::ShownValue("acks", "all"), "'all'");
  EXPECT_EQ(config::Scrub("bad \"hunter2\" and hunter2 again", "hunter2"),
            "bad \"<redacted>\" and <redacted> again");
  EXPECT_EQ(config::Scrub("a value", ""), "a value");
  EXPECT_EQ(config::RedactUrl("https://AKIA:s3cr3t@s3.example.com/x@y"),
            "https://<redacted>@s3.example.com/x@y");
  EXPECT_EQ(config::RedactUrl("https://s3.example.com:8443/a@b"),
            "https://s3.example.com:8443/a@b");
}

TEST(Secrets, ARefusedSecretPropertyDoesNotEchoItsValue) {
  // Debian's librdkafka is built without OIDC and refuses this property, repeating the value in
  // its message; any refusal must come back without it.
  config::Config c;
  c.kafka.bootstrap_servers = "127.0.0.1:1";
  c.backup.id = "x";
  c.kafka.properties = {{"sasl.oauthbearer.client.secret", "hunter2-s3cr3t"}};
  kafka::ErrorState errors;
  auto h = kafka::MakeBackupConsumer(c, &errors);
  if (!h.ok()) {
    const std::string& m = h.status().message();
    EXPECT_EQ(m.find("hunter2-s3cr3t"), std::string::npos) << m;
    EXPECT_NE(m.find("sasl.oauthbearer.client.secret"), std::string::npos) << m;
    EXPECT_NE(m.find("<redacted>"), std::string::npos) << m;
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Status s = kafka::SetProperties(conf, {{"session.timeout.ms", "soon"}});
  rd_kafka_conf_destroy(conf);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'soon'"), std::string::npos) << s.message();  // not a secret
}

TEST(Secrets, ATomlErrorOnASecretLineDoesNotQuoteTheValue) {
  auto r =
      config::ParseConfig("[kafka.properties]\n\"sasl.password\" = \"hun\\qter2\"\n", "f.toml");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("f.toml:2"), std::string::npos) << m;
  EXPECT_NE(m.find("sasl.password"), std::string::npos) << m;
  EXPECT_NE(m.find("not shown"), std::string::npos) << m;
  EXPECT_EQ(m.find("\\q"), std::string::npos) << m;
  EXPECT_EQ(m.find("hun"), std::string::npos) << m;
  // Elsewhere toml++'s own description stays.
  auto o = config::ParseConfig("[kafka]\ntimeout_ms = \"x\\q\"\n", "f.toml");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("escape"), std::string::npos) << o.status().message();
}

TEST(Secrets, AnEndpointHoldingCredentialsIsRefusedWithoutShowingThem) {
  auto r = config::ParseConfig(
      "[upload]\nbucket = \"b\"\nendpoint = \"https://AKIA:s3cr3t@s3.example.com\"\n", "f.toml");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("f.toml:3"), std::string::npos) << m;
  EXPECT_NE(m.find("https://<redacted>@s3.example.com"), std::string::npos) << m;
  EXPECT_EQ(m.find("s3cr3t"), std::string::npos) << m;
  auto bad = config::ParseConfig("[upload]\nendpoint = \"ftp://u:s3cr3t@h\"\n", "f.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("s3cr3t"), std::string::npos) << bad.status().message();
  ::setenv("AWS_ENDPOINT_URL", "http://AKIA:s3cr3t@127.0.0.1:1", 1);
  ::setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
  auto env = s3::ResolveSettings(config::UploadConfig{});
  ::unsetenv("AWS_ENDPOINT_URL");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("http://<redacted>@127.0.0.1:1"), std::string::npos)
      << env.status().message();
  EXPECT_EQ(env.status().message().find("s3cr3t"), std::string::npos) << env.status().message();
}

TEST(Cpus, CgroupCpuMaxIsReadAsCeilingOfQuotaOverPeriod) {
  EXPECT_EQ(shard::CpusFromCgroupCpuMax("max 100000\n"), 0);
  EXPECT_EQ(shard::CpusFromCgroupCpuMax("200000 100000\n"), 2);
  EXPECT_EQ(shard::CpusFromCgroupCpuMax("150000 100000"), 2);  // 1.5 CPUs: 2 shards
  EXPECT_EQ(shard::CpusFromCgroupCpuMax("50000 100000\n"), 1);
  EXPECT_EQ(shard::CpusFromCgroupCpuMax("6400000 100000\n"), 64);
  for (const char* bad : {"", "\n", "max", "100000", "abc 100000", "100000 0", "0 100000",
                          "-1 100000", "100000 100000 x", "99999999999999999999999 1"})
    EXPECT_EQ(shard::CpusFromCgroupCpuMax(bad), 0) << bad;
}

TEST(Cpus, TheAffinityMaskBoundsShardsAndTheirPinning) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  const std::vector<int> allowed = shard::AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  EXPECT_GE(shard::UsableCpus(), 1);
  EXPECT_LE(shard::UsableCpus(), static_cast<int>(allowed.size()));
  // This thread on one CPU only (the last one allowed): one shard, pinned there.
  const int only = allowed.back();
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(only, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const std::vector<int> now = shard::AllowedCpus();
  const int usable = shard::UsableCpus();
  const int pinned = shard::ShardOptionsFor(config::Config{}, "/tmp", 3).cpu;
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(now, std::vector<int>{only});
  EXPECT_EQ(usable, 1);
  EXPECT_EQ(pinned, only);
}

TEST(Histogram, QuantilesWithinABucket) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1000u);
  const uint64_t p50 = h.Quantile(0.5), p99 = h.Quantile(0.99);
  EXPECT_GE(p50, 500u);
  EXPECT_LE(p50, 500u * 9 / 8 + 1);
  EXPECT_GE(p99, 990u);
  EXPECT_LE(p99, 1000u);
  Histogram other;
  other.Record(1'000'000);
  h.Merge(other);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.Quantile(1.0), 1'000'000u);
  EXPECT_EQ(Histogram().Quantile(0.5), 0u);
}

TEST(DirLock, OneHolderAtATimeAndTheNextIsToldWho) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tidemark-lock-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto first = DirLock::Acquire(dir.string(), "backup nightly");
    ASSERT_TRUE(first.ok()) << first.status().message();
    auto second = DirLock::Acquire(dir.string(), "backup nightly");
    ASSERT_FALSE(second.ok());
    EXPECT_NE(
        second.status().message().find("pid " + std::to_string(::getpid()) + ", backup nightly"),
        std::string::npos)
        << second.status().message();
  }
  // Released with its holder (the kernel also drops it when a process dies).
  EXPECT_TRUE(DirLock::Acquire(dir.string(), "backup nightly").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tidemark
