// The shipped Grafana dashboard (tools/monitoring/tidemark.dashboard.json) without a service: it
// is the JSON Grafana imports, every panel queries the DS_PROMETHEUS datasource, and promtool
// parses every expression. That each metric it names is exported is checked by the s3 suite's
// service test, which runs the service with [upload] (metrics_check.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "cli_util.h"
#include "metrics_check.h"
#include "test_util.h"

namespace tidemark {
namespace {

TEST(DashboardTest, IsImportableAndPromtoolParsesEveryExpression) {
  std::vector<std::string> exprs, queries;
  testing::ReadDashboard(&exprs, &queries);
  ASSERT_GE(exprs.size(), 20u);
  EXPECT_EQ(queries.size(), 1u) << "the instance variable";
  // Each expression as a recording rule, Grafana's variables given values a query could have.
  const auto dir = testing::FreshTestDir("dashboard");
  const std::string rules = (dir / "dashboard.rules.yml").string();
  {
    std::ofstream out(rules);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    for (size_t i = 0; i < exprs.size(); ++i) {
      std::string e = std::regex_replace(exprs[i], std::regex("\\$__rate_interval"), "1m");
      e = std::regex_replace(e, std::regex("\\$instance"), ".+");
      // A JSON string is a YAML double-quoted scalar.
      out << "      - record: dashboard:expr" << i << "\n        expr: " << nlohmann::json(e).dump()
          << "\n";
    }
  }
  const auto r = testing::Shell("promtool check rules " + rules + " 2>&1");
  EXPECT_EQ(r.code, 0) << r.out
                       << (r.code == 127 ? " (promtool is missing: bash tools/install-deps.sh)"
                                         : "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tidemark
