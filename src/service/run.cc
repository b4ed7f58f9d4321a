#include "service/run.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backup/manifest.h"
#include "backup/prune.h"
#include "backup/retention.h"
#include "common/dir_lock.h"
#include "common/histogram.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "io/io_backend.h"
#include "kafka/kafka.h"
#include "service/http.h"
#include "service/keepalive.h"
#include "service/metrics.h"
#include "service/service.h"
#include "service/store.h"
#include "service/tier.h"
#include "shard/shard.h"

namespace tidemark::service {

namespace fs = std::filesystem;

namespace {

// A shard's update of a partition: what changed since its last one (the segments sealed, the gaps
// recorded, the new end and totals), appended to the entry in O(what changed). What the uploader
// (upload marks) and retention (trims) did to the entry is never overwritten, since nothing of
// the entry is replaced. An update that does not continue the entry (a bug) changes nothing: the
// entry, and the offsets committed from it, stay where they were, and the next start's store
// recovery adopts the segments on disk past its end.
const backup::PartitionManifest& ApplyEntry(backup::Manifest* m, const std::string& topic,
                                            const shard::PartitionDelta& d) {
  auto& entry = backup::FindOrAddPartition(m, topic, d.partition);
  if (Status s = shard::ApplyDelta(d, &entry); !s.ok())
    TM_LOG_ERROR("%s: %s (its segments are adopted at the next start)", topic.c_str(),
                 s.message().c_str());
  return entry;
}

}  // namespace

// --- start ----------------------------------------------------------------------------------

Status Service::Prepare() {
  TM_RETURN_IF_ERROR(config::ValidateForBackup(c_));
  dir_ = c_.storage.path + "/" + c_.backup.id;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return Status::Errno(ec.value(), "cannot create backup directory " + dir_ +
                                         " (check [storage] path and its permissions)");
  }
  TM_ASSIGN_OR_RETURN(lock_, DirLock::Acquire(dir_, "tidemark run " + c_.backup.id));
  // The catalog (format 2), or a version 1 manifest.json to convert into one, or nothing yet.
  const bool has_catalog = backup::HasCatalog(dir_);
  const std::string v1 = dir_ + "/" + backup::kManifestName;
  windowed_ = !c_.upload.enabled();
  backup::ReadScope scope;
  if (windowed_) scope.settle = Settled;
  if (has_catalog || fs::exists(v1, ec)) {
    TM_ASSIGN_OR_RETURN(
        auto prior, has_catalog ? backup::ReadCatalog(dir_, scope) : backup::ReadManifest(dir_));
    if (prior.kind != "continuous") {
      return Status::Config("backup '" + c_.backup.id + "' in " + c_.storage.path + " is a " +
                            prior.kind +
                            " backup; a continuous backup needs an id of its own ([backup] id)");
    }
    m_ = std::move(prior);
    if (windowed_ && has_catalog) SettleAll();  // held after a read that had to read whole
  } else {
    m_.id = c_.backup.id;
    m_.kind = "continuous";
    m_.started_ms = WallClockMs();
    m_.groups_note = "a continuous backup does not capture consumer groups";
  }
  if (has_catalog) {
    TM_ASSIGN_OR_RETURN(catalog_, backup::CatalogWriter::Open(dir_, m_));
  } else {
    TM_ASSIGN_OR_RETURN(catalog_, backup::CatalogWriter::Create(dir_, m_));
    if (fs::exists(v1, ec)) TM_LOG_INFO("%s: converted to a catalog (format 2)", v1.c_str());
    if (windowed_) SettleAll();  // a catalog written whole
  }
  // A version 1 manifest beside the catalog (converted, or a conversion cut short after the
  // catalog was written) is stale: the catalog is what readers read.
  if (fs::exists(v1, ec)) {
    if (!fs::remove(v1, ec) && ec) return Status::Errno(ec.value(), "remove " + v1);
    TM_RETURN_IF_ERROR(io::SyncDirectory(dir_));
  }
  if (c_.upload.enabled()) {
    TM_ASSIGN_OR_RETURN(tier_, Tier::Make(c_, dir_));
  }
  return Status::Ok();
}

