// Checks that keep the metrics, their documentation and the shipped alert rules in step: every
// metric family a running `tidemark run` exports is described in docs/OPERATIONS.md, and every
// tidemark_ metric tools/monitoring/tidemark.rules.yml uses is exported. TIDEMARK_SOURCE (set by
// meson) is the source tree.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace tidemark::testing {

inline std::string SourceFile(const std::string& rel) {
  const char* src = std::getenv("TIDEMARK_SOURCE");
  EXPECT_NE(src, nullptr) << "TIDEMARK_SOURCE is not set (meson sets it)";
  std::ifstream in(std::filesystem::path(src ? src : ".") / rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The metric families a scrape declares (its "# TYPE" lines).
inline std::set<std::string> MetricFamilies(const std::string& body) {
  std::set<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    const size_t end = line.find(' ', 7);
    out.insert(line.substr(7, end == std::string::npos ? std::string::npos : end - 7));
  }
  return out;
}

inline void ExpectMetricsDocumented(const std::string& scraped) {
  const std::set<std::string> families = MetricFamilies(scraped);
  ASSERT_GE(families.size(), 20u) << scraped;
  const std::string ops = SourceFile("docs/OPERATIONS.md");
  ASSERT_FALSE(ops.empty());
  for (const auto& f : families) {
    // The whole name in code: `name` or `name{labels}` (a longer name is another metric).
    EXPECT_TRUE(ops.find("`" + f + "`") != std::string::npos ||
                ops.find("`" + f + "{") != std::string::npos)
        << f << " is not in docs/OPERATIONS.md";
  }
}

inline void ExpectAlertMetricsExported(const std::string& scraped) {
  const std::set<std::string> families = MetricFamilies(scraped);
  const std::string rules = SourceFile("tools/monitoring/tidemark.rules.yml");
  ASSERT_FALSE(rules.empty());
  std::string rest = rules;
  std::smatch m;
  size_t used = 0;
  while (std::regex_search(rest, m, std::regex("tidemark_[a-z_]+"))) {
    std::string name = m.str();
    for (const std::string suffix : {"_count", "_sum", "_bucket"}) {
      if (name.size() > suffix.size() && name.ends_with(suffix) &&
          families.count(name.substr(0, name.size() - suffix.size())))
        name = name.substr(0, name.size() - suffix.size());
    }
    EXPECT_EQ(families.count(name), 1u) << name << " (alert rules) is not exported";
    ++used;
    rest = m.suffix();
  }
  EXPECT_GE(used, 10u) << "the rules name tidemark's metrics";
}

}  // namespace tidemark::testing
