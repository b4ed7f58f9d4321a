// Checks that keep the metrics, their documentation, the shipped alert rules and the Grafana
// dashboard in step: every metric family a running `tidemark run` exports is described in
// docs/OPERATIONS.md, and every tidemark_ metric tools/monitoring/tidemark.rules.yml and the
// expressions of tools/monitoring/tidemark.dashboard.json use is exported. TIDEMARK_SOURCE (set
// by meson) is the source tree.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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

// The tidemark_ metric names `text` uses, a summary's _count and _sum (or a histogram's
// _bucket) taken as its family when `families` has that.
inline std::vector<std::string> MetricNamesIn(const std::string& text,
                                              const std::set<std::string>& families) {
  std::vector<std::string> out;
  const std::regex name("tidemark_[a-z_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator();
       ++it) {
    std::string n = it->str();
    for (const std::string suffix : {"_count", "_sum", "_bucket"}) {
      if (n.size() > suffix.size() && n.ends_with(suffix) &&
          families.count(n.substr(0, n.size() - suffix.size())))
        n = n.substr(0, n.size() - suffix.size());
    }
    out.push_back(n);
  }
  return out;
}

inline void ExpectAlertMetricsExported(const std::string& scraped) {
  const std::set<std::string> families = MetricFamilies(scraped);
  const std::string rules = SourceFile("tools/monitoring/tidemark.rules.yml");
  ASSERT_FALSE(rules.empty());
  const std::vector<std::string> used = MetricNamesIn(rules, families);
  for (const auto& name : used)
    EXPECT_EQ(families.count(name), 1u) << name << " (alert rules) is not exported";
  EXPECT_GE(used.size(), 10u) << "the rules name tidemark's metrics";
}

// The Grafana dashboard, checked for the form Grafana imports: one JSON document with a
// DS_PROMETHEUS datasource input, and every panel (rows, which only group, aside) querying that
// datasource with at least one target whose expression filters by the $instance variable.
// Appends to `exprs` each target's expression (PromQL) and to `queries` each template
// variable's query (Grafana's, such as label_values(...)).
inline void ReadDashboard(std::vector<std::string>* exprs, std::vector<std::string>* queries) {
  const std::string text = SourceFile("tools/monitoring/tidemark.dashboard.json");
  ASSERT_FALSE(text.empty());
  nlohmann::json d = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(d.is_discarded()) << "tidemark.dashboard.json is not JSON";
  ASSERT_TRUE(d.is_object());
  const std::string ds = "${DS_PROMETHEUS}";
  bool input = false;
  for (const auto& in : d.value("__inputs", nlohmann::json::array()))
    input |= in.value("name", "") == "DS_PROMETHEUS" && in.value("type", "") == "datasource" &&
             in.value("pluginId", "") == "prometheus";
  EXPECT_TRUE(input) << "no __inputs entry for the DS_PROMETHEUS datasource";
  EXPECT_GE(d.value("schemaVersion", 0), 36);
  EXPECT_LE(d.value("schemaVersion", 0), 39);
  EXPECT_FALSE(d.value("uid", "").empty());
  EXPECT_FALSE(d.value("title", "").empty());
  auto uses_ds = [&](const nlohmann::json& j) {
    return j.contains("datasource") && j["datasource"].is_object() &&
           j["datasource"].value("type", "") == "prometheus" &&
           j["datasource"].value("uid", "") == ds;
  };
  // A collapsed row holds its panels; an open one is followed by them.
  std::vector<nlohmann::json> panels;
  for (const auto& p : d.value("panels", nlohmann::json::array())) {
    panels.push_back(p);
    for (const auto& inner : p.value("panels", nlohmann::json::array())) panels.push_back(inner);
  }
  std::set<int> ids;
  size_t data_panels = 0;
  for (const auto& p : panels) {
    const std::string title = p.value("title", "");
    EXPECT_TRUE(ids.insert(p.value("id", -1)).second) << title << ": its id is not unique";
    const auto g = p.value("gridPos", nlohmann::json::object());
    EXPECT_TRUE(g.value("w", 0) > 0 && g.value("h", 0) > 0 &&
                g.value("x", 0) + g.value("w", 0) <= 24)
        << title << ": gridPos " << g.dump();
    if (p.value("type", "") == "row") continue;
    ++data_panels;
    EXPECT_FALSE(title.empty()) << "a panel has no title";
    EXPECT_TRUE(uses_ds(p)) << title << ": its datasource is not " << ds;
    const auto targets = p.value("targets", nlohmann::json::array());
    EXPECT_GE(targets.size(), 1u) << title << ": no target";
    for (const auto& t : targets) {
      const std::string expr = t.value("expr", "");
      EXPECT_FALSE(expr.empty()) << title << ": a target without an expression";
      EXPECT_NE(expr.find("$instance"), std::string::npos)
          << title << ": " << expr << " does not follow the instance variable";
      if (t.contains("datasource")) {
        EXPECT_TRUE(uses_ds(t)) << title << ": a target's datasource";
      }
      exprs->push_back(expr);
    }
  }
  EXPECT_GE(data_panels, 15u);
  const auto templating = d.value("templating", nlohmann::json::object());
  for (const auto& v : templating.value("list", nlohmann::json::array())) {
    EXPECT_TRUE(uses_ds(v)) << "variable " << v.value("name", "");
    const auto q = v.value("query", nlohmann::json());
    queries->push_back(q.is_object()   ? q.value("query", "")
                       : q.is_string() ? q.get<std::string>()
                                       : "");
  }
}

inline void ExpectDashboardMetricsExported(const std::string& scraped) {
  const std::set<std::string> families = MetricFamilies(scraped);
  std::vector<std::string> exprs;
  ReadDashboard(&exprs, &exprs);
  std::set<std::string> used;
  for (const auto& e : exprs) {
    for (const auto& name : MetricNamesIn(e, families)) {
      EXPECT_EQ(families.count(name), 1u) << name << " (dashboard: " << e << ") is not exported";
      used.insert(name);
    }
  }
  EXPECT_GE(used.size(), 20u) << "the dashboard shows tidemark's metrics";
}

}  // namespace tidemark::testing