int Service::Run() {
  if (Status s = Prepare(); !s.ok()) {
    TM_LOG_ERROR("%s", s.message().c_str());
    return 2;
  }
  std::unique_ptr<MetricsServer> http;
  if (!c_.metrics.listen.empty()) {
    http = std::make_unique<MetricsServer>([this] { return RenderMetrics(); },
                                           [this] { return CurrentHealth(); });
    if (Status s = http->Start(c_.metrics.listen); !s.ok()) {
      TM_LOG_ERROR("%s", s.message().c_str());
      return 2;
    }
    TM_LOG_INFO("metrics on http://%s/metrics (port %d)", c_.metrics.listen.c_str(), http->port());
  }
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0) watchdog_usec_ = 0;
  int64_t backoff = kBackoffMinMs;
  while (!Stopping()) {
    const int64_t started = NowMs();
    Status s = Session();
    if (s.ok() || Stopping()) break;
    if (s.Is(Errc::kConfig)) {  // a configuration that cannot work: trying again will not help
      TM_LOG_ERROR("%s", s.message().c_str());
      return 2;
    }
    // A failed session: report, wait, start again (recovering the store first).
    {
      std::lock_guard<std::mutex> g(stats_mu_);
      ++stats_.failures;
      stats_.last_failure = s.message();
      stats_.running = false;
      stats_.partitions.clear();
      stats_.partitions_owned = 0;
      stats_.degraded = {"not backing up: " + s.message()};
    }
    if (NowMs() - started > kBackoffMaxMs) backoff = kBackoffMinMs;  // it ran for a while
    TM_LOG_ERROR("backup %s: %s; starting again in %" PRId64 " s", c_.backup.id.c_str(),
                 s.message().c_str(), backoff / 1000);
    sd_notifyf(0, "STATUS=failing: %s (next try in %" PRId64 " s)", s.message().c_str(),
               backoff / 1000);
    for (int64_t until = NowMs() + backoff; NowMs() < until && !Stopping();) {
      if (sig_.reload->exchange(false)) Reload();
      if (watchdog_usec_ != 0) sd_notify(0, "WATCHDOG=1");  // alive, and saying why it waits
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff = std::min(backoff * 2, kBackoffMaxMs);
  }
  if (tier_) {
    // Uploads still waiting are dropped (the next start uploads them); what finished is kept.
    tier_->Stop();
    if (tier_->Turn(&m_, NowMs(), /*submit=*/false)) dirty_ = true;
    for (auto& path : tier_->TakeMarks()) marked_.push_back(std::move(path));
    if (Status s = Checkpoint(true); s.ok()) {
      for (const auto& rel : tier_->TakeRemovals()) {
        std::error_code ec;  // a copy that stays is uploaded already: worth a warning, no more
        if (!fs::remove(dir_ + "/" + rel, ec) && ec)
          TM_LOG_WARN("upload: remove %s/%s: %s", dir_.c_str(), rel.c_str(), ec.message().c_str());
      }
    }
  }
  sd_notify(0, "STOPPING=1");
  TM_LOG_INFO("backup %s: stopped; catalog %s/%s", c_.backup.id.c_str(), dir_.c_str(),
              backup::kCatalogDir);
  return 0;
}

// --- one session ----------------------------------------------------------------------------

