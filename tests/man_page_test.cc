// The man page (docs/tidemark.1, written by hand) against the binary, so neither drifts: every
// command `tidemark --help` lists is a subsection ".SS tidemark <command>" of COMMANDS; every
// flag and positional of `tidemark <command> --help` is an item (.TP) of that subsection, and
// every option of `tidemark --help` one of OPTIONS; every configuration section and key the
// parser knows is a subsection ".SS [<section>]" of CONFIGURATION and an item in it. The keys
// come from the binary too: a key it does not know is refused with the list of the keys it
// knows in that section. Each check runs both ways: an item for something that no longer exists
// fails as well. And the page renders without a groff warning.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "test_util.h"

namespace tidemark {
namespace {

namespace fs = std::filesystem;
using testing::Tidemark;

std::string ManPagePath() {
  const char* src = std::getenv("TIDEMARK_SOURCE");
  EXPECT_NE(src, nullptr) << "TIDEMARK_SOURCE is not set (meson sets it)";
  return (fs::path(src ? src : ".") / "docs" / "tidemark.1").string();
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// What `tidemark [command] --help` (CLI11) lists: the names in its "Options:", "Positionals:"
// and "Subcommands:" sections. An entry starts two spaces in; a line indented further continues
// the description above it.
struct Help {
  std::set<std::string> options;  // every name: "-h", "--help", "--seconds", "--duration"
  std::set<std::string> positionals, subcommands;
};

Help ParseHelp(const std::string& text) {
  Help h;
  std::string section;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ' && line.back() == ':') {
      section = line.substr(0, line.size() - 1);
      for (char& ch : section) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      continue;
    }
    if (line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ') continue;
    const std::vector<std::string> words = Words(line);
    if (section == "options") {
      // "-h,--help  Print...", "--seconds,--duration FLOAT  run: ...", "--config TEXT REQUIRED":
      // names, comma-separated, possibly spread over words that end with a comma.
      for (const std::string& w : words) {
        if (w[0] != '-') break;
        std::istringstream names(w);
        for (std::string n; std::getline(names, n, ',');) {
          if (!n.empty()) h.options.insert(n);
        }
        if (w.back() != ',') break;
      }
    } else if (section == "positionals") {
      h.positionals.insert(words[0]);
    } else if (section == "subcommands") {
      h.subcommands.insert(words[0]);
    }
  }
  return h;
}

Help HelpOf(const std::string& command) {
  const auto r = Tidemark(command + " --help", false);
  EXPECT_EQ(r.code, 0) << "tidemark " << command << " --help: " << r.out;
  return ParseHelp(r.out);
}

// The text a roff input line shows, near enough to compare names: the macro name dropped, its
// quoted arguments joined (without spaces for the alternating-font macros .BR, .BI, ...), font
// changes dropped, and the escapes the page uses for characters turned back into them.
std::string Plain(const std::string& line) {
  std::string text = line;
  if (!line.empty() && line[0] == '.') {
    const size_t sp = line.find(' ');
    const std::string macro = line.substr(1, sp == std::string::npos ? std::string::npos : sp - 1);
    const bool alternating = macro.size() == 2 && macro[0] != macro[1] &&
                             std::string("BIR").find(macro[0]) != std::string::npos &&
                             std::string("BIR").find(macro[1]) != std::string::npos;
    std::vector<std::string> args;
    std::string arg;
    bool quoted = false, in_arg = false;
    const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    for (size_t i = 0; i < rest.size(); ++i) {
      const char ch = rest[i];
      if (quoted && ch == '"' && i + 1 < rest.size() && rest[i + 1] == '"') {
        arg += '"';
        ++i;
      } else if (ch == '"' && (quoted || !in_arg)) {
        quoted = !quoted;
        in_arg = true;
      } else if (ch == ' ' && !quoted) {
        if (in_arg) args.push_back(arg);
        arg.clear();
        in_arg = false;
      } else {
        arg += ch;
        in_arg = true;
      }
    }
    if (in_arg) args.push_back(arg);
    text.clear();
    for (const auto& a : args) text += (text.empty() || alternating ? "" : " ") + a;
  }
  static const std::pair<const char*, const char*> kEscapes[] = {
      {"\\fB", ""}, {"\\fI", ""}, {"\\fR", ""},  {"\\fP", ""},    {"\\-", "-"},
      {"\\&", ""},  {"\\%", ""},  {"\\e", "\\"}, {"\\(dq", "\""}, {"\\(aq", "'"}};
  for (const auto& [from, to] : kEscapes) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at))
      text.replace(at, std::string(from).size(), to);
  }
  return text;
}

