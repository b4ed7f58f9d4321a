#include "config/config.h"
#include "common/strings.h"

#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace tidemark::config {
namespace {

// The key of a "key = value" line (1-based `line` of `text`), trimmed; "" when there is none.
std::string KeyOnLine(std::string_view text, uint64_t line) {
  size_t begin = 0;
  for (uint64_t i = 1; i < line && begin != std::string_view::npos; ++i) {
    begin = text.find('\n', begin);
    if (begin != std::string_view::npos) ++begin;
  }
  if (begin == std::string_view::npos) return "";
  std::string_view l = text.substr(begin, text.find('\n', begin) - begin);
  const size_t eq = l.find('=');
  if (eq == std::string_view::npos) return "";
  l = l.substr(0, eq);
  const size_t a = l.find_first_not_of(" \t"), b = l.find_last_not_of(" \t");
  if (a == std::string_view::npos) return "";
  l = l.substr(a, b - a + 1);
  if (l.size() >= 2 && (l.front() == '"' || l.front() == '\'') && l.back() == l.front())
    l = l.substr(1, l.size() - 2);  // "sasl.password" = ...
  return std::string(l);
}

std::string Where(const std::string& origin, const toml::node& n) {
  const auto& src = n.source();
  return origin + ":" + std::to_string(src.begin.line);
}

class Reader {
 public:
  Reader(const std::string& origin) : origin_(origin) {}

  Status Table(const toml::table& root, const std::string& name, const toml::table** out) {
    *out = nullptr;
    const toml::node* n = root.get(name);
    if (n == nullptr) return Status::Ok();
    if (!n->is_table())
      return Status::Config(Where(origin_, *n) + ": '" + name + "' must be a table ([" + name +
                            "])");
    *out = n->as_table();
    return Status::Ok();
  }

  // Rejects keys of `t` not in `known`.
  Status OnlyKnown(const toml::table& t, const std::string& section,
                   const std::set<std::string>& known) {
    for (const auto& [k, v] : t) {
      if (known.count(std::string(k.str())) == 0) {
        return Status::Config(Where(origin_, v) + ": unknown key '" + section + "." +
                              std::string(k.str()) + "' (known keys in [" + section +
                              "]: " + JoinList(known) + ")");
      }
    }
    return Status::Ok();
  }

  Status String(const toml::table& t, const std::string& section, const char* key,
                std::string* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_string()) return TypeError(*n, section, key, "a string");
    *out = n->as_string()->get();
    return Status::Ok();
  }

  Status Int(const toml::table& t, const std::string& section, const char* key, int64_t lo,
             int64_t hi, int64_t* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_integer()) return TypeError(*n, section, key, "an integer");
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      return Status::Config(Where(origin_, *n) + ": '" + section + "." + key +
                            "' = " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                            ", " + std::to_string(hi) + "]");
    }
    *out = v;
    return Status::Ok();
  }

  Status StringList(const toml::table& t, const std::string& section, const char* key,
                    std::vector<std::string>* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return Status::Ok();
    if (!n->is_array()) return TypeError(*n, section, key, "an array of strings");
    out->clear();
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) return TypeError(e, section, key, "an array of strings");
      out->push_back(e.as_string()->get());
    }
    return Status::Ok();
  }

  // A [<section>.properties] table of librdkafka settings: strings, integers or booleans.
  Status Properties(const toml::table& t, const std::string& section,
                    std::vector<std::pair<std::string, std::string>>* out) {
    const toml::table* props = nullptr;
    TM_RETURN_IF_ERROR(Table(t, "properties", &props));
    if (props == nullptr) return Status::Ok();
    for (const auto& [k, v] : *props) {
      std::string value;
      if (v.is_string())
        value = v.as_string()->get();
      else if (v.is_integer())
        value = std::to_string(v.as_integer()->get());
      else if (v.is_boolean())
        value = v.as_boolean()->get() ? "true" : "false";
      else
        return Status::Config(Where(origin_, v) + ": '" + section + ".properties." +
                              std::string(k.str()) + "' must be a string, integer or boolean");
      out->emplace_back(std::string(k.str()), value);
    }
    return Status::Ok();
  }

  Status BadValue(const toml::table& t, const std::string& section, const char* key,
                  const std::string& why) {
    return Status::Config(Where(origin_, *t.get(key)) + ": '" + section + "." + key + "': " + why);
  }

 private:
  Status TypeError(const toml::node& n, const std::string& section, const char* key,
                   const char* want) {
    return Status::Config(Where(origin_, n) + ": '" + section + "." + key + "' must be " + want);
  }
  std::string origin_;
};

}  // namespace

