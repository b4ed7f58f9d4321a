#include "restore/restore.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "backup/manifest.h"
#include "common/dir_lock.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/time.h"
#include "kafka/admin.h"
#include "kafka/kafka.h"
#include "restore/lanes.h"
#include "restore/progress.h"
#include "restore/sender.h"
#include "restore/state.h"
#include "shard/shard.h"
#include "verify/verify.h"

namespace tidemark::restore {

namespace fs = std::filesystem;

namespace {

// Watermark queries in flight at once (one round trip to a partition's leader each).
constexpr int kWatermarkParallelism = 32;

std::string Name(const std::string& topic, int32_t partition) {
  return topic + "/" + std::to_string(partition);
}

// One restore, phase by phase. Every phase before Produce() fails without producing anything.
class Restorer {
 public:
  Restorer(const RestoreOptions& o, const std::atomic<bool>* stop) : o_(o), stop_(stop) {}
  ~Restorer() {
    for (auto& t : targets_) {
      if (t.rkt != nullptr) rd_kafka_topic_destroy(t.rkt);
    }
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }
  Restorer(const Restorer&) = delete;
  Restorer& operator=(const Restorer&) = delete;

  Result<RestoreReport> Run() {
    const int64_t t0 = MonotonicNs();
    TM_RETURN_IF_ERROR(Select());
    TM_RETURN_IF_ERROR(Connect());
    TM_RETURN_IF_ERROR(PrepareTopics());
    BuildLanes();
    TM_RETURN_IF_ERROR(LoadState());
    TM_RETURN_IF_ERROR(CheckGroupsIdle());
    TM_RETURN_IF_ERROR(ProduceAll());
    TM_RETURN_IF_ERROR(CheckEnds());
    if (!o_.dry_run) {
      TM_RETURN_IF_ERROR(WriteOffsetMap(report_.state_dir, o_.id, description_, report_));
    }
    TM_RETURN_IF_ERROR(MoveGroups());
    if (!o_.dry_run && !report_.damaged()) {
      state_.complete = true;
      TM_RETURN_IF_ERROR(WriteState(report_.state_dir, description_, state_));
    }
    report_.seconds = static_cast<double>(MonotonicNs() - t0) / 1e9;
    return std::move(report_);
  }

 private:
  // The arguments against the backup: usage errors, before any broker is asked anything.
  Status Select() {
    if (o_.path.empty()) return Status::Config("no backup path: give --path");
    if (o_.id.empty()) return Status::Config("no backup id: give --id (tidemark ls lists them)");
    if (o_.brokers.empty()) return Status::Config("no target brokers: give --brokers");
    if (o_.from_ms >= o_.to_ms) {
      return Status::Config("--from (" + FormatRfc3339(o_.from_ms) + ") must be before --to (" +
                            FormatRfc3339(o_.to_ms) + "): the window is [from, to)");
    }
    TM_ASSIGN_OR_RETURN(src_, source::Open(o_.path, o_.upload));
    // Before the index is read: retention waits while this restore reads the segments.
    if (!src_->remote()) {
      TM_ASSIGN_OR_RETURN(retention_lock_, DirLock::ForReading(src_->Where(o_.id)));
    }
    // Only the topics asked for: a catalog then reads only their logs.
    backup::ReadScope scope;
    if (!o_.topics.empty())
      scope.wants = [this](const std::string& t) { return kafka::MatchesAny(o_.topics, t); };
    TM_ASSIGN_OR_RETURN(m_, verify::LoadBackup(*src_, o_.id, scope));
    report_.backup_dir = src_->Where(o_.id);
    report_.dry_run = o_.dry_run;
    report_.target = o_.brokers;

    for (const auto& [name, t] : m_.topics) {
      if (o_.topics.empty() || kafka::MatchesAny(o_.topics, name)) selected_.push_back(name);
    }
    std::vector<std::string> all_topics;  // for the messages: every topic of the backup
    TM_ASSIGN_OR_RETURN(backup::Manifest names,
                        verify::LoadBackup(*src_, o_.id, {nullptr, /*summaries_only=*/true}));
    for (const auto& [name, t] : names.topics) all_topics.push_back(name);
    if (selected_.empty()) {
      return Status::Config("no backed-up topic matches --topics [" + JoinList(o_.topics) +
                            "]; backup " + o_.id + " holds: " + JoinList(all_topics));
    }
    for (const auto& [src, dst] : o_.topic_map) {
      if (!names.topics.count(src)) {
        return Status::Config("--topic-map names " + src + ", which is not in backup " + o_.id +
                              " (it holds: " + JoinList(all_topics) + ")");
      }
      if (std::find(selected_.begin(), selected_.end(), src) == selected_.end())
        return Status::Config("--topic-map names " + src + ", which --topics leaves out");
    }
    std::map<std::string, std::string> source_of;
    for (const auto& src : selected_) {
      auto it = o_.topic_map.find(src);
      const std::string dst = it == o_.topic_map.end() ? src : it->second;
      if (source_of.count(dst)) {
        return Status::Config("topics " + source_of[dst] + " and " + src + " would both go to " +
                              dst +
                              "; the order inside a partition would then depend on timing, "
                              "so give each its own target with --topic-map");
      }
      source_of[dst] = src;
      target_of_[src] = dst;
    }
    for (const auto* bound : {&o_.from_offset, &o_.to_offset}) {
      for (const auto& [tp, v] : bound->per_partition) {
        const auto it = names.topics.find(tp.first);
        const bool known = it != names.topics.end() &&
                           std::any_of(it->second.partitions.begin(), it->second.partitions.end(),
                                       [&](const backup::PartitionManifest& p) {
                                         return p.partition == tp.second;
                                       });
        if (!known) {
          return Status::Config("offset bound " + tp.first + ":" + std::to_string(tp.second) +
                                " names a partition that is not in backup " + o_.id);
        }
      }
    }
    return SelectGroups();
  }

