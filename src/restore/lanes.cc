#include "restore/lanes.h"

#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace tidemark::restore {

namespace {

// One source partition's wanted records, in offset order.
class Cursor {
 public:
  Cursor(ReadContext* ring, source::BackupSource* src, const std::string& id,
         const std::string& topic, const backup::PartitionManifest* part, RecordFilter filter,
         bool skip_damaged, unsigned depth, PartitionResult* result,
         std::atomic<uint64_t>* bytes_read, BlockPool* pool, std::function<bool()> stopping)
      : stream_(ring, src, id, topic, part, filter, skip_damaged, depth),
        filter_(filter),
        skip_damaged_(skip_damaged),
        result_(result),
        bytes_read_(bytes_read),
        pool_(pool),
        stopping_(std::move(stopping)) {}
  ~Cursor() { ReleaseBlock(); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Moves to the next wanted record (cur()); false at the end.
  Result<bool> Advance() {
    for (;;) {
      if (dec_) {
        while (dec_->Next(&cur_)) {
          if (filter_.Wants(cur_.offset, cur_.timestamp)) return true;
        }
        if (!dec_->status().ok()) {
          // The payload passed its checksum but does not decode: damage all the same.
          result_->damage.push_back({"", -1, 0, header_.first_offset, header_.last_offset,
                                     "records of the block at offsets " +
                                         std::to_string(header_.first_offset) + ".." +
                                         std::to_string(header_.last_offset) +
                                         " do not decode: " + dec_->status().message()});
          if (!skip_damaged_) {
            dec_.reset();
            done_ = true;
            result_->stopped = true;
            return false;
          }
        }
        dec_.reset();
      }
      if (done_) return false;
      const uint64_t before = stream_.bytes_read();
      std::span<const uint8_t> payload;
      auto more = stream_.Next(&header_, &payload);
      bytes_read_->fetch_add(stream_.bytes_read() - before, std::memory_order_relaxed);
      if (!more.ok()) return more.status();
      if (!*more) {
        done_ = true;
        result_->damage.insert(result_->damage.end(), stream_.damage().begin(),
                               stream_.damage().end());
        result_->stopped = result_->stopped || stream_.stopped();
        return false;
      }
      ReleaseBlock();
      block_ = pool_->Get(stopping_);
      if (block_ == nullptr) {  // the restore stops while every block is in the producer's hands
        done_ = true;
        return false;
      }
      stream_.TakePayload(&block_->data, &payload);
      pool_->Filled(block_);
      dec_.emplace(payload);
    }
  }
  const RecordView& cur() const { return cur_; }
  // The block the current record's bytes live in.
  BlockRef* block() const { return block_; }

 private:
  BlockStream stream_;
  RecordFilter filter_;
  bool skip_damaged_;
  PartitionResult* result_;
  std::atomic<uint64_t>* bytes_read_;
  format::BlockHeader header_;
  void ReleaseBlock() {
    if (block_ != nullptr) BlockPool::Release(block_);
    block_ = nullptr;
  }
  BlockPool* pool_;
  std::function<bool()> stopping_;
  BlockRef* block_ = nullptr;
  std::optional<RecordDecoder> dec_;
  RecordView cur_;
  bool done_ = false;
};

// Kafka's default partitioner for keyed records (murmur2, as the Java client computes it);
// records without a key stay on their source partition's number, modulo the target's count,
// so the routing is deterministic and a re-run sends every record where the first run did.
int32_t RouteByKey(const Lane& lane, const RecordView& r, int32_t source_partition) {
  const auto n = static_cast<int32_t>(lane.targets.size());
  if (r.key.is_null) return source_partition % n;
  return KafkaPartitionForKey(r.key.data, r.key.len, n);
}

// Sends (or, in a dry run or when an earlier run landed it, only counts) one record.
void Emit(const LaneContext& c, Target* t, PartitionResult* pr, bool map_runs, const RecordView& r,
          BlockRef* block) {
  const uint64_t idx = t->routed++;
  const uint64_t bytes = RecordBytes(r);
  if (pr->records == 0) {
    pr->first_offset = r.offset;
    pr->first_ms = r.timestamp;
  }
  ++pr->records;
  pr->bytes += bytes;
  pr->last_offset = r.offset;
  pr->last_ms = r.timestamp;
  if (map_runs) {
    const int64_t target_offset = t->base + static_cast<int64_t>(idx);
    if (!pr->runs.empty() && pr->runs.back().source + pr->runs.back().count == r.offset &&
        pr->runs.back().target + pr->runs.back().count == target_offset) {
      ++pr->runs.back().count;
    } else {
      pr->runs.push_back({r.offset, target_offset, 1});
    }
  }
  if (idx < static_cast<uint64_t>(t->landed)) {
    ++pr->already;
    return;
  }
  if (c.o->dry_run) return;
  if (c.rate->enabled()) c.rate->Take(1, bytes, *c.stop);
  Produce(c.sh, t, *pr, r, bytes, block);
}

}  // namespace

bool Stopping(const LaneContext& c) { return c.sh->abort.load() || c.stop->load(); }

Status RunLane(const LaneContext& c, ReadContext* ring, const Lane& lane) {
  std::vector<std::unique_ptr<Cursor>> cursors;
  for (size_t i = 0; i < lane.parts.size(); ++i) {
    const auto* p = lane.parts[i];
    const RecordFilter f = FilterFor(*c.o, lane.topic, p->partition);
    cursors.push_back(
        std::make_unique<Cursor>(ring, c.src, c.o->id, lane.topic, p, f, c.o->skip_damaged,
                                 lane.merge ? std::min(2u, c.o->read_ahead) : c.o->read_ahead,
                                 &c.report->partitions[lane.results[i]], &c.sh->bytes_read, c.pool,
                                 [&c] { return Stopping(c); }));
  }
  if (!lane.merge) {
    PartitionResult* pr = &c.report->partitions[lane.results[0]];
    for (;;) {
      if (Stopping(c)) return Status::Ok();
      TM_ASSIGN_OR_RETURN(bool more, cursors[0]->Advance());
      if (!more) return Status::Ok();
      Emit(c, lane.targets[0], pr, true, cursors[0]->cur(), cursors[0]->block());
    }
  }
  // Merge by (timestamp, source partition, offset): deterministic, so every target partition
  // receives its records in the same order on every run.
  std::vector<bool> live(cursors.size());
  for (size_t i = 0; i < cursors.size(); ++i) {
    TM_ASSIGN_OR_RETURN(bool more, cursors[i]->Advance());
    live[i] = more;
  }
  for (;;) {
    if (Stopping(c)) return Status::Ok();
    size_t best = cursors.size();
    for (size_t i = 0; i < cursors.size(); ++i) {
      if (!live[i]) continue;
      if (best == cursors.size() || cursors[i]->cur().timestamp < cursors[best]->cur().timestamp)
        best = i;
    }
    if (best == cursors.size()) return Status::Ok();
    const RecordView& r = cursors[best]->cur();
    const int32_t src = lane.parts[best]->partition;
    Target* t = lane.targets[static_cast<size_t>(RouteByKey(lane, r, src))];
    Emit(c, t, &c.report->partitions[lane.results[best]], false, r, cursors[best]->block());
    TM_ASSIGN_OR_RETURN(bool more, cursors[best]->Advance());
    live[best] = more;
  }
}

}  // namespace tidemark::restore