Status Service::Session() {
  // 1. The store first: whatever stopped the last run, what is on disk is made whole.
  StoreRecovery rec;
  {
    // Reading back a large store can outlast TimeoutStartSec (before the first READY) or the
    // watchdog (a session started again after a failure): systemd hears that it goes on.
    Keepalive alive("recovering the store in " + dir_, watchdog_usec_);
    // A copy: if recovery fails (a full disk), the next try starts from the same manifest.
    TM_ASSIGN_OR_RETURN(m_, RecoverStore(dir_, m_, &rec, [&alive](uint64_t done, uint64_t total) {
                          alive.Progress(done, total);
                        }));
  }
  for (const auto& l : rec.recovered) TM_LOG_INFO("recovered %s", l.c_str());
  for (const auto& l : rec.adopted) TM_LOG_INFO("adopted sealed segment %s", l.c_str());
  for (const auto& l : rec.problems) TM_LOG_WARN("store: %s", l.c_str());
  m_.compression = format::CodecName(c_.backup.compression);
  m_.level = c_.backup.level;
  m_.brokers = c_.kafka.bootstrap_servers;
  ChangedAll();  // recovery may have added to any partition
  TM_RETURN_IF_ERROR(Checkpoint(true));

  // 2. The consumer. Offsets are always given explicitly (from the store); auto.offset.reset
  // only matters if retention deletes records while a fetch is in flight.
  const bool group = !c_.backup.group.empty();
  std::vector<std::pair<std::string, std::string>> overrides = {
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "earliest"},
  };
  if (group) {
    overrides.push_back({"group.id", c_.backup.group});
    overrides.push_back({"partition.assignment.strategy", "cooperative-sticky"});
  }
  errors_.user = this;
  // librdkafka fixes the prefetch bound when the consumer is made: the budget is divided over
  // the shards' queues, into which the partitions are forwarded whenever they come.
  const int n = c_.backup.shards > 0 ? c_.backup.shards : shard::UsableCpus();
  TM_ASSIGN_OR_RETURN(rk_, kafka::MakeBackupConsumer(
                               c_, &errors_, overrides,
                               [](rd_kafka_conf_t* conf) {
                                 rd_kafka_conf_set_rebalance_cb(conf, &Service::OnRebalance);
                               },
                               static_cast<size_t>(n)));

  // Client-level errors (a broker down) and logs come through the consumer poll below.
  rd_kafka_poll_set_consumer(rk_.get());

  // 3. The shards, empty: partitions come with the assignment.
  shard_stop_.store(false);
  owned_.clear();
  subscribed_.clear();
  to_commit_.clear();
  callback_error_ = Status::Ok();
  for (int i = 0; i < n; ++i) {
    shard::ShardOptions so = shard::ShardOptionsFor(c_, dir_, i);
    so.continuous = true;
    shards_.push_back(std::make_unique<shard::Shard>(
        so, rk_.get(), std::vector<shard::PartitionTask>{}, &shard_stop_));
    if (Status s = shards_.back()->Init(); !s.ok()) {
      shards_.clear();
      rk_ = kafka::KafkaHandle();
      return s;
    }
    shards_.back()->SetIntervals(c_.backup.flush_interval_ms, c_.backup.segment_max_interval_ms);
    shards_.back()->Start();
  }
  TM_LOG_INFO("backup %s: continuous into %s, %d shards, %s, I/O %s%s", c_.backup.id.c_str(),
              dir_.c_str(), n, m_.compression.c_str(), shards_.front()->io_description().c_str(),
              group ? (", consumer group " + c_.backup.group).c_str() : "");
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    stats_.running = true;
    stats_.pool_size = static_cast<uint64_t>(n) * c_.backup.io_depth;
  }
  sd_notify(0, "READY=1");

  // 4. Until stopped or failed.
  Status failure;
  next_discovery_ms_ = 0;
  while (!Stopping() && failure.ok()) {
    if (sig_.reload->exchange(false)) Reload();
    if (NowMs() >= next_discovery_ms_) {
      if (Status s = Discover(); !s.ok()) {
        TM_LOG_WARN("%s; trying again in %" PRId64 " ms", s.message().c_str(),
                    c_.backup.topic_refresh_interval_ms);
      }
      next_discovery_ms_ = NowMs() + c_.backup.topic_refresh_interval_ms;
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_.get(), kPollMs);
    if (msg != nullptr) {
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        TM_LOG_WARN("kafka: %s", rd_kafka_message_errstr(msg));
        errors_.Set(rd_kafka_message_errstr(msg));
      }
      rd_kafka_message_destroy(msg);
    }
    if (!callback_error_.ok()) failure = callback_error_;
    for (auto& sh : shards_) {
      if (sh->progress().finished.load(std::memory_order_acquire) && !sh->status().ok() &&
          failure.ok())
        failure = sh->status();
    }
    ApplyUpdates();
    if (Status s = Checkpoint(false); !s.ok() && failure.ok()) failure = s;
    if (Status s = RetentionTurn(); !s.ok() && failure.ok()) failure = s;
    TierTurn();
    if (NowMs() >= next_stats_ms_) {
      RefreshStats();
      next_stats_ms_ = NowMs() + kStatsIntervalMs;
    }
  }
  if (Stopping()) {
    sd_notify(0, "STOPPING=1");
    TM_LOG_INFO("backup %s: stopping: sealing open segments", c_.backup.id.c_str());
  }
  EndSession();
  return failure;
}