  // The captured consumer groups matching --groups.
  Status SelectGroups() {
    std::vector<std::string> captured;
    for (const auto& [g, offsets] : m_.groups) {
      captured.push_back(g);
      if (!o_.groups.empty() && kafka::MatchesAny(o_.groups, g)) group_names_.push_back(g);
    }
    if (!o_.groups.empty() && group_names_.empty()) {
      return Status::Config(
          "no consumer group in backup " + o_.id + " matches --groups [" + JoinList(o_.groups) +
          "]; " + (captured.empty() ? "it captured none" : "it holds: " + JoinList(captured)) +
          (m_.groups_note.empty() ? "" : " (" + m_.groups_note + ")"));
    }
    if (o_.repartition != Repartition::kNone) {
      for (const auto& g : group_names_) {
        for (const auto& [topic, parts] : m_.groups[g]) {
          if (target_of_.count(topic)) {
            return Status::Config("consumer group " + g + " has offsets on " + topic +
                                  ", which --repartition spreads over other partitions: its "
                                  "positions have no equivalent there; leave it out of --groups");
          }
        }
      }
    }
    if (!m_.groups.empty() && o_.groups.empty()) {
      report_.notes.push_back(std::to_string(m_.groups.size()) +
                              " consumer groups were captured; pass --groups to move them");
    }
    return Status::Ok();
  }

  Status Connect() {
    TM_ASSIGN_OR_RETURN(rk_, MakeProducer(o_, &sh_));
    sh_.rk = rk_;
    auto listed = kafka::ListTopics(rk_, o_.timeout_ms, sh_.errors);
    if (!listed.ok()) {
      return Status::Kafka("target cluster " + o_.brokers +
                           " unreachable: " + listed.status().message() + "; nothing was restored");
    }
    for (const auto& t : *listed) existing_[t.name] = t.partition_count;
    return Status::Ok();
  }

