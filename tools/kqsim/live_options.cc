#include "tools/kqsim/live_options.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "fuzz/live.h"
#include "fuzz/run.h"
#include "scenarios/scenario.h"
#include "tools/kqsim/verb.h"

namespace kqsim::cli {

namespace {

// The run verb's options that only mean something in deterministic mode.
constexpr const char* kDeterministicOnly[] = {"--strategy", "--schedules", "--workers",   "--max-steps",
                                              "--no-race",  "--json",      "--save-path", "--access-points"};
constexpr const char* kLiveOnly[] = {"--iterations", "--duration",      "--threads",
                                     "--chaos",      "--stall-timeout", "--profile"};

bool given(const CLI::App* verb, const char* name) {
  if (verb == nullptr) return false;
  const CLI::Option* opt = verb->get_option_no_throw(name);
  return opt != nullptr && opt->count() > 0;
}

uint64_t u64(const char* option, const std::string& text) {
  std::optional<uint64_t> v = fuzz::parse_u64(text);
  if (!v) throw UsageError(fmt::format("{}: '{}' is not a non-negative integer", option, text));
  return *v;
}

double real(const char* option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 || !std::isfinite(v))
    throw UsageError(fmt::format("{}: '{}' is not a number", option, text));
  return v;
}

void print_findings(const fuzz::LiveResult& r) {
  if (r.findings.empty()) return;
  std::cout << fmt::format("{} distinct finding{}:\n", r.findings.size(), r.findings.size() == 1 ? "" : "s");
  int i = 0;
  for (const fuzz::LiveFinding& f : r.findings) {
    std::cout << fmt::format("  [{}] {} (from the {}), first in iteration {}{}\n", ++i,
                             sim::kind_name(f.finding.kind),
                             f.from_witness                                  ? "witness"
                             : f.finding.kind == sim::FindingKind::kDeadlock ? "deadlock detection"
                                                                             : "oracle",
                             f.first_iteration,
                             f.count > 1 ? fmt::format(", in {} iterations", f.count) : "");
    std::string msg = f.finding.message;
    size_t start = 0;
    while (start <= msg.size()) {
      size_t nl = msg.find('\n', start);
      std::cout << "      " << msg.substr(start, nl == std::string::npos ? std::string::npos : nl - start)
                << "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
}

}  // namespace

void add_live_options(CLI::App* verb, LiveCliOptions& o) {
  o.verb = verb;
  verb->add_option("--mode", o.mode,
                   "deterministic (default: simulated threads) or live (OS threads, real locks)")
      ->type_name("MODE");
  verb->add_option("--iterations", o.iterations, "Live: iterations to run (default 100 unless --duration)")
      ->type_name("N");
  verb->add_option("--duration", o.duration, "Live: run iterations for this many seconds instead")
      ->type_name("S");
  verb->add_option(
          "--threads", o.threads,
          "Live: OS threads, a multiple of the scenario's thread count T: runs N/T copies in one kernel")
      ->type_name("N");
  verb->add_option("--chaos", o.chaos, "Live: delay probability per scheduling point, 0..1 (default 0)")
      ->type_name("P");
  verb->add_option("--stall-timeout", o.stall_timeout,
                   "Live: seconds an iteration may take before it is reported as stuck (default 30)")
      ->type_name("S");
  verb->add_flag("--profile", o.profile, "Live: print the lock profile (per lock class, ns)");
}

bool live_requested(const LiveCliOptions& o) {
  if (o.mode == "live") return true;
  if (o.mode != "deterministic")
    throw UsageError(fmt::format("--mode: unknown mode '{}' (modes: deterministic, live)", o.mode));
  for (const char* name : kLiveOnly)
    if (given(o.verb, name)) throw UsageError(fmt::format("{} needs --mode live", name));
  return false;
}

int run_live_action(const std::string& scenario, const std::string& design_name, const std::string& seed,
                    const LiveCliOptions& o) {
  for (const char* name : kDeterministicOnly)
    if (given(o.verb, name))
      throw UsageError(
          fmt::format("{} does not apply to --mode live (live options: --iterations, --duration, "
                      "--threads, --chaos, --stall-timeout, --profile)",
                      name));
  const scenarios::Scenario* sc = scenarios::find_scenario(scenario);
  if (sc == nullptr)
    throw UsageError(
        fmt::format("unknown scenario '{}' (scenarios: {})", scenario, scenarios::scenario_names()));
  const kern::kq_design* design = kern::find_design(design_name);
  if (design == nullptr)
    throw UsageError(fmt::format("unknown design '{}' (designs: {})", design_name, kern::design_names()));

  fuzz::LiveOptions lo;
  if (!o.iterations.empty() && !o.duration.empty())
    throw UsageError("--iterations and --duration: give one of them");
  if (!o.iterations.empty()) {
    lo.iterations = u64("--iterations", o.iterations);
    if (lo.iterations < 1) throw UsageError("--iterations: must be at least 1");
  } else if (!o.duration.empty()) {
    lo.duration_s = real("--duration", o.duration);
    if (lo.duration_s <= 0 || lo.duration_s > 86400)
      throw UsageError(fmt::format("--duration: {} is not between 0 and 86400 seconds", o.duration));
  } else {
    lo.iterations = 100;
  }
  if (!o.threads.empty()) {
    uint64_t t = u64("--threads", o.threads);
    if (t < 1 || t > 256) throw UsageError(fmt::format("--threads: {} is not between 1 and 256", o.threads));
    lo.threads = static_cast<int>(t);
    fuzz::Copies c = fuzz::live_copies(*sc, lo.threads);
    if (!c.error.empty()) throw UsageError(c.error);
  }
  if (!o.chaos.empty()) {
    lo.chaos = real("--chaos", o.chaos);
    if (lo.chaos < 0 || lo.chaos > 1)
      throw UsageError(fmt::format("--chaos: {} is not between 0 and 1", o.chaos));
  }
  if (!o.stall_timeout.empty()) {
    lo.stall_timeout_s = real("--stall-timeout", o.stall_timeout);
    if (lo.stall_timeout_s <= 0) throw UsageError("--stall-timeout: must be positive");
  }
  if (!seed.empty()) {
    lo.seed = u64("--seed", seed);
  } else if (const char* e = std::getenv("KQSIM_SEED"); e != nullptr && *e != '\0') {
    std::optional<uint64_t> v = fuzz::parse_u64(e);
    if (!v) throw UsageError(fmt::format("KQSIM_SEED='{}' is not a non-negative integer", e));
    lo.seed = *v;
  }
  lo.on_stall = [](const std::string& what) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", what.c_str());
    std::fflush(stderr);
    std::_Exit(kExitFailure);
  };
  const bool tty = isatty(STDERR_FILENO) != 0;
  if (tty)
    lo.progress = [](uint64_t done) {
      if (done % 64 != 0) return;
      std::fprintf(stderr, "\r%llu iterations", static_cast<unsigned long long>(done));
      std::fflush(stderr);
    };

  fuzz::LiveResult r = fuzz::run_live(*sc, *design, lo);
  if (tty) std::fprintf(stderr, "\r\033[K");

  const double rate = r.seconds > 0 ? static_cast<double>(r.iterations) / r.seconds : 0;
  std::cout << fmt::format(
      "{} under {}, live: {} iterations in {:.2f} s ({:.0f}/s), {} OS threads ({} cop{}), chaos {:g} ({} "
      "delays), "
      "seed {}\n",
      sc->name(), design->name, r.iterations, r.seconds, rate, r.os_threads, r.copies,
      r.copies == 1 ? "y" : "ies", lo.chaos, r.chaos_delays, lo.seed);
  const scenarios::DesignExpectation* de = sc->expectation_for(design->name);
  std::cout << fmt::format(
      "verdict: {}; {} of {} iterations failed an oracle or deadlocked (deterministic mode expects {}; "
      "live mode finds data races only under ThreadSanitizer)\n",
      r.verdict(), r.failed_iterations, r.iterations,
      de != nullptr ? de->expected.str() : "nothing of this design");
  print_findings(r);
  if (o.profile) std::cout << "lock profile (whole run, ns):\n" << r.profile_table;
  return r.ok() ? kExitOk : kExitFailure;
}

}  // namespace kqsim::cli