// Seals everything and lets go of the consumer. With a group, closing the consumer revokes the
// partitions through the callback, which seals them and commits the sealed ends.
void Service::EndSession() {
  if (rk_) {
    if (!c_.backup.group.empty()) {
      rd_kafka_consumer_close(rk_.get());
    }
  }
  shard_stop_.store(true);
  for (auto& sh : shards_) sh->Join();
  ApplyUpdates();
  if (Status s = Checkpoint(true); !s.ok()) TM_LOG_ERROR("%s", s.message().c_str());
  if (rk_ && c_.backup.group.empty()) rd_kafka_consumer_close(rk_.get());
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    for (auto& sh : shards_) {
      for (const auto& [t, v] : sh->TopicTotals()) {
        retired_in_[t].records += v.records;
        retired_in_[t].bytes += v.bytes;
      }
    }
    stats_.running = false;
  }
  shards_.clear();
  rk_ = kafka::KafkaHandle();
  owned_.clear();
}

// Which topics match now; new ones are subscribed to (group) or assigned (no group).
Status Service::Discover() {
  const int timeout = static_cast<int>(std::min<int64_t>(c_.kafka.timeout_ms, 10000));
  TM_ASSIGN_OR_RETURN(auto all, kafka::ListTopics(rk_.get(), timeout, errors_));
  auto topics = kafka::MatchTopics(all, c_.backup.topics, c_.backup.exclude);
  if (topics.empty()) {
    TM_LOG_WARN("no topic matches [%s] (excluding [%s]) yet; looking again in %" PRId64 " ms",
                JoinList(c_.backup.topics).c_str(), JoinList(c_.backup.exclude).c_str(),
                c_.backup.topic_refresh_interval_ms);
  }
  for (const auto& t : topics) {
    partition_counts_[t.name] = t.partition_count;
    // Never lowered (a topic deleted and made again with fewer partitions): every partition the
    // manifest lists stays below its count.
    if (m_.topics[t.name].partition_count < t.partition_count) {
      m_.topics[t.name].partition_count = t.partition_count;
      dirty_ = true;
    }
  }
  if (!c_.backup.group.empty()) {
    std::set<std::string> names;
    for (const auto& t : topics) names.insert(t.name);
    if (names == subscribed_ || names.empty()) return Status::Ok();
    rd_kafka_topic_partition_list_t* l =
        rd_kafka_topic_partition_list_new(static_cast<int>(names.size()));
    for (const auto& t : names) {
      rd_kafka_topic_partition_list_add(l, t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Status::Kafka(std::string("subscribe: ") + rd_kafka_err2str(err));
    for (const auto& t : names) {
      if (!subscribed_.count(t)) TM_LOG_INFO("topic %s: now backed up", t.c_str());
    }
    subscribed_ = std::move(names);
    return Status::Ok();
  }
  // Partitions of topics no longer wanted (a reload changed the patterns): sealed and let go.
  std::set<std::string> wanted;
  for (const auto& t : topics) wanted.insert(t.name);
  rd_kafka_topic_partition_list_t* gone = rd_kafka_topic_partition_list_new(0);
  for (const auto& [tp, s] : owned_) {
    if (!wanted.count(tp.first))
      rd_kafka_topic_partition_list_add(gone, tp.first.c_str(), tp.second);
  }
  if (gone->cnt > 0) {
    TM_LOG_INFO("%d partitions no longer match the topic patterns; sealing and releasing them",
                gone->cnt);
    Status rs = Release(gone, false);
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_.get(), gone);
    if (e != nullptr) rd_kafka_error_destroy(e);
    if (!rs.ok()) {
      rd_kafka_topic_partition_list_destroy(gone);
      return rs;
    }
  }
  rd_kafka_topic_partition_list_destroy(gone);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(0);
  for (const auto& t : topics) {
    for (int32_t p = 0; p < t.partition_count; ++p) {
      if (!owned_.count({t.name, p})) rd_kafka_topic_partition_list_add(l, t.name.c_str(), p);
    }
  }
  Status st;
  if (l->cnt > 0) {
    st = Assign(l, false);
    if (st.ok()) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_.get(), l);
      if (e != nullptr) {
        st = Status::Kafka(std::string("assign: ") + rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(l);
  return st;
}

// Hands new partitions to their shards and sets where each starts: the end of what is sealed
// here, moved past records retention deleted since ("log-start" gap) and, in a group, past what
// another member backed up and committed ("group-peer" gap).
Status Service::Assign(rd_kafka_topic_partition_list_t* parts, bool from_group) {
  const int timeout = static_cast<int>(std::min<int64_t>(c_.kafka.timeout_ms, 10000));
  std::vector<TopicPartition> tps;
  for (int i = 0; i < parts->cnt; ++i)
    tps.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
  TM_ASSIGN_OR_RETURN(auto marks, kafka::QueryWatermarksAll(rk_.get(), tps, timeout));
  std::vector<int64_t> committed(tps.size(), -1);
  if (from_group) {
    rd_kafka_topic_partition_list_t* c = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), c, timeout);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(c);
      return Status::Kafka(std::string("cannot read the group's committed offsets: ") +
                           rd_kafka_err2str(err));
    }
    for (int i = 0; i < c->cnt; ++i) committed[static_cast<size_t>(i)] = c->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(c);
  }
  for (size_t i = 0; i < tps.size(); ++i) {
    const auto& [topic, p] = tps[i];
    backup::PartitionManifest& e = backup::FindOrAddPartition(&m_, topic, p);
    const bool fresh = e.segments.empty() && e.end_offset == 0;
    auto add_gap = [&e](int64_t to, const char* reason) {
      backup::AddGap(&e, e.end_offset, to, reason);
      e.end_offset = to;
    };
    if (marks[i].low > e.end_offset) {
      if (!fresh) {
        TM_LOG_WARN("%s/%d: offsets %" PRId64 "..%" PRId64
                    " were deleted by retention before they were backed up (recorded as a "
                    "log-start gap)",
                    topic.c_str(), p, e.end_offset, marks[i].low - 1);
      }
      add_gap(marks[i].low, backup::kGapLogStart);
    }
    if (committed[i] > e.end_offset) add_gap(committed[i], backup::kGapGroupPeer);
    changed_.insert({topic, p});
    dirty_ = true;
    shard::PartitionTask t;
    t.topic = topic;
    t.partition = p;
    t.log_start = e.end_offset;
    t.end_offset = shard::kNoEnd;
    t.prior = e;
    const int s = shard::ShardOf(topic, p, static_cast<int>(shards_.size()));
    TM_RETURN_IF_ERROR(shards_[static_cast<size_t>(s)]->Forward(topic, p));
    shards_[static_cast<size_t>(s)]->AddPartition(std::move(t));
    owned_[{topic, p}] = s;
    parts->elems[i].offset = e.end_offset;
    TM_LOG_INFO("%s/%d: backing up from offset %" PRId64 " (shard %d)", topic.c_str(), p,
                e.end_offset, s);
  }
  return Status::Ok();
}