  // Target topics: partition counts checked, missing ones created (not in a dry run).
  Status PrepareTopics() {
    std::vector<kafka::NewTopic> to_create;
    for (const auto& src : selected_) {
      const auto& tm = m_.topics.at(src);
      const std::string& dst = target_of_[src];
      auto it = existing_.find(dst);
      if (it == existing_.end()) {
        to_create.push_back(
            {dst, tm.partition_count, tm.configs.value_or(std::map<std::string, std::string>{})});
        continue;
      }
      int32_t needed = 0;
      for (const auto& p : tm.partitions) needed = std::max(needed, p.partition + 1);
      if (o_.repartition == Repartition::kNone && it->second < needed) {
        return Status::Config("target topic " + dst + " has " + std::to_string(it->second) +
                              " partitions, but " + src + " needs " + std::to_string(needed) +
                              " (a partition goes to the same number); add partitions, or pass "
                              "--repartition murmur2 to route records by key");
      }
    }
    for (const auto& nt : to_create) {
      report_.created_topics.push_back(nt.name);
      existing_[nt.name] = nt.partitions;
    }
    creating_ = !to_create.empty();
    if (to_create.empty() || o_.dry_run) return Status::Ok();
    TM_RETURN_IF_ERROR(
        kafka::CreateTopics(rk_, to_create, o_.timeout_ms).WithContext("nothing was restored"));
    // Wait until the metadata shows them with all their partitions.
    const int64_t deadline = MonotonicNs() + int64_t{o_.timeout_ms} * 1'000'000;
    for (;;) {
      TM_ASSIGN_OR_RETURN(auto now, kafka::ListTopics(rk_, o_.timeout_ms, sh_.errors));
      size_t ready = 0;
      for (const auto& nt : to_create) {
        for (const auto& t : now) ready += t.name == nt.name && t.partition_count == nt.partitions;
      }
      if (ready == to_create.size()) return Status::Ok();
      if (MonotonicNs() > deadline)
        return Status::Kafka("created topics did not appear in the target's metadata in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  size_t TargetIndex(const std::string& topic, int32_t p) {
    auto [it, fresh] = target_index_.emplace(TargetKey{topic, p}, targets_.size());
    if (fresh) targets_.push_back(Target{topic, p});
    return it->second;
  }

  // A lane per source partition (per topic with --repartition), and the target partitions.
  void BuildLanes() {
    std::vector<std::vector<size_t>> lane_targets;
    for (const auto& src : selected_) {
      const auto& tm = m_.topics.at(src);
      const std::string& dst = target_of_[src];
      if (o_.repartition == Repartition::kMurmur2) {
        Lane lane;
        lane.topic = src;
        lane.merge = true;
        std::vector<size_t> ts;
        for (int32_t p = 0; p < existing_[dst]; ++p) ts.push_back(TargetIndex(dst, p));
        for (const auto& p : tm.partitions) {
          lane.parts.push_back(&p);
          lane.results.push_back(report_.partitions.size());
          report_.partitions.push_back({src, p.partition, dst, -1});
        }
        lanes_.push_back(std::move(lane));
        lane_targets.push_back(std::move(ts));
        continue;
      }
      for (const auto& p : tm.partitions) {
        Lane lane;
        lane.topic = src;
        lane.parts.push_back(&p);
        lane.results.push_back(report_.partitions.size());
        report_.partitions.push_back({src, p.partition, dst, p.partition});
        lane_targets.push_back({TargetIndex(dst, p.partition)});
        lanes_.push_back(std::move(lane));
      }
    }
    // targets_ is complete: pointers into it are stable from here on.
    for (size_t i = 0; i < lanes_.size(); ++i) {
      for (size_t ti : lane_targets[i]) lanes_[i].targets.push_back(&targets_[ti]);
    }
    for (auto& t : targets_) {
      TopicTargets& tt = topic_targets_[t.topic];
      if (tt.size() <= static_cast<size_t>(t.partition)) tt.resize(t.partition + 1);
      tt[static_cast<size_t>(t.partition)] = &t;
    }
    for (const auto& t : targets_) target_parts_.emplace_back(t.topic, t.partition);
  }

  // What identifies this restore: the same arguments against the same cluster, the same key.
  std::string Describe() {
    std::string d =
        "backup=" + o_.id + "\ntarget=" + kafka::ClusterId(rk_, o_.timeout_ms) + "@" + o_.brokers +
        "\nfrom_ms=" + std::to_string(o_.from_ms) + "\nto_ms=" + std::to_string(o_.to_ms) +
        "\nrepartition=" + (o_.repartition == Repartition::kMurmur2 ? "murmur2" : "none") +
        "\nskip_damaged=" + (o_.skip_damaged ? "1" : "0");
    for (const auto& src : selected_) d += "\ntopic=" + src + ">" + target_of_[src];
    for (const auto& [name, bound] :
         {std::pair{"from_offset", &o_.from_offset}, std::pair{"to_offset", &o_.to_offset}}) {
      if (bound->all) d += "\n" + std::string(name) + "=" + std::to_string(*bound->all);
      for (const auto& [tp, v] : bound->per_partition) {
        d += "\n" + std::string(name) + "=" + tp.first + ":" + std::to_string(tp.second) + "=" +
             std::to_string(v);
      }
    }
    return d;
  }

  // Where an earlier run got to, or (first run) where this one starts, recorded before anything
  // is produced.
  Status LoadState() {
    description_ = Describe();
    report_.state_dir = StateRoot() + "/restores/" + StateKey(description_);
    if (!o_.dry_run) {
      // One process per restore: two would both produce every record.
      std::error_code ec;
      fs::create_directories(report_.state_dir, ec);
      if (ec) return Status::Errno(ec.value(), "create " + report_.state_dir);
      TM_ASSIGN_OR_RETURN(lock_, DirLock::Acquire(report_.state_dir, "restore of backup " + o_.id));
    }
    TM_ASSIGN_OR_RETURN(state_, ReadState(report_.state_dir));
    report_.resumed = state_.exists;
    if (o_.dry_run && creating_) return Status::Ok();  // topics to be created have no marks yet
    auto marks =
        kafka::QueryWatermarksAll(rk_, target_parts_, o_.timeout_ms, kWatermarkParallelism);
    if (!marks.ok()) return marks.status().WithContext("target cluster " + o_.brokers);
    if (state_.exists) {
      for (size_t i = 0; i < targets_.size(); ++i) {
        Target& t = targets_[i];
        auto it = state_.bases.find({t.topic, t.partition});
        if (it == state_.bases.end()) {
          return Status::Corrupt(report_.state_dir + "/state.json has no entry for " +
                                 Name(t.topic, t.partition) +
                                 "; remove that directory to start over into empty topics");
        }
        t.base = it->second;
        t.landed = (*marks)[i].high - t.base;
        if (t.landed < 0) {
          return Status::Kafka(Name(t.topic, t.partition) + " is at offset " +
                               std::to_string((*marks)[i].high) +
                               ", behind where this restore started (" + std::to_string(t.base) +
                               "): was the topic deleted and recreated? Remove " +
                               report_.state_dir + " to start over");
        }
      }
      return Status::Ok();
    }
    std::vector<std::string> nonempty;
    for (size_t i = 0; i < targets_.size(); ++i) {
      const kafka::Watermarks& w = (*marks)[i];
      targets_[i].base = w.high;
      if (w.high > w.low) {
        nonempty.push_back(Name(targets_[i].topic, targets_[i].partition) + " (" +
                           std::to_string(w.high - w.low) + " records)");
      }
    }
    if (!nonempty.empty() && !o_.allow_nonempty) {
      return Status::Config(
          "target partitions already hold records: " + JoinList(nonempty) +
          ". Restore into empty topics (a topic map can name new ones), or pass "
          "--allow-nonempty: records are then appended after what is there, and a re-run after "
          "a crash stays exact only if nothing else writes to those partitions meanwhile");
    }
    if (!nonempty.empty()) {
      report_.notes.push_back("appending after existing records in " + JoinList(nonempty) +
                              " (--allow-nonempty)");
    }
    state_.created_ms = WallClockMs();
    for (const auto& t : targets_) state_.bases[{t.topic, t.partition}] = t.base;
    if (o_.dry_run) return Status::Ok();
    return WriteState(report_.state_dir, description_, state_);
  }

  // Groups with active members on the target are refused before anything is produced.
  Status CheckGroupsIdle() {
    for (const auto& g : group_names_) {
      const kafka::GroupState gs = kafka::DescribeGroup(rk_, g, std::min(o_.timeout_ms, 5000));
      if (!gs.known || gs.state == "Empty" || gs.state == "Dead") continue;
      const std::string msg = "consumer group " + g + " is " + gs.state + " with " +
                              std::to_string(gs.members) +
                              " members on the target; its offsets can only be moved while "
                              "it has none: stop its consumers, or leave it out of --groups";
      if (!o_.dry_run) return Status::Kafka(msg + "; nothing was restored");
      report_.notes.push_back(msg);
    }
    return Status::Ok();
  }

  // Bytes of the segments the restore will read, for progress.
  uint64_t BytesToRead() const {
    uint64_t total = 0;
    for (const auto& lane : lanes_) {
      for (const auto* p : lane.parts) {
        const RecordFilter f = FilterFor(o_, lane.topic, p->partition);
        for (const auto& s : p->segments) {
          if (s.records > 0 &&
              f.Overlaps(s.first_offset, s.last_offset, s.min_timestamp, s.max_timestamp))
            total += s.bytes_stored;
        }
      }
    }
    return total;
  }

  // The data: reader threads take lanes; this thread serves delivery reports and progress, then
  // waits until everything produced has landed or failed.
  Status ProduceAll() {
    for (auto& t : targets_) {
      if (o_.dry_run) continue;
      rd_kafka_topic_conf_t* tc = rd_kafka_topic_conf_new();
      rd_kafka_topic_conf_set_opaque(tc, &topic_targets_[t.topic]);
      t.rkt = rd_kafka_topic_new(rk_, t.topic.c_str(), tc);
    }
    RateLimiter rate(o_.dry_run ? 0 : o_.rate_limit_bytes, o_.dry_run ? 0 : o_.rate_limit_records);
    LaneContext ctx{&o_, src_.get(), &report_, &sh_, &rate, &pool_, stop_};
    std::atomic<size_t> next_lane{0};
    const auto cores = static_cast<unsigned>(shard::UsableCpus());
    const size_t nthreads = std::min<size_t>(
        lanes_.size(), o_.threads > 0 ? static_cast<size_t>(o_.threads) : size_t{cores});
    // The block pool's floor: what the reader threads may hold at once (a merged lane holds a
    // block per partition), plus one each to get the next.
    std::vector<size_t> widths;
    for (const auto& lane : lanes_) widths.push_back(lane.parts.size());
    std::sort(widths.begin(), widths.end(), std::greater<>());
    size_t floor = nthreads;
    for (size_t i = 0; i < std::min(nthreads, widths.size()); ++i) floor += widths[i];
    pool_.Limit(o_.block_pool_bytes, floor);
    std::atomic<size_t> running{nthreads};
    std::vector<std::thread> threads;
    for (size_t ti = 0; ti < nthreads; ++ti) {
      threads.emplace_back([&] {
        ReadContext rc;
        Status st = rc.ring.Init(256);
        for (size_t i = next_lane.fetch_add(1); st.ok() && i < lanes_.size();
             i = next_lane.fetch_add(1)) {
          if (Stopping(ctx)) break;
          st = RunLane(ctx, &rc, lanes_[i]);
        }
        if (!st.ok()) sh_.Fail(st.message());
        running.fetch_sub(1);
      });
    }
    ProgressPrinter progress(o_.dry_run ? Progress::kOff : o_.progress, BytesToRead());
    while (running.load() > 0) {
      rd_kafka_poll(rk_, 10);
      progress.Tick(sh_, false);
    }
    for (auto& t : threads) t.join();
    bool interrupted = stop_->load() && !sh_.abort.load();
    if (sh_.abort.load() || interrupted) rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE);
    while (rd_kafka_outq_len(rk_) > 0) {
      rd_kafka_flush(rk_, 100);
      progress.Tick(sh_, false);
      if (stop_->load() && !interrupted) {
        interrupted = true;
        rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE);
      }
    }
    rd_kafka_poll(rk_, 0);
    progress.Tick(sh_, true);
    TM_LOG_DEBUG("restore: %zu blocks in the pool, at most %" PRIu64 " bytes", pool_.blocks(),
                 pool_.peak_bytes());
    report_.produced = sh_.delivered;
    report_.produced_bytes = sh_.produced_bytes.load();
    for (const auto& p : report_.partitions) {
      report_.records += p.records;
      report_.bytes += p.bytes;
    }
    if (!sh_.Error().empty()) {
      return Status::Kafka(sh_.Error() + "; " + std::to_string(sh_.delivered) +
                           " records landed in this run. Re-run the same command to continue "
                           "exactly where it stopped once the cause is fixed");
    }
    if (interrupted) {
      return Status::Aborted("interrupted after " + std::to_string(sh_.delivered) +
                             " records landed in this run; re-run the same command to continue "
                             "exactly where it stopped");
    }
    return Status::Ok();
  }

