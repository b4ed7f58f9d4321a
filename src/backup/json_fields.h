// Reading and writing the JSON that tidemark keeps on disk (manifests, the catalog, restore
// state): checked integer fields, and the JSON forms of segments and gaps, shared so that every
// file spells a field the same way and reads it with the same checks.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backup/manifest.h"

namespace tidemark::backup {

// An integer field, checked: nlohmann's get<int>() of a number stored as a float (a fraction, an
// exponent, or too many digits) is a cast from double, undefined when out of range. Throws
// (callers turn it into a Corrupt status naming the file) unless the value is an integer of T's
// range.
template <typename T>
T Int(const nlohmann::json& parent, const char* field) {
  const nlohmann::json& v = parent.at(field);
  bool fits = false;
  if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    fits = std::is_signed_v<T> ? x >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                     x <= static_cast<int64_t>(std::numeric_limits<T>::max())
                               : x >= 0;
  }
  if (!fits) {
    throw std::out_of_range("'" + std::string(field) + "' must be an integer in [" +
                            std::to_string(std::numeric_limits<T>::min()) + ", " +
                            std::to_string(std::numeric_limits<T>::max()) + "], not " +
                            v.dump().substr(0, 40));
  }
  return v.get<T>();
}
template <typename T>
T Int(const nlohmann::json& parent, const char* field, T absent) {
  return parent.contains(field) ? Int<T>(parent, field) : absent;
}

// A segment entry as manifest.json and the catalog write it (docs/FORMAT.md).
nlohmann::json SegmentToJson(const segment::SealedSegment& s);
// Throws on a missing or mistyped field, or a checksum that is not 16 lowercase hex digits.
segment::SealedSegment SegmentFromJson(const nlohmann::json& js);
nlohmann::json GapToJson(const Gap& g);
Gap GapFromJson(const nlohmann::json& jg);

}  // namespace tidemark::backup
