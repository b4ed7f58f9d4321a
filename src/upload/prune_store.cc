#include "upload/prune_store.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "backup/catalog.h"
#include "backup/retention.h"
#include "tidemark/format.h"

namespace tidemark::upload {

namespace {

Status DeleteAll(s3::Client& c, const std::string& bucket, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    Status st = c.DeleteObject(bucket, key);
    if (!st.ok() && !st.Is(Errc::kNotFound)) return st;
  }
  return Status::Ok();
}

// "topics/<topic>/<partition>/<20 digits>.tmseg" -> topic, partition, first offset.
bool ParseSegmentRel(const std::string& rel, std::string* topic, int32_t* partition,
                     int64_t* first) {
  constexpr std::string_view kTopics = "topics/";
  if (rel.rfind(kTopics, 0) != 0 || !rel.ends_with(format::kSegmentSuffix)) return false;
  const size_t name = rel.rfind('/');
  const size_t part = rel.rfind('/', name - 1);
  if (part == std::string::npos || part < kTopics.size()) return false;
  *topic = rel.substr(kTopics.size(), part - kTopics.size());
  const char* pb = rel.data() + part + 1;
  const char* pe = rel.data() + name;
  bool sealed = false;
  return std::from_chars(pb, pe, *partition).ptr == pe &&
         format::ParseSegmentName(std::string_view(rel).substr(name + 1), first, &sealed) && sealed;
}

}  // namespace

Status StoreTrimmed(Pool* pool, const std::string& id, const backup::Manifest& after) {
  const s3::Location& loc = pool->settings().location;
  bool held = false;
  TM_RETURN_IF_ERROR(pool->WithClient([&](s3::Client& c, const std::string& bucket) -> Status {
    for (const std::string rel : {std::string(backup::kCatalogDir) + "/" + backup::kCatalogRoot,
                                  std::string(backup::kManifestName)}) {
      auto head = c.HeadObject(bucket, loc.Key(id + "/" + rel));
      if (head.ok()) held = true;
      if (!head.ok() && !head.status().Is(Errc::kNotFound)) return head.status();
    }
    return Status::Ok();
  }));
  if (!held) return Status::Ok();  // never uploaded
  TM_RETURN_IF_ERROR(PutStoreCatalog(pool, id, RemoteView(after))
                         .WithContext("prune of " + id + " in " + loc.Url() +
                                      " (the local trim stands; run tidemark prune again)"));
  std::map<std::string, bool> named;
  for (const auto& [topic, t] : after.topics)
    for (const auto& p : t.partitions)
      for (const auto& s : p.segments) named[s.path] = true;
  return pool->WithClient([&](s3::Client& c, const std::string& bucket) -> Status {
    const std::string base = loc.Key(id + "/");
    TM_ASSIGN_OR_RETURN(s3::Listing l, c.List(bucket, base + "topics/"));
    std::vector<std::string> dropped;
    for (const auto& [key, size] : l.objects) {
      const std::string rel = key.substr(base.size());
      std::string topic;
      int32_t partition = 0;
      int64_t first = 0;
      if (named.count(rel) != 0 || !ParseSegmentRel(rel, &topic, &partition, &first)) continue;
      auto t = after.topics.find(topic);
      if (t == after.topics.end()) continue;
      for (const auto& p : t->second.partitions)
        if (p.partition == partition && first < backup::RetentionStart(p)) dropped.push_back(key);
    }
    return DeleteAll(c, bucket, dropped);
  });
}

Result<std::vector<backup::PruneEntry>> PruneStoreSnapshots(Pool* pool,
                                                            const backup::PruneOptions& o) {
  const s3::Location& loc = pool->settings().location;
  std::vector<backup::PruneEntry> out;
  TM_RETURN_IF_ERROR(pool->WithClient([&](s3::Client& c, const std::string& bucket) -> Status {
    const std::string pre = loc.Key("");
    TM_ASSIGN_OR_RETURN(s3::Listing l, c.List(bucket, pre, "/"));
    struct Snap {
      std::string id;
      backup::Manifest m;
    };
    std::vector<Snap> snaps;
    for (std::string p : l.prefixes) {
      p = p.substr(pre.size());
      if (!p.empty() && p.back() == '/') p.pop_back();
      if (p.empty()) continue;
      auto text = c.GetObject(bucket, loc.Key(p + "/" + backup::kManifestName));
      if (!text.ok()) {
        if (text.status().Is(Errc::kNotFound)) continue;  // a continuous backup, or unfinished
        return text.status();
      }
      auto m = backup::ManifestFromJson(*text, loc.Url() + "/" + p + "/" + backup::kManifestName);
      if (!m.ok()) {
        if (o.id.empty() || o.id == p) {
          backup::PruneEntry e;
          e.id = loc.Url() + "/" + p;
          e.action = "skipped";
          e.notes.push_back("unreadable index: " + m.status().message());
          out.push_back(std::move(e));
        }
        continue;
      }
      if (m->kind == "snapshot") snaps.push_back({p, std::move(*m)});
    }
    std::sort(snaps.begin(), snaps.end(),
              [](const Snap& a, const Snap& b) { return a.m.started_ms > b.m.started_ms; });
    for (size_t i = 0; i < snaps.size(); ++i) {
      const Snap& s = snaps[i];
      if (!o.id.empty() && s.id != o.id) continue;
      backup::PruneEntry e;
      e.id = loc.Url() + "/" + s.id;
      e.kind = "snapshot";
      const bool old = o.policy.max_age_ms > 0 && s.m.finished_ms < o.now_ms - o.policy.max_age_ms;
      if (!old || i < static_cast<size_t>(o.policy.keep_last)) {
        e.action = "kept";
        if (old) {
          e.notes.push_back("older than max_age, but one of the newest " +
                            std::to_string(o.policy.keep_last) +
                            " snapshots in the store (keep_last)");
        }
        out.push_back(std::move(e));
        continue;
      }
      e.action = "deleted";
      e.segments = s.m.TotalSegments();
      e.bytes = s.m.TotalBytesStored();
      if (!o.dry_run) {
        // The manifest first: from then on the backup does not count, whatever else remains.
        TM_RETURN_IF_ERROR(DeleteAll(c, bucket, {loc.Key(s.id + "/" + backup::kManifestName)}));
        TM_ASSIGN_OR_RETURN(s3::Listing rest, c.List(bucket, loc.Key(s.id + "/")));
        std::vector<std::string> keys;
        for (const auto& [key, size] : rest.objects) keys.push_back(key);
        TM_RETURN_IF_ERROR(DeleteAll(c, bucket, keys));
      }
      out.push_back(std::move(e));
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace tidemark::upload