  // End to end: every target partition holds exactly its base plus what this restore routed.
  Status CheckEnds() {
    for (const auto& t : targets_) {
      if (t.landed > static_cast<int64_t>(t.routed)) {
        return Status::Kafka(Name(t.topic, t.partition) + " holds " + std::to_string(t.landed) +
                             " records past where this restore started, more than the " +
                             std::to_string(t.routed) + " it restores: something else wrote to it");
      }
    }
    for (auto& pr : report_.partitions) {
      if (pr.target_partition >= 0)
        pr.target_base = targets_[target_index_[{pr.target_topic, pr.target_partition}]].base;
    }
    if (o_.dry_run) return Status::Ok();
    TM_ASSIGN_OR_RETURN(auto after, kafka::QueryWatermarksAll(rk_, target_parts_, o_.timeout_ms,
                                                              kWatermarkParallelism));
    for (size_t i = 0; i < targets_.size(); ++i) {
      const int64_t want = targets_[i].base + static_cast<int64_t>(targets_[i].routed);
      if (after[i].high != want) {
        return Status::Kafka(Name(targets_[i].topic, targets_[i].partition) + " ends at offset " +
                             std::to_string(after[i].high) + ", expected " + std::to_string(want) +
                             ": something else wrote to it");
      }
    }
    return Status::Ok();
  }

