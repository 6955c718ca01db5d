// kqsim bench tailq: the performance targets of docs/performance.md, measured
// as a user would: the whole wall time, start-up included, of
//   kqsim run tailq-pingpong --design fine --strategy random --schedules N
//             --seed 1 --workers W
// run as a child process of this very binary, with its CPU time and peak RSS
// (wait4's rusage). Targets: >= 1.5 M executions/s with one worker (2 M
// executions in <= 1.33 s), near-linear scaling with workers, and a peak RSS
// under 64 MB for 10 M executions.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tools/kqsim/bench.h"

extern char** environ;

namespace kqsim::cli {

namespace {

struct ChildRun {
  double wall = 0;    // seconds
  double cpu = 0;     // user + system seconds
  long max_rss = 0;   // KiB
};

ChildRun run_child(uint64_t schedules, unsigned workers) {
  const std::string n = std::to_string(schedules), w = std::to_string(workers);
  std::vector<std::string> args = {"kqsim", "run", "tailq-pingpong", "--design", "fine", "--strategy", "random",
                                   "--schedules", n, "--seed", "1", "--workers", w};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const auto t0 = std::chrono::steady_clock::now();
  int err = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) throw std::runtime_error(fmt::format("cannot start kqsim: {}", std::strerror(err)));
  int status = 0;
  struct rusage ru {};
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("wait4: {}", std::strerror(errno)));
  ChildRun r;
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("kqsim run tailq-pingpong --design fine did not exit 0 (it must be clean)");
  r.cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  r.max_rss = ru.ru_maxrss;
  return r;
}

void bench_tailq(const BenchOptions& o, BenchReport& out) {
  const uint64_t n = o.quick ? 20'000 : 2'000'000;
  BenchTable& t = out.table(
      fmt::format("tailq-pingpong: kqsim run tailq-pingpong --design fine --strategy random --schedules {} --seed 1",
                  n),
      {"workers", "wall s", "M exec/s", "cpu s", "speedup", "peak RSS MB"});
  double base = 0;
  std::vector<unsigned> ws = {1};
  if (o.workers > 1) ws.push_back(o.workers);
  for (unsigned w : ws) {
    std::vector<double> wall, cpu, rss;
    for (unsigned r = 0; r < o.repetitions; ++r) {
      ChildRun c = run_child(n, w);
      wall.push_back(c.wall);
      cpu.push_back(c.cpu);
      rss.push_back(static_cast<double>(c.max_rss) / 1024.0);
    }
    const double mw = bench_median(wall);
    const double rate = static_cast<double>(n) / mw;
    if (w == 1) base = rate;
    t.rows.push_back({fmt::format("{}", w), fmt::format("{:.2f}", mw), fmt::format("{:.2f}", rate / 1e6),
                      fmt::format("{:.2f}", bench_median(cpu)), base > 0 ? fmt::format("{:.2f}x", rate / base) : "-",
                      fmt::format("{:.1f}", bench_median(rss))});
  }
  t.notes.push_back(fmt::format("median of {} runs; wall time of the whole process, start-up included; target "
                                ">= 1.5 M exec/s with 1 worker",
                                o.repetitions));
  if (!o.quick) {
    const uint64_t big = 10'000'000;
    ChildRun c = run_child(big, 1);
    t.rows.push_back({"1 (10 M executions)", fmt::format("{:.2f}", c.wall),
                      fmt::format("{:.2f}", static_cast<double>(big) / c.wall / 1e6), fmt::format("{:.2f}", c.cpu),
                      "-", fmt::format("{:.1f}", static_cast<double>(c.max_rss) / 1024.0)});
    t.notes.push_back("the 10 M row runs once: its peak RSS is the constant-memory target (< 64 MB)");
  }
}

}  // namespace

KQSIM_REGISTER_BENCH(15, tailq, "the tailq-pingpong targets: executions/s, scaling, peak RSS (child processes)",
                     bench_tailq);

}  // namespace kqsim::cli