bool IsSecretKey(std::string_view key) {
  std::string lower(key);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* word : {"password", "secret", "token", "key"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

std::string ShownValue(std::string_view key, std::string_view value) {
  return IsSecretKey(key) ? std::string("<redacted>") : "'" + std::string(value) + "'";
}

std::string Scrub(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + std::string_view("<redacted>").size())) {
    text.replace(at, secret.size(), "<redacted>");
  }
  return text;
}

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + "<redacted>" + std::string(url.substr(at));
}

Result<HostPort> ParseHostPort(std::string_view listen) {
  auto bad = [&](const std::string& why) {
    return Status::Config("'" + std::string(listen) + "' " + why +
                          " (host:port with a port 0 to 65535, e.g. 127.0.0.1:9464 or [::1]:9464)");
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  HostPort hp;
  std::string_view host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("is ambiguous: put an IPv6 address in brackets");
  }
  if (host.empty()) return bad("has no host (0.0.0.0 or [::] for every address)");
  if (port.empty()) return bad("has no port");
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return bad("has a port that is not a number");
  for (char ch : port) hp.port = hp.port * 10 + (ch - '0');
  if (hp.port > 65535) return bad("has a port past 65535");
  hp.host = std::string(host);
  return hp;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    size_t b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
  }
  return out;
}