  // The chosen groups, translated through the offset map and (unless a dry run, or damage left
  // the restore incomplete) committed on the target.
  Status MoveGroups() {
    for (const auto& g : group_names_) {
      GroupResult gr;
      gr.group = g;
      for (const auto& [topic, parts] : m_.groups.at(g)) {
        if (!target_of_.count(topic)) continue;
        for (const auto& [p, committed] : parts) {
          auto it = std::find_if(
              report_.partitions.begin(), report_.partitions.end(),
              [&](const PartitionResult& pr) { return pr.topic == topic && pr.partition == p; });
          if (it == report_.partitions.end() || it->target_partition < 0) continue;
          const Target& t = targets_[target_index_[{it->target_topic, it->target_partition}]];
          gr.source[{topic, p}] = committed;
          gr.target[{it->target_topic, it->target_partition}] =
              TranslateOffset(it->runs, committed, t.base + static_cast<int64_t>(t.routed));
        }
      }
      report_.groups.push_back(std::move(gr));
    }
    if (o_.dry_run || report_.groups.empty()) return Status::Ok();
    if (std::any_of(report_.partitions.begin(), report_.partitions.end(),
                    [](const PartitionResult& p) { return p.stopped; })) {
      for (auto& gr : report_.groups)
        gr.note = "not committed: damage stopped a partition, so the restore is incomplete";
      return Status::Ok();
    }
    for (auto& gr : report_.groups) {
      Status st = kafka::CommitGroupOffsets(rk_, gr.group, gr.target, o_.timeout_ms);
      if (!st.ok()) {
        return st.WithContext(
            "every record landed; the consumer groups are what is left (a re-run with the "
            "same arguments produces nothing and only commits them)");
      }
      gr.committed = true;
    }
    return Status::Ok();
  }