// The page's items (the tag line after each .TP), by "<section>/<subsection>": for example
// "COMMANDS/tidemark backup" -> {"--config FILE", ...}, "OPTIONS/" -> {"-h, --help", ...}.
std::map<std::string, std::vector<std::string>> ReadItems(const std::string& path) {
  std::map<std::string, std::vector<std::string>> items;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::string sh, ss;
  bool tag_next = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(".SH ", 0) == 0) {
      sh = Plain(line), ss.clear();
      items[sh + "/"];
    } else if (line.rfind(".SS ", 0) == 0) {
      ss = Plain(line);
      items[sh + "/" + ss];
    } else if (line == ".TP") {
      tag_next = true;
    } else if (tag_next) {
      items[sh + "/" + ss].push_back(Plain(line));
      tag_next = false;
    }
  }
  return items;
}

// The flags an item names ("-h, --help" -> -h, --help) and its first word ("mode",
// "bootstrap_servers = ..." -> bootstrap_servers).
std::set<std::string> ItemFlags(const std::vector<std::string>& tags) {
  std::set<std::string> out;
  for (const auto& tag : tags) {
    for (std::string w : Words(tag)) {
      while (!w.empty() && w.back() == ',') w.pop_back();
      if (w.size() > 1 && w[0] == '-') out.insert(w);
    }
  }
  return out;
}

std::set<std::string> ItemFirstWords(const std::vector<std::string>& tags) {
  std::set<std::string> out;
  for (const auto& tag : tags) {
    const auto words = Words(tag);
    if (!words.empty()) out.insert(words[0]);
  }
  return out;
}

// The subsections of a section: "COMMANDS" -> {"tidemark backup", ...}.
std::set<std::string> Subsections(const std::map<std::string, std::vector<std::string>>& items,
                                  const std::string& sh) {
  std::set<std::string> out;
  for (const auto& [key, tags] : items) {
    if (key.rfind(sh + "/", 0) == 0 && key.size() > sh.size() + 1)
      out.insert(key.substr(sh.size() + 1));
  }
  return out;
}

TEST(ManPageTest, EveryCommandIsASubsectionAndEveryFlagAnItem) {
  const auto items = ReadItems(ManPagePath());
  const Help top = HelpOf("");
  ASSERT_GE(top.subcommands.size(), 10u) << "tidemark --help lists the commands";
  ASSERT_TRUE(top.options.count("--version")) << "tidemark --help lists its options";

  // The options before the command, both ways.
  ASSERT_TRUE(items.count("OPTIONS/")) << "the page has an OPTIONS section";
  const std::set<std::string> top_items = ItemFlags(items.at("OPTIONS/"));
  for (const auto& o : top.options)
    EXPECT_TRUE(top_items.count(o)) << "tidemark " << o << " is not an item of OPTIONS";
  for (const auto& o : top_items)
    EXPECT_TRUE(top.options.count(o)) << "OPTIONS has " << o << ", which tidemark does not take";

  std::set<std::string> commands;
  for (const auto& c : top.subcommands) commands.insert("tidemark " + c);
  for (const auto& s : Subsections(items, "COMMANDS"))
    EXPECT_TRUE(commands.count(s)) << "COMMANDS has \"" << s << "\", which is not a command";

  size_t flags = 0;
  for (const auto& c : top.subcommands) {
    const std::string key = "COMMANDS/tidemark " + c;
    if (!items.count(key)) {
      ADD_FAILURE() << "tidemark " << c << " has no subsection .SS \"tidemark " << c
                    << "\" under COMMANDS";
      continue;
    }
    Help h = HelpOf(c);
    // -h/--help is every command's: OPTIONS says so once.
    EXPECT_TRUE(h.options.erase("-h") && h.options.erase("--help")) << c;
    const std::set<std::string> on_page = ItemFlags(items.at(key));
    const std::set<std::string> first_words = ItemFirstWords(items.at(key));
    for (const auto& o : h.options) {
      EXPECT_TRUE(on_page.count(o)) << "tidemark " << c << " " << o << " is not on the man page";
      ++flags;
    }
    for (const auto& p : h.positionals) {
      EXPECT_TRUE(first_words.count(p))
          << "tidemark " << c << "'s positional " << p << " is not on the man page";
    }
    for (const auto& o : on_page) {
      EXPECT_TRUE(h.options.count(o))
          << "the man page documents tidemark " << c << " " << o << ", which it does not take";
    }
  }
  EXPECT_GE(flags, 60u) << "the commands' flags were read from their --help";
}