Result<Config> ParseConfig(std::string_view text, const std::string& origin) {
  // Debian's toml++ is built with exceptions; a parse error is converted here, at start-up.
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    const auto line = err.source().begin.line;
    // toml++ may quote a piece of the value it stopped at; on a secret key's line, say what to
    // fix without it.
    const std::string key = KeyOnLine(text, line);
    if (IsSecretKey(key)) {
      return Status::Config(origin + ":" + std::to_string(line) + ": the value of '" + key +
                            "' is not valid TOML (the value is not shown; quote it, and use "
                            "'...' rather than \"...\" when it holds a backslash)");
    }
    return Status::Config(origin + ":" + std::to_string(line) + ": " +
                          std::string(err.description()));
  }
  Config c;
  c.source = origin;
  Reader r(origin);
  TM_RETURN_IF_ERROR(
      r.OnlyKnown(root, "<top level>",
                  {"kafka", "backup", "storage", "upload", "restore", "metrics", "retention"}));

  const toml::table* t = nullptr;
  TM_RETURN_IF_ERROR(r.Table(root, "kafka", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(r.OnlyKnown(*t, "kafka", {"bootstrap_servers", "properties", "timeout_ms"}));
    TM_RETURN_IF_ERROR(r.String(*t, "kafka", "bootstrap_servers", &c.kafka.bootstrap_servers));
    TM_RETURN_IF_ERROR(r.Int(*t, "kafka", "timeout_ms", 100, 3600000, &c.kafka.timeout_ms));
    TM_RETURN_IF_ERROR(r.Properties(*t, "kafka", &c.kafka.properties));
  }

  TM_RETURN_IF_ERROR(r.Table(root, "backup", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(
        r.OnlyKnown(*t, "backup",
                    {"id", "topics", "exclude", "groups", "compression", "level",
                     "segment_max_bytes", "segment_max_interval_ms", "shards", "block_bytes",
                     "io_depth", "shard_memory_bytes", "prefetch_bytes", "group",
                     "flush_interval_ms", "topic_refresh_interval_ms", "checkpoint_interval_ms"}));
    auto& b = c.backup;
    TM_RETURN_IF_ERROR(r.String(*t, "backup", "id", &b.id));
    TM_RETURN_IF_ERROR(r.StringList(*t, "backup", "topics", &b.topics));
    TM_RETURN_IF_ERROR(r.StringList(*t, "backup", "exclude", &b.exclude));
    TM_RETURN_IF_ERROR(r.StringList(*t, "backup", "groups", &b.groups));
    std::string codec;
    TM_RETURN_IF_ERROR(r.String(*t, "backup", "compression", &codec));
    if (!codec.empty() && !format::ParseCodec(codec, &b.compression)) {
      return r.BadValue(*t, "backup", "compression",
                        "'" + codec + "' is not one of zstd, lz4, none");
    }
    int64_t v = b.level;
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "level", -7, 22, &v));
    b.level = static_cast<int>(v);
    v = static_cast<int64_t>(b.segment_max_bytes);
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "segment_max_bytes", 1 << 20, int64_t{1} << 40, &v));
    b.segment_max_bytes = static_cast<uint64_t>(v);
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "segment_max_interval_ms", 100, int64_t{1} << 40,
                             &b.segment_max_interval_ms));
    v = b.shards;
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "shards", 0, 1024, &v));
    b.shards = static_cast<int>(v);
    v = static_cast<int64_t>(b.block_bytes);
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "block_bytes", 4096, 64 << 20, &v));
    b.block_bytes = static_cast<uint64_t>(v);
    v = b.io_depth;
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "io_depth", 1, 1024, &v));
    b.io_depth = static_cast<uint32_t>(v);
    v = static_cast<int64_t>(b.shard_memory_bytes);
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "shard_memory_bytes", 1 << 20, int64_t{1} << 40, &v));
    b.shard_memory_bytes = static_cast<uint64_t>(v);
    v = static_cast<int64_t>(b.prefetch_bytes);
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "prefetch_bytes", 1 << 20, int64_t{1} << 40, &v));
    b.prefetch_bytes = static_cast<uint64_t>(v);
    TM_RETURN_IF_ERROR(r.String(*t, "backup", "group", &b.group));
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "flush_interval_ms", 1, 3600000, &b.flush_interval_ms));
    TM_RETURN_IF_ERROR(r.Int(*t, "backup", "topic_refresh_interval_ms", 100, 86400000,
                             &b.topic_refresh_interval_ms));
    TM_RETURN_IF_ERROR(
        r.Int(*t, "backup", "checkpoint_interval_ms", 0, 3600000, &b.checkpoint_interval_ms));
  }

  TM_RETURN_IF_ERROR(r.Table(root, "storage", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(r.OnlyKnown(*t, "storage", {"path", "direct_io"}));
    TM_RETURN_IF_ERROR(r.String(*t, "storage", "path", &c.storage.path));
    std::string mode;
    TM_RETURN_IF_ERROR(r.String(*t, "storage", "direct_io", &mode));
    if (mode == "auto" || mode.empty())
      c.storage.direct_io = io::DirectIoMode::kAuto;
    else if (mode == "on")
      c.storage.direct_io = io::DirectIoMode::kOn;
    else if (mode == "off")
      c.storage.direct_io = io::DirectIoMode::kOff;
    else
      return r.BadValue(*t, "storage", "direct_io", "'" + mode + "' is not one of auto, on, off");
  }

  TM_RETURN_IF_ERROR(r.Table(root, "upload", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(r.OnlyKnown(
        *t, "upload",
        {"endpoint", "bucket", "prefix", "region", "addressing", "ca_file", "credentials_file",
         "profile", "workers", "part_size_bytes", "multipart_threshold_bytes", "parts_in_flight",
         "queue_max_segments", "timeout_ms", "retries", "keep_local", "catalog_interval_ms"}));
    UploadConfig& u = c.upload;
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "endpoint", &u.endpoint));
    if (!u.endpoint.empty() && u.endpoint.rfind("http://", 0) != 0 &&
        u.endpoint.rfind("https://", 0) != 0)
      return r.BadValue(*t, "upload", "endpoint",
                        "'" + RedactUrl(u.endpoint) + "' must start with http:// or https://");
    if (RedactUrl(u.endpoint) != u.endpoint)
      return r.BadValue(*t, "upload", "endpoint",
                        "'" + RedactUrl(u.endpoint) +
                            "' holds credentials; give them in [upload] credentials_file or "
                            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL");
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "bucket", &u.bucket));
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "prefix", &u.prefix));
    while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
    while (!u.prefix.empty() && u.prefix.front() == '/') u.prefix.erase(0, 1);
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "region", &u.region));
    std::string addressing;
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "addressing", &addressing));
    if (addressing == "virtual")
      u.path_style = false;
    else if (!addressing.empty() && addressing != "path")
      return r.BadValue(*t, "upload", "addressing",
                        "'" + addressing + "' is not one of path, virtual");
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "ca_file", &u.ca_file));
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "credentials_file", &u.credentials_file));
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "profile", &u.profile));
    int64_t v = u.workers;
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "workers", 1, 256, &v));
    u.workers = static_cast<int>(v);
    v = static_cast<int64_t>(u.part_bytes);
    // S3's rules: parts of 5 MiB to 5 GiB.
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "part_size_bytes", 5 << 20, int64_t{5} << 30, &v));
    u.part_bytes = static_cast<uint64_t>(v);
    v = static_cast<int64_t>(u.multipart_threshold_bytes);
    TM_RETURN_IF_ERROR(
        r.Int(*t, "upload", "multipart_threshold_bytes", 5 << 20, int64_t{5} << 30, &v));
    u.multipart_threshold_bytes = static_cast<uint64_t>(v);
    v = u.parts_in_flight;
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "parts_in_flight", 1, 64, &v));
    u.parts_in_flight = static_cast<int>(v);
    v = u.queue_max_segments;
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "queue_max_segments", 1, 1 << 20, &v));
    u.queue_max_segments = static_cast<int>(v);
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "timeout_ms", 100, 3600000, &u.timeout_ms));
    v = u.retries;
    TM_RETURN_IF_ERROR(r.Int(*t, "upload", "retries", 0, 100, &v));
    u.retries = static_cast<int>(v);
    TM_RETURN_IF_ERROR(
        r.Int(*t, "upload", "catalog_interval_ms", 100, 3600000, &u.catalog_interval_ms));
    std::string keep;
    TM_RETURN_IF_ERROR(r.String(*t, "upload", "keep_local", &keep));
    if (!keep.empty()) {
      auto ms = ParseKeepLocal(keep);
      if (!ms.ok()) return r.BadValue(*t, "upload", "keep_local", ms.status().message());
      u.keep_local_ms = *ms;
    }
  }
  TM_RETURN_IF_ERROR(r.Table(root, "restore", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(r.OnlyKnown(
        *t, "restore",
        {"properties", "rate_limit_bytes", "rate_limit_records", "threads", "state_dir"}));
    TM_RETURN_IF_ERROR(r.String(*t, "restore", "state_dir", &c.restore.state_dir));
    TM_RETURN_IF_ERROR(r.Properties(*t, "restore", &c.restore.properties));
    int64_t v = 0;
    TM_RETURN_IF_ERROR(r.Int(*t, "restore", "rate_limit_bytes", 0, INT64_MAX, &v));
    c.restore.rate_limit_bytes = static_cast<uint64_t>(v);
    v = 0;
    TM_RETURN_IF_ERROR(r.Int(*t, "restore", "rate_limit_records", 0, INT64_MAX, &v));
    c.restore.rate_limit_records = static_cast<uint64_t>(v);
    v = 0;
    TM_RETURN_IF_ERROR(r.Int(*t, "restore", "threads", 0, 1024, &v));
    c.restore.threads = static_cast<int>(v);
  }
  TM_RETURN_IF_ERROR(r.Table(root, "retention", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(
        r.OnlyKnown(*t, "retention", {"max_age", "max_bytes", "keep_last", "interval_ms"}));
    TM_RETURN_IF_ERROR(
        r.Int(*t, "retention", "interval_ms", 1000, 86400000, &c.retention.interval_ms));
    std::string age;
    TM_RETURN_IF_ERROR(r.String(*t, "retention", "max_age", &age));
    if (!age.empty() && age != "none") {
      auto ms = ParseDuration(age);
      if (!ms.ok()) return r.BadValue(*t, "retention", "max_age", ms.status().message());
      c.retention.max_age_ms = *ms;
    }
    int64_t v = 0;
    TM_RETURN_IF_ERROR(r.Int(*t, "retention", "max_bytes", 0, INT64_MAX, &v));
    c.retention.max_bytes = static_cast<uint64_t>(v);
    v = c.retention.keep_last;
    TM_RETURN_IF_ERROR(r.Int(*t, "retention", "keep_last", 0, 1000000, &v));
    c.retention.keep_last = static_cast<int>(v);
  }
  TM_RETURN_IF_ERROR(r.Table(root, "metrics", &t));
  if (t != nullptr) {
    TM_RETURN_IF_ERROR(
        r.OnlyKnown(*t, "metrics", {"listen", "lag_alert_records", "stall_alert_ms"}));
    TM_RETURN_IF_ERROR(r.String(*t, "metrics", "listen", &c.metrics.listen));
    if (!c.metrics.listen.empty()) {
      if (auto hp = ParseHostPort(c.metrics.listen); !hp.ok())
        return r.BadValue(*t, "metrics", "listen", hp.status().message());
    }
    TM_RETURN_IF_ERROR(
        r.Int(*t, "metrics", "lag_alert_records", 1, INT64_MAX, &c.metrics.lag_alert_records));
    TM_RETURN_IF_ERROR(
        r.Int(*t, "metrics", "stall_alert_ms", 100, 86400000, &c.metrics.stall_alert_ms));
  }
  return c;
}

Result<int64_t> ParseDuration(const std::string& s) {
  static const std::pair<char, int64_t> kUnits[] = {
      {'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
  constexpr int64_t kMaxMs = 100LL * 366 * 86400000;  // a century: no product can overflow
  char* end = nullptr;
  errno = 0;
  const long long n = s.empty() || s[0] == '-' || s[0] == '+' || s[0] == ' '
                          ? -1
                          : std::strtoll(s.c_str(), &end, 10);
  if (n > 0 && errno == 0 && end != nullptr && end[0] != '\0' && end[1] == '\0') {
    for (const auto& [unit, ms] : kUnits) {
      if (end[0] == unit && n <= kMaxMs / ms) return static_cast<int64_t>(n) * ms;
    }
  }
  return Status::Config("'" + s + "' is not a duration such as 90s, 30m, 12h or 30d");
}

Result<int64_t> ParseKeepLocal(const std::string& s) {
  if (s == "all") return int64_t{-1};
  if (s == "none") return int64_t{0};
  if (auto ms = ParseDuration(s); ms.ok()) return *ms;
  return Status::Config("'" + s +
                        "' is not none, all or a duration such as 30m, 12h or 7d (how long local "
                        "copies stay after their upload is confirmed)");
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Config("cannot read config file " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

Status ValidateForBackup(const Config& c) {
  if (c.kafka.bootstrap_servers.empty()) {
    return Status::Config("no brokers: give --brokers or [kafka] bootstrap_servers");
  }
  if (c.backup.topics.empty()) return Status::Config("no topics: give --topics or [backup] topics");
  if (c.backup.id.empty()) return Status::Config("no backup id: give --id or [backup] id");
  for (char ch : c.backup.id) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) {
      return Status::Config("backup id '" + c.backup.id +
                            "' may hold only letters, digits, '-', '_' and '.'");
    }
  }
  if (c.backup.id == "." || c.backup.id == "..")
    return Status::Config("backup id may not be '.' or '..'");
  if (c.storage.path.empty())
    return Status::Config("no storage path: give --path or [storage] path");
  return Status::Ok();
}

}  // namespace tidemark::config