  const RestoreOptions& o_;
  const std::atomic<bool>* stop_;
  backup::Manifest m_;
  RestoreReport report_;
  std::vector<std::string> selected_;             // source topics
  std::map<std::string, std::string> target_of_;  // source topic -> target topic
  std::vector<std::string> group_names_;
  std::map<std::string, int32_t> existing_;  // target topics and partition counts
  bool creating_ = false;                    // some target topics are missing
  BlockPool pool_;  // outlives the producer's queue: messages point into these blocks
  Shared sh_;
  rd_kafka_t* rk_ = nullptr;
  std::vector<Target> targets_;  // complete after BuildLanes(); pointers taken after that
  std::map<TargetKey, size_t> target_index_;
  std::map<std::string, TopicTargets> topic_targets_;
  std::vector<std::pair<std::string, int32_t>> target_parts_;
  std::vector<Lane> lanes_;
  std::string description_;
  State state_;
  // Where restores of this backup keep their progress: next to a local backup; for one in object
  // storage, under the state directory, by bucket, prefix and id.
  std::string StateRoot() const {
    if (!src_->remote()) return report_.backup_dir;
    std::string root = o_.state_dir;
    if (root.empty()) {
      const char* xdg = std::getenv("XDG_STATE_HOME");
      const char* home = std::getenv("HOME");
      root = xdg != nullptr && *xdg != '\0'     ? std::string(xdg) + "/tidemark"
             : home != nullptr && *home != '\0' ? std::string(home) + "/.local/state/tidemark"
                                                : "/var/lib/tidemark/state";
    }
    return root + "/" + report_.backup_dir.substr(5);  // "s3://" dropped
  }

  std::unique_ptr<source::BackupSource> src_;
  DirLock retention_lock_;  // shared, while the segments are read (a local backup)
  DirLock lock_;            // on the state directory, for the whole run
};

}  // namespace

Result<RestoreReport> RunRestore(const RestoreOptions& o, const std::atomic<bool>* stop) {
  return Restorer(o, stop).Run();
}

}  // namespace tidemark::restore
