// Helpers shared by the tests: owned records that can be compared field by field.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "tidemark/record.h"

namespace tidemark::testing {

struct OwnedHeader {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const OwnedHeader&) const = default;
};

struct OwnedRecord {
  int64_t offset = 0;
  int64_t timestamp = 0;
  format::TimestampType timestamp_type = format::TimestampType::kCreateTime;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<OwnedHeader> headers;
  bool operator==(const OwnedRecord&) const = default;

  // A view over this record; `scratch` holds the header views and must outlive the view.
  RecordView View(std::vector<HeaderView>* scratch) const {
    scratch->clear();
    for (const auto& h : headers) {
      scratch->push_back({h.name, h.value ? Bytes::Of(*h.value) : Bytes::Null()});
    }
    RecordView r;
    r.offset = offset;
    r.timestamp = timestamp;
    r.timestamp_type = timestamp_type;
    r.key = key ? Bytes::Of(*key) : Bytes::Null();
    r.value = value ? Bytes::Of(*value) : Bytes::Null();
    r.headers = *scratch;
    return r;
  }

  static OwnedRecord From(const RecordView& v) {
    OwnedRecord o;
    o.offset = v.offset;
    o.timestamp = v.timestamp;
    o.timestamp_type = v.timestamp_type;
    if (!v.key.is_null) o.key = std::string(v.key.view());
    if (!v.value.is_null) o.value = std::string(v.value.view());
    for (const auto& h : v.headers) {
      OwnedHeader oh{std::string(h.name), std::nullopt};
      if (!h.value.is_null) oh.value = std::string(h.value.view());
      o.headers.push_back(std::move(oh));
    }
    return o;
  }
};

// A fresh, empty directory for the running test: <tmp>/tidemark-<kind>-<pid>-<test name>.
inline std::filesystem::path FreshTestDir(const std::string& kind) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("tidemark-" + kind + "-" + std::to_string(::getpid()) + "-" +
                               (info != nullptr ? info->name() : "none"));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Short failure messages: offset, sizes and header count instead of a byte dump.
inline void PrintTo(const OwnedRecord& r, std::ostream* os) {
  *os << "{offset " << r.offset << ", ts " << r.timestamp << ", key "
      << (r.key ? std::to_string(r.key->size()) + "B" : "null") << ", value "
      << (r.value ? std::to_string(r.value->size()) + "B" : "null") << ", " << r.headers.size()
      << " headers}";
}

// A varied record: null and empty keys and values, duplicate header names, null header values.
inline OwnedRecord MakeRecord(std::mt19937_64& rng, int64_t offset) {
  OwnedRecord r;
  r.offset = offset;
  r.timestamp = 1763647380000 + static_cast<int64_t>(rng() % 100000);
  r.timestamp_type =
      (rng() % 5 == 0) ? format::TimestampType::kLogAppendTime : format::TimestampType::kCreateTime;
  switch (rng() % 4) {
    case 0:
      break;  // null key
    case 1:
      r.key = "";
      break;
    default:
      r.key = "user-" + std::to_string(rng() % 1000);
  }
  if (rng() % 7 != 0) {
    r.value = "{\"id\":" + std::to_string(offset) +
              ",\"amount\":" + std::to_string(rng() % 100000) + ",\"note\":\"" +
              std::string(rng() % 200, 'x') + "\"}";
  }
  const int nh = static_cast<int>(rng() % 4);
  for (int i = 0; i < nh; ++i) {
    OwnedHeader h{i % 2 ? "trace" : "source", std::nullopt};
    if (rng() % 3) h.value = "v" + std::to_string(rng() % 50);
    r.headers.push_back(h);
  }
  return r;
}

}  // namespace tidemark::testing