// The keys the configuration parser knows in `section` ("" for the sections themselves), from
// its refusal of one it does not: "... (known keys in [kafka]: bootstrap_servers, ...)".
std::set<std::string> KnownKeys(const fs::path& dir, const std::string& section) {
  const std::string file = (dir / "unknown.toml").string();
  std::ofstream(file) << (section.empty() ? "" : "[" + section + "]\n")
                      << "tidemark_no_such_key = 1\n";
  const auto r = Tidemark("run --check --config " + file);
  EXPECT_EQ(r.code, 2) << r.out;
  std::smatch m;
  std::set<std::string> keys;
  if (!std::regex_search(r.out, m, std::regex("known keys in \\[([^\\]]+)\\]: ([^)]*)\\)"))) {
    ADD_FAILURE() << "no list of known keys in: " << r.out;
    return keys;
  }
  std::istringstream list(m.str(2));
  for (std::string k; std::getline(list, k, ',');) keys.insert(Words(k).at(0));
  return keys;
}

TEST(ManPageTest, EveryConfigurationKeyIsAnItem) {
  const fs::path dir = testing::FreshTestDir("man");
  const auto items = ReadItems(ManPagePath());
  const std::set<std::string> sections = KnownKeys(dir, "");
  ASSERT_GE(sections.size(), 5u);
  std::set<std::string> subsections;
  for (const auto& s : sections) subsections.insert("[" + s + "]");
  for (const auto& s : Subsections(items, "CONFIGURATION"))
    EXPECT_TRUE(subsections.count(s)) << "CONFIGURATION has " << s << ", which is no section";
  size_t keys = 0;
  for (const auto& s : sections) {
    const std::string key = "CONFIGURATION/[" + s + "]";
    if (!items.count(key)) {
      ADD_FAILURE() << "[" << s << "] has no subsection .SS \"[" << s << "]\" under CONFIGURATION";
      continue;
    }
    const std::set<std::string> known = KnownKeys(dir, s);
    const std::set<std::string> on_page = ItemFirstWords(items.at(key));
    EXPECT_FALSE(known.empty()) << s;
    for (const auto& k : known) {
      EXPECT_TRUE(on_page.count(k)) << "[" << s << "] " << k << " is not on the man page";
      ++keys;
    }
    for (const auto& k : on_page)
      EXPECT_TRUE(known.count(k)) << "the man page documents [" << s << "] " << k
                                  << ", which the configuration does not know";
  }
  EXPECT_GE(keys, 50u);
  fs::remove_all(dir);
}

TEST(ManPageTest, RendersWithoutWarnings) {
  // -ww: every warning; -z: no output, only the diagnostics.
  const auto r = testing::Shell("groff -man -Tutf8 -ww -z " + ManPagePath() + " 2>&1");
  EXPECT_EQ(r.code, 0) << r.out << " (groff is in groff-base: bash tools/install-deps.sh)";
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace tidemark
