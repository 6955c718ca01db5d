// kqsim bench delivery: the delivery-cost curve (docs/delivery.md).
//
// For N = 100, 500, 800, 1,000 and 10,000 long-lived pipes, two of them
// written before each call, the cost of one call that collects the events:
//   - in the model, kevent() under "fine" (FreeBSD: KNOTE() queues, the scan
//     visits the queue) and "poll" (the scan asks every knote's filter), in
//     scheduling points (deterministic) and in ns (scenarios/delivery_curve.h);
//   - on this machine's Linux kernel, poll(2) over N pollfds and
//     epoll_wait(2) on an epoll set of N, on N real pipes (FIFOs, see
//     RealPipes: one descriptor per idle pipe), same activity. The soft
//     RLIMIT_NOFILE is raised to the hard limit first.
// Medians: each figure is the median over --repetitions batches of the median
// of the batch's calls. When the environment variable KQSIM_DELIVERY_SVG
// names a file, the section also writes the curve there as an SVG plot
// (tools/kqsim/svg_plot.h); docs/delivery.svg is made that way.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "knote/design.h"
#include "scenarios/delivery_curve.h"
#include "tools/kqsim/bench.h"
#include "tools/kqsim/svg_plot.h"

namespace kqsim::cli {

namespace {

constexpr int kActive = 2;
constexpr int kMaxEvents = 64;

// A Linux figure, or why there is none.
struct RealFigure {
  double ns = -1;
  std::string why_not;
};

std::string errno_text(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

// N real pipes, as named pipes (FIFOs: Linux pipes with a name), closed and
// removed on destruction. Why FIFOs: an idle anonymous pipe costs two
// descriptors, and 10,000 of them exceed the hard RLIMIT_NOFILE of 20,000 of
// some machines. A FIFO opened O_RDONLY | O_NONBLOCK that never had a writer
// is an idle pipe on one descriptor: Linux reports it neither readable nor
// hung up (pipe_poll reports POLLHUP only once a writer has come and gone).
// So every pipe has its read end, and only a pipe that is written gets a
// write end, opened the first time it is chosen and kept open (closing it
// would make the read end report POLLHUP from then on).
class RealPipes {
 public:
  explicit RealPipes(int n) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/kqsim-fifos-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error(errno_text("mkdtemp"));
    dir_ = templ;
    w_.assign(static_cast<size_t>(n), -1);
    for (int i = 0; i < n; ++i) {
      const std::string path = fifo_path(i);
      if (mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error(errno_text("mkfifo"));
      const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error(errno_text("open (FIFO read end)"));
      r_.push_back(fd);
    }
  }
  ~RealPipes() {
    for (int fd : r_) close(fd);
    for (int fd : w_)
      if (fd >= 0) close(fd);
    for (size_t i = 0; i < r_.size(); ++i) unlink(fifo_path(static_cast<int>(i)).c_str());
    rmdir(dir_.c_str());
  }
  RealPipes(const RealPipes&) = delete;
  RealPipes& operator=(const RealPipes&) = delete;
  int size() const { return static_cast<int>(r_.size()); }
  int rfd(int i) const { return r_[static_cast<size_t>(i)]; }
  // Write ends opened so far.
  int writers() const { return static_cast<int>(std::count_if(w_.begin(), w_.end(), [](int fd) { return fd >= 0; })); }

  // The pipes written before call `call`: the same choice as the model's.
  std::vector<int> activate(int call) {
    const int n = size(), stride = n / kActive;
    const int base = static_cast<int>((static_cast<uint64_t>(call) * 7919u) % static_cast<uint64_t>(n));
    std::vector<int> chosen;
    for (int j = 0; j < kActive; ++j) {
      const int i = (base + j * stride) % n;
      if (write(wfd(i), "x", 1) != 1) throw std::runtime_error(errno_text("write"));
      chosen.push_back(i);
    }
    return chosen;
  }
  void consume(const std::vector<int>& chosen) const {
    char buf[8];
    for (int i : chosen)
      if (read(r_[static_cast<size_t>(i)], buf, sizeof buf) != 1) throw std::runtime_error(errno_text("read"));
  }

 private:
  std::string fifo_path(int i) const { return fmt::format("{}/{}", dir_, i); }
  int wfd(int i) {
    int& fd = w_[static_cast<size_t>(i)];
    if (fd < 0) {
      fd = open(fifo_path(i).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error(errno_text("open (FIFO write end)"));
    }
    return fd;
  }

  std::string dir_;
  std::vector<int> r_, w_;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (once, at the start).
void raise_nofile_to_hard() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);  // on failure, the check below says what is missing
}

// Whether `need` descriptors fit the soft limit; returns "" or why not.
std::string check_nofile(rlim_t need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return errno_text("getrlimit");
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return "";
  return fmt::format("needs {} descriptors, RLIMIT_NOFILE is {} (hard limit {})", need, rl.rlim_cur, rl.rlim_max);
}

template <class Call>
double median_of_batches(int batches, int calls, Call&& one_call) {
  std::vector<double> per_batch;
  int call = 0;
  for (int b = 0; b < batches; ++b) {
    std::vector<double> ns;
    for (int c = 0; c < calls; ++c, ++call) ns.push_back(one_call(call));
    per_batch.push_back(bench_median(ns));
  }
  return bench_median(per_batch);
}

void check_ready(const char* what, int n, const std::vector<int>& chosen, std::vector<int> got) {
  std::sort(got.begin(), got.end());
  std::vector<int> want = chosen;
  std::sort(want.begin(), want.end());
  if (n != kActive || got != want)
    throw std::runtime_error(fmt::format("{} returned {} ready pipes, expected {}", what, n, kActive));
}

// poll(2) and epoll_wait(2) on n real pipes.
std::pair<RealFigure, RealFigure> measure_real(int n, int batches, int calls) {
  RealFigure pf, ef;
  // n read ends, a write end per pipe ever written (at most kActive per
  // call), the epoll descriptor, stdio and a little slack.
  const std::string why =
      check_nofile(static_cast<rlim_t>(n + std::min(n, kActive * batches * calls) + 16));
  if (!why.empty()) {
    pf.why_not = ef.why_not = why;
    return {pf, ef};
  }
  RealPipes pipes(n);
  std::vector<struct pollfd> fds(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) fds[static_cast<size_t>(i)] = {pipes.rfd(i), POLLIN, 0};
  pf.ns = median_of_batches(batches, calls, [&](int call) {
    std::vector<int> chosen = pipes.activate(call);
    const auto t0 = std::chrono::steady_clock::now();
    const int r = poll(fds.data(), static_cast<nfds_t>(n), 0);
    const auto t1 = std::chrono::steady_clock::now();
    if (r < 0) throw std::runtime_error(errno_text("poll"));
    std::vector<int> got;
    for (int i = 0; i < n; ++i)
      if (fds[static_cast<size_t>(i)].revents & POLLIN) got.push_back(i);
    check_ready("poll()", r, chosen, got);
    pipes.consume(chosen);
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  });

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw std::runtime_error(errno_text("epoll_create1"));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{ep};
  for (int i = 0; i < n; ++i) {
    struct epoll_event e {};
    e.events = EPOLLIN;
    e.data.u32 = static_cast<uint32_t>(i);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pipes.rfd(i), &e) != 0) throw std::runtime_error(errno_text("epoll_ctl"));
  }
  struct epoll_event evs[kMaxEvents];
  ef.ns = median_of_batches(batches, calls, [&](int call) {
    std::vector<int> chosen = pipes.activate(call);
    const auto t0 = std::chrono::steady_clock::now();
    const int r = epoll_wait(ep, evs, kMaxEvents, 0);
    const auto t1 = std::chrono::steady_clock::now();
    if (r < 0) throw std::runtime_error(errno_text("epoll_wait"));
    std::vector<int> got;
    for (int i = 0; i < r; ++i) got.push_back(static_cast<int>(evs[i].data.u32));
    check_ready("epoll_wait()", r, chosen, got);
    pipes.consume(chosen);
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
  });
  return {pf, ef};
}

std::string ns_cell(const RealFigure& f) { return f.ns >= 0 ? fmt::format("{:.0f}", f.ns) : "n/a"; }

void bench_delivery(const BenchOptions& o, BenchReport& out) {
  const std::vector<int> sizes = o.quick ? std::vector<int>{50, 200} : std::vector<int>{100, 500, 800, 1000, 10000};
  const int calls = o.quick ? 4 : 32;
  const int batches = static_cast<int>(o.repetitions);
  raise_nofile_to_hard();
  const kern::kq_design* fine = kern::find_design("fine");
  const kern::kq_design* poll_design = kern::find_design("poll");
  if (fine == nullptr || poll_design == nullptr) throw std::runtime_error("the designs fine and poll are needed");

  BenchTable& t = out.table("Delivery cost per call: N long-lived pipes, 2 written before each call",
                            {"pipes", "fine steps", "poll steps", "fine ns", "poll ns", "Linux poll() ns",
                             "Linux epoll_wait() ns"});
  SvgSeries s_fine{"kevent(), design fine (model)", {}, "#1f77b4", false};
  SvgSeries s_poll{"kevent(), design poll (model)", {}, "#d62728", false};
  SvgSeries n_fine{"kevent(), design fine (model)", {}, "#1f77b4", false};
  SvgSeries n_poll{"kevent(), design poll (model)", {}, "#d62728", false};
  SvgSeries n_lpoll{"Linux poll()", {}, "#ff7f0e", true};
  SvgSeries n_epoll{"Linux epoll_wait()", {}, "#2ca02c", true};
  std::vector<std::string> unavailable;
  for (int n : sizes) {
    scenarios::DeliveryOptions d;
    d.pipes = n;
    d.active = kActive;
    d.calls = calls;
    d.batches = batches;
    const scenarios::DeliveryResult f = scenarios::measure_delivery(*fine, d);
    if (!f.error.empty()) throw std::runtime_error(fmt::format("fine, {} pipes: {}", n, f.error));
    const scenarios::DeliveryResult p = scenarios::measure_delivery(*poll_design, d);
    if (!p.error.empty()) throw std::runtime_error(fmt::format("poll, {} pipes: {}", n, p.error));
    const auto [lp, le] = measure_real(n, batches, calls);
    if (!lp.why_not.empty()) unavailable.push_back(fmt::format("{} pipes: {}", n, lp.why_not));
    t.rows.push_back({fmt::format("{}", n), fmt::format("{:.0f}", f.steps_per_call),
                      fmt::format("{:.0f}", p.steps_per_call), fmt::format("{:.0f}", f.ns_per_call),
                      fmt::format("{:.0f}", p.ns_per_call), ns_cell(lp), ns_cell(le)});
    const double x = n;
    s_fine.points.push_back({x, f.steps_per_call});
    s_poll.points.push_back({x, p.steps_per_call});
    n_fine.points.push_back({x, f.ns_per_call});
    n_poll.points.push_back({x, p.ns_per_call});
    if (lp.ns >= 0) n_lpoll.points.push_back({x, lp.ns});
    if (le.ns >= 0) n_epoll.points.push_back({x, le.ns});
  }
  t.notes.push_back(fmt::format(
      "steps: scheduling points of one kevent() in the model (deterministic); ns: wall time of one call; "
      "each figure the median over {} batch(es) of the median of {} calls",
      batches, calls));
  t.notes.push_back(
      "model: one simulated thread, race detector and witness off; fine = FreeBSD (KNOTE() queues, the scan "
      "visits kq_head), poll = the scan asks every registered knote's filter");
  t.notes.push_back("Linux: poll(2) over N pollfds and epoll_wait(2) on an epoll set of N, level-triggered, "
                    "timeout 0, on N real pipes of this machine (FIFOs: one descriptor per idle pipe, a write end "
                    "only for the pipes written), the same pipes written");
  for (const std::string& u : unavailable) t.notes.push_back("n/a: " + u);

  if (const char* path = std::getenv("KQSIM_DELIVERY_SVG"); path != nullptr && *path != '\0') {
    SvgPanel steps{"Scheduling points per kevent() (model)", "registered pipes (N)", "scheduling points per call",
                   true, true, {s_fine, s_poll}};
    SvgPanel ns{"Time per call", "registered pipes (N)", "ns per call", true, true, {n_fine, n_poll, n_lpoll, n_epoll}};
    const std::string svg = svg_plot("Delivery cost: callback enqueueing (kqueue) vs scanning (poll), 2 active pipes",
                                     {steps, ns});
    std::ofstream os(path);
    os << svg;
    if (!os) throw std::runtime_error(fmt::format("cannot write the plot to '{}'", path));
    t.notes.push_back(fmt::format("plot written to {}", path));
  }
}

}  // namespace

KQSIM_REGISTER_BENCH(40, delivery, "delivery cost per call vs registered pipes: fine vs poll, Linux poll/epoll",
                     bench_delivery);

}  // namespace kqsim::cli
