// Every command in the guide runs as written (docs/guide/*.md).
//
// The guide's runnable commands are the lines of its fenced code blocks
// whose language is `sh`. Each such line must start with one of the
// programs a reader has after the default build, run from the repository
// root:
//   build/default/kqsim ...          replaced by KQSIM_BINARY
//   build/default/kqsim_tests ...    replaced by this test binary
// and may be followed by comment lines that state what the command does:
//   # exit N          its exit status (default 0)
//   # expect: REGEX   a regular expression (ECMAScript) that must match
//                     somewhere in its stdout and stderr together
// Any other line in an `sh` block is an error, so a command the test could
// not run cannot hide in the guide. Other blocks (`text`, `c`, `console`)
// are not run. Every chapter must have at least one command.
//
// Each command runs with /bin/sh from the source directory. The whole guide
// is meant to stay well under 20 s in the default preset: its commands use
// small --schedules.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace kqsim {
namespace {

namespace fs = std::filesystem;

struct GuideCommand {
  std::string file;  // docs/guide/<name>.md
  int line = 0;      // 1-based line of the command
  std::string text;  // as written
  int exit_code = 0;
  std::vector<std::string> expects;
};

constexpr const char kKqsim[] = "build/default/kqsim ";
constexpr const char kKqsimTests[] = "build/default/kqsim_tests ";

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Parses one markdown text; appends its commands and returns "" or the first
// problem ("file:line: ...").
std::string parse_guide(const std::string& file, const std::string& text, std::vector<GuideCommand>* out) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  bool in_block = false, runnable = false;
  while (std::getline(in, line)) {
    ++n;
    std::string t = trim(line);
    if (starts_with(t, "```")) {
      if (!in_block) {
        in_block = true;
        runnable = trim(t.substr(3)) == "sh";
      } else {
        in_block = false;
      }
      continue;
    }
    if (!in_block || !runnable || t.empty()) continue;
    const std::string where = file + ":" + std::to_string(n) + ": ";
    if (starts_with(t, "#")) {
      if (out->empty() || out->back().file != file) return where + "a comment before any command";
      std::string c = trim(t.substr(1));
      if (starts_with(c, "exit ")) {
        try {
          out->back().exit_code = std::stoi(c.substr(5));
        } catch (...) {
          return where + "bad exit status '" + c + "'";
        }
      } else if (starts_with(c, "expect: ")) {
        std::string re = c.substr(8);
        try {
          std::regex check(re);
        } catch (const std::regex_error&) {
          return where + "bad regular expression '" + re + "'";
        }
        out->back().expects.push_back(re);
      }
      continue;  // other comments are prose
    }
    if (!starts_with(t + " ", kKqsim) && !starts_with(t + " ", kKqsimTests))
      return where + "an sh block line that is not a kqsim command: '" + t + "'";
    out->push_back(GuideCommand{file, n, t, 0, {}});
  }
  if (in_block) return file + ": unterminated code block";
  return "";
}

std::string guide_dir() { return std::string(KQSIM_SOURCE_DIR) + "/docs/guide"; }

std::vector<std::string> guide_files() {
  std::vector<std::string> files;
  if (!fs::is_directory(guide_dir())) return files;
  for (const auto& e : fs::directory_iterator(guide_dir()))
    if (e.path().extension() == ".md") files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string self_binary() { return fs::read_symlink("/proc/self/exe").string(); }

// Runs `cmd` (a guide command) from the source directory; returns its output
// (stdout and stderr) and sets *status to its exit status (-1 if it did not exit).
std::string run_command(const std::string& cmd, int* status) {
  std::string real;
  if (starts_with(cmd + " ", kKqsimTests))
    real = "'" + self_binary() + "'" + cmd.substr(sizeof(kKqsimTests) - 2);
  else
    real = std::string("'") + KQSIM_BINARY + "'" + cmd.substr(sizeof(kKqsim) - 2);
  std::string shell = "cd '" + std::string(KQSIM_SOURCE_DIR) + "' && " + real + " 2>&1";
  FILE* p = popen(shell.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return "popen failed";
  }
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// ---- the parser ----

TEST(GuideParserSmoke, CommandsCommentsAndOtherBlocks) {
  std::vector<GuideCommand> cmds;
  std::string md =
      "Prose.\n"
      "```sh\n"
      "build/default/kqsim list\n"
      "# expect: kern-57945\n"
      "build/default/kqsim run x --schedules 5\n"
      "# exit 2\n"
      "# a remark\n"
      "# expect: unknown scenario\n"
      "```\n"
      "```text\n"
      "anything at all\n"
      "```\n"
      "```sh\n"
      "build/default/kqsim_tests --gtest_filter=A.B\n"
      "```\n";
  ASSERT_EQ(parse_guide("t.md", md, &cmds), "");
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].text, "build/default/kqsim list");
  EXPECT_EQ(cmds[0].line, 3);
  EXPECT_EQ(cmds[0].exit_code, 0);
  EXPECT_EQ(cmds[0].expects, std::vector<std::string>{"kern-57945"});
  EXPECT_EQ(cmds[1].exit_code, 2);
  EXPECT_EQ(cmds[1].expects, std::vector<std::string>{"unknown scenario"});
  EXPECT_EQ(cmds[2].text, "build/default/kqsim_tests --gtest_filter=A.B");
}

TEST(GuideParserSmoke, RejectsWhatItCouldNotRun) {
  std::vector<GuideCommand> cmds;
  EXPECT_NE(parse_guide("t.md", "```sh\nmake all\n```\n", &cmds), "");
  EXPECT_NE(parse_guide("u.md", "```sh\n# exit 1\n```\n", &cmds), "");
  EXPECT_NE(parse_guide("v.md", "```sh\nbuild/default/kqsim list\n# exit one\n```\n", &cmds), "");
  EXPECT_NE(parse_guide("w.md", "```sh\nbuild/default/kqsim list\n# expect: (\n```\n", &cmds), "");
  EXPECT_NE(parse_guide("x.md", "```sh\nbuild/default/kqsim list\n", &cmds), "");
  EXPECT_NE(parse_guide("y.md", "```sh\nbuild/default/kqsimfoo list\n```\n", &cmds), "");
}

// ---- the guide ----

TEST(GuideCommands, TheGuideHasChapters) {
  std::vector<std::string> files = guide_files();
  EXPECT_GE(files.size(), 10u) << "docs/guide/ is missing or nearly empty";
  EXPECT_NE(std::find(files.begin(), files.end(), "README.md"), files.end());
}

class GuideChapter : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Docs, GuideChapter, ::testing::ValuesIn(guide_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 3);
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

TEST_P(GuideChapter, EveryCommandRunsAsWritten) {
  const std::string file = GetParam();
  std::vector<GuideCommand> cmds;
  ASSERT_EQ(parse_guide(file, read_text(guide_dir() + "/" + file), &cmds), "");
  EXPECT_FALSE(cmds.empty()) << file << " has no runnable command (a fenced sh block)";
  for (const GuideCommand& c : cmds) {
    int status = 0;
    std::string out = run_command(c.text, &status);
    const std::string where = c.file + ":" + std::to_string(c.line) + ": " + c.text;
    EXPECT_EQ(status, c.exit_code) << where << "\n" << out;
    for (const std::string& re : c.expects)
      EXPECT_TRUE(std::regex_search(out, std::regex(re))) << where << "\nexpected /" << re << "/ in:\n" << out;
  }
}

}  // namespace
}  // namespace kqsim
