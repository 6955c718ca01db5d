// bench.h - the sections of `kqsim bench`.
//
// `kqsim bench` measures what the checker is worth: scheduling points per
// second, executions per second, time to first finding, live-mode throughput,
// the delivery-cost curve. Each family of measurements is a *section* in its
// own file, tools/kqsim/bench_<name>.cc, which defines
//
//   namespace kqsim::cli {
//   void bench_<name>(const BenchOptions& o, BenchReport& out) {
//     BenchTable& t = out.table("Title", {"column", "column", ...});
//     t.rows.push_back({"cell", "cell", ...});
//     t.notes.push_back("what the figures mean, how measured");
//   }
//   KQSIM_REGISTER_BENCH(<rank>, <name>, "one line for --list", bench_<name>);
//   }
//
// and nothing else: the CMake glob compiles it into `kqsim` and the
// registration makes `kqsim bench` offer it. Sections run in rank order;
// `kqsim bench NAME...` runs only those.
//
// Contract of a section:
//   - It repeats each measurement o.repetitions times and reports the median
//     (bench_median), saying so in a note; figures are from this run only.
//   - o.quick asks for a fast smoke run (tiny sizes, one repetition) that
//     tests use to check the section works; its figures mean nothing.
//   - It writes nothing to stdout itself: the verb prints the tables (text or
//     JSON). Progress, if any, goes to stderr only when it is a terminal.
//   - A failure to measure (a scenario missing, a syscall failing) throws
//     std::runtime_error with one line; the verb reports it and exits 1.
#pragma once

#include <string>
#include <vector>

namespace kqsim::cli {

struct BenchOptions {
  unsigned repetitions = 5;
  unsigned workers = 0;  // "all cores": std::thread::hardware_concurrency() when 0
  bool quick = false;
};

struct BenchTable {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;
};

struct BenchReport {
  std::string section;
  std::vector<BenchTable> tables;
  BenchTable& table(std::string title, std::vector<std::string> columns) {
    tables.push_back(BenchTable{std::move(title), std::move(columns), {}, {}});
    return tables.back();
  }
};

using BenchFn = void (*)(const BenchOptions& o, BenchReport& out);

struct BenchSection {
  int rank;
  const char* name;
  const char* summary;
  BenchFn run;
};

class BenchRegistration {
 public:
  BenchRegistration(int rank, const char* name, const char* summary, BenchFn fn);
};

// All sections, by (rank, name).
std::vector<BenchSection> bench_sections();

// The median of `v` (the mean of the two middle values for an even count);
// 0 for an empty vector.
double bench_median(std::vector<double> v);

}  // namespace kqsim::cli

#define KQSIM_REGISTER_BENCH(rank, name, summary, fn) \
  static const ::kqsim::cli::BenchRegistration kqsim_bench_registration_##name { rank, #name, summary, fn }