// Seals the partitions' open segments, writes the manifest and, when `commit`, commits the sealed
// ends, all before the partitions are let go.
Status Service::Release(rd_kafka_topic_partition_list_t* parts, bool commit) {
  std::set<TopicPartition> pending;
  for (int i = 0; i < parts->cnt; ++i) {
    TopicPartition tp{parts->elems[i].topic, parts->elems[i].partition};
    auto it = owned_.find(tp);
    if (it == owned_.end()) continue;
    shards_[static_cast<size_t>(it->second)]->RemovePartition(tp.first, tp.second);
    pending.insert(tp);
  }
  while (!pending.empty()) {
    for (auto& sh : shards_) {
      for (const auto& u : sh->TakeUpdates()) {
        TopicPartition tp{u.topic, u.delta.partition};
        if (u.released) pending.erase(tp);
        to_commit_[tp] = ApplyEntry(&m_, u.topic, u.delta).end_offset;
        changed_.insert(tp);
        dirty_ = true;
      }
    }
    bool dead = std::any_of(shards_.begin(), shards_.end(), [](const auto& sh) {
      return sh->progress().finished.load(std::memory_order_acquire);
    });
    if (dead) break;  // a failed shard releases nothing more; its partitions stay unsealed
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (int i = 0; i < parts->cnt; ++i)
    owned_.erase({parts->elems[i].topic, parts->elems[i].partition});
  if (!commit) {
    for (int i = 0; i < parts->cnt; ++i)
      to_commit_.erase({parts->elems[i].topic, parts->elems[i].partition});
  }
  TM_RETURN_IF_ERROR(Checkpoint(true));
  Commit(true);
  if (!pending.empty())
    return Status::Incomplete("partitions released without a final seal (a shard failed)");
  return Status::Ok();
}

void Service::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<Service*>(static_cast<kafka::ErrorState*>(opaque)->user);
  const bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    Status s = self->Assign(parts, true);
    if (!s.ok() && self->callback_error_.ok()) self->callback_error_ = s;
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts);
      if (e != nullptr) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
    return;
  }
  // Revoked (or lost: then another member may already own them, and nothing is committed).
  const bool lost = rd_kafka_assignment_lost(rk) != 0;
  TM_LOG_INFO("rebalance: %d partitions %s", parts->cnt, lost ? "lost" : "revoked");
  Status s = self->Release(parts, !lost);
  if (!s.ok() && self->callback_error_.ok()) self->callback_error_ = s;
  if (cooperative) {
    rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
    if (e != nullptr) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// Manifest entries changed by seals (or released) since the last turn.
bool Service::ApplyUpdates() {
  bool any = false;
  for (auto& sh : shards_) {
    for (const auto& u : sh->TakeUpdates()) {
      TopicPartition tp{u.topic, u.delta.partition};
      const int64_t end = ApplyEntry(&m_, u.topic, u.delta).end_offset;
      if (owned_.count(tp) || u.released) to_commit_[tp] = end;
      changed_.insert(tp);
      dirty_ = true;
      any = true;
    }
  }
  return any;
}

// Uploads: confirmed segments marked in the manifest, local copies removed once a durable
// manifest says so, and consumption paused while the backlog is full (back-pressure).
void Service::TierTurn() {
  if (!tier_) return;
  if (tier_->Turn(&m_, NowMs())) dirty_ = true;
  for (auto& path : tier_->TakeMarks()) marked_.push_back(std::move(path));
  if (!dirty_) {
    for (const auto& rel : tier_->TakeRemovals()) {
      std::error_code ec;
      fs::remove(dir_ + "/" + rel, ec);
      if (ec)
        TM_LOG_WARN("upload: remove %s/%s: %s", dir_.c_str(), rel.c_str(), ec.message().c_str());
    }
  }
  const bool pause = tier_->full() || (paused_ && !tier_->below_resume());
  if (pause == paused_ && !pause) return;
  if (rk_ && !owned_.empty()) {
    rd_kafka_topic_partition_list_t* l =
        rd_kafka_topic_partition_list_new(static_cast<int>(owned_.size()));
    for (const auto& [tp, sh] : owned_)
      rd_kafka_topic_partition_list_add(l, tp.first.c_str(), tp.second);
    if (pause)
      rd_kafka_pause_partitions(rk_.get(), l);  // again each turn: partitions assigned meanwhile
    else
      rd_kafka_resume_partitions(rk_.get(), l);
    rd_kafka_topic_partition_list_destroy(l);
  }
  if (pause != paused_) {
    const UploadStats ts = tier_->stats();
    if (pause) {
      TM_LOG_WARN("upload: %" PRIu64
                  " sealed segments wait for the store (queue_max_segments); consumption paused "
                  "until the backlog drains%s",
                  ts.backlog,
                  ts.last_error.empty() ? "" : ("; last error: " + ts.last_error).c_str());
    } else {
      TM_LOG_INFO("upload: backlog down to %" PRIu64 " segments; consuming again", ts.backlog);
    }
  }
  paused_ = pause;
}

// [retention], about once a minute: the catalog first stops naming what goes (durably), then the
// local files go. Skipped while a restore or verify reads this backup (its retention lock).
Status Service::RetentionTurn() {
  if (!c_.retention.enabled() || NowMs() < next_retention_ms_) return Status::Ok();
  next_retention_ms_ = NowMs() + c_.retention.interval_ms;
  TM_RETURN_IF_ERROR(Checkpoint(true));  // the trims must be the only change in their lines
  auto lock = DirLock::ForPruning(dir_);
  if (!lock.ok()) {
    TM_LOG_INFO("retention: %s", lock.status().message().c_str());
    return Status::Ok();
  }
  const backup::RetentionPolicy policy{c_.retention.max_age_ms, c_.retention.max_bytes,
                                       c_.retention.keep_last};
  std::vector<backup::Trim> trims;
  if (windowed_) {
    TM_ASSIGN_OR_RETURN(trims, backup::PlanWindowedTrims(&m_, *catalog_, policy, WallClockMs()));
  } else {
    trims = backup::PlanTrims(m_, policy, WallClockMs());
  }
  if (trims.empty()) return Status::Ok();
  TM_ASSIGN_OR_RETURN(auto dropped, backup::TrimContinuous(dir_, &m_, catalog_.get(), trims));
  if (tier_) tier_->Trimmed(trims);  // the store stops naming them, then their objects go
  // Topic logs mostly of pruned lines are rewritten (under the retention lock); the fronts of
  // their partitions are read from the new logs' start from now on.
  TM_ASSIGN_OR_RETURN(const auto compacted, catalog_->CompactLogs(m_));
  for (const auto& topic : compacted) {
    for (auto& p : m_.topics[topic].partitions) p.settled.pos = 0;
    TM_LOG_INFO("catalog: the log of %s rewritten without its pruned segments", topic.c_str());
  }
  uint64_t bytes = 0;
  for (const auto& s : dropped) bytes += s.bytes_stored;
  TM_LOG_INFO("retention: %zu segments (%" PRIu64 " bytes) of %zu partitions pruned",
              dropped.size(), bytes, trims.size());
  std::lock_guard<std::mutex> g(stats_mu_);
  stats_.pruned_segments += dropped.size();
  stats_.pruned_bytes += bytes;
  stats_.catalog_compactions = catalog_->stats().compactions;
  return Status::Ok();
}

// Without [upload], a segment's state is final once a checkpoint wrote it (retention reads it
// back from the catalog when it trims).
bool Service::Settled(const segment::SealedSegment&) { return true; }

// Everything held settles, named from the topics' first lines on (retention's first read of a
// front then starts there and records where the front is).
void Service::SettleAll() {
  for (auto& [topic, t] : m_.topics)
    for (auto& p : t.partitions) backup::SettleSegments(&p, Settled, 0);
}

void Service::ChangedAll() {
  for (const auto& [topic, t] : m_.topics)
    for (const auto& p : t.partitions) changed_.insert({topic, p.partition});
  dirty_ = true;
}

// Appends what changed to the catalog (at most every checkpoint_interval_ms unless forced),
// then commits the group's offsets: never ahead of what the catalog names.
Status Service::Checkpoint(bool force) {
  const int64_t now = NowMs();
  if (!dirty_) return Status::Ok();
  if (!force && now - last_checkpoint_ms_ < c_.backup.checkpoint_interval_ms) return Status::Ok();
  m_.finished_ms = WallClockMs();  // for a continuous backup: as of when the catalog holds
  // Where this checkpoint's lines of each topic go, and how many segments of each partition the
  // catalog named before it: a partition whose first held segment is among those this checkpoint
  // writes settles from that position; one whose first held segment an earlier checkpoint wrote
  // (a whole read, a fold that failed after its append) from the topic's first line.
  std::map<std::string, uint64_t> line_pos;
  std::map<TopicPartition, size_t> named;
  if (windowed_) {
    for (const auto& tp : changed_) {
      line_pos.emplace(tp.first, catalog_->TopicEnd(tp.first));
      named[tp] = catalog_->SegmentsNamed(tp);
    }
  }
  const int64_t t0 = MonotonicNs();
  TM_RETURN_IF_ERROR(catalog_->Checkpoint(m_, changed_, marked_)
                         .WithContext("cannot write the catalog (the segments stay on disk and "
                                      "are adopted at the next start)"));
  const auto took_us = static_cast<uint64_t>((MonotonicNs() - t0) / 1000);
  if (windowed_) {
    for (const auto& tp : changed_) {
      backup::PartitionManifest& p = backup::FindOrAddPartition(&m_, tp.first, tp.second);
      const bool written_now = p.settled.segments >= named[tp];
      backup::SettleSegments(&p, Settled, written_now ? line_pos[tp.first] : 0);
    }
  }
  changed_.clear();
  marked_.clear();
  dirty_ = false;
  last_checkpoint_ms_ = now;
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    ++stats_.checkpoints;
    stats_.catalog_folds = catalog_->stats().folds;
    stats_.checkpoint_us.Record(took_us);
  }
  if (!force) Commit(false);
  return Status::Ok();
}

void Service::Commit(bool sync) {
  if (c_.backup.group.empty() || !rk_ || to_commit_.empty()) {
    to_commit_.clear();
    return;
  }
  rd_kafka_topic_partition_list_t* l =
      rd_kafka_topic_partition_list_new(static_cast<int>(to_commit_.size()));
  for (const auto& [tp, off] : to_commit_) {
    if (off > 0) rd_kafka_topic_partition_list_add(l, tp.first.c_str(), tp.second)->offset = off;
  }
  if (l->cnt > 0) {
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), l, sync ? 0 : 1);
    if (sync && err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      TM_LOG_WARN(
          "commit of sealed offsets to group %s: %s (the next owner resumes from an "
          "earlier commit; its overlap with this node's segments is reported at restore)",
          c_.backup.group.c_str(), rd_kafka_err2str(err));
    }
  }
  rd_kafka_topic_partition_list_destroy(l);
  to_commit_.clear();
}

int RunService(const std::string& config_path, config::Config c, RunSignals signals) {
  Service s(config_path, std::move(c), signals);
  return s.Run();
}

}  // namespace tidemark::service
