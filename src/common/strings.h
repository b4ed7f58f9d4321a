// Small string helpers for messages.
#pragma once

#include <string>

namespace tidemark {

// "a, b, c": the elements of any range of strings, for lists in messages.
template <typename Range>
std::string JoinList(const Range& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

}  // namespace tidemark
