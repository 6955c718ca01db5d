// fork-vs-kqclose: fork() of a process watched with NOTE_TRACK racing the
// close() of the kqueue that watches it.
//
// The story. EVFILT_PROC with NOTE_TRACK asks the kernel to follow fork():
// when the watched process forks, knote_fork() registers two new knotes on
// the child in the same kqueue (the NOTE_CHILD notice and a knote tracking
// the child's own events). It does so from fork1(), outside any kevent() call
// on that kqueue, after dropping the parent's knlist lock and holding the
// parent's tracking knote in flux. Meanwhile another thread may close() the
// kqueue: kqueue_close() sets KQ_CLOSING and drops every knote it finds.
// Before FreeBSD's fix (https://reviews.freebsd.org/D18316: "knote_fork()
// may attempt to register an event after we have started
// to close a kqueue. Check for KQ_CLOSING with the kqueue lock held before
// resizing the fd table or creating a knote hash table, and before inserting
// a new knote into one of the kqueue tables"), the new knotes could be
// inserted into a kqueue that had already been drained: a knote left on a
// freed kqueue, which the child's next event (its exit) would then enqueue.
// knote_fork() itself came with FreeBSD PR 108201, which moved NOTE_TRACK
// out of filt_proc() because calling kqueue_register() from a filter
// recursed into kern_event under its locks.
//
// The model has the fixed code, with two independent protections: knote_fork()
// keeps the parent's tracking knote in flux while it registers, so
// kqueue_drain() waits for it before going on; and knote_attach() and
// kqueue_expand() refuse a closing kqueue (EBADF, reported to the watcher as
// NOTE_TRACKERR). This scenario is their regression test. Removing either
// one alone is covered by the other (measured: clean in 5000 executions);
// removing both (the kn_enter_flux/kn_leave_flux pair in knote_fork(),
// model/kern/proc.cc, and the KQ_CLOSING test in knote_attach()) makes "fine"
// report a knote left on the closed kqueue (4 of 5000 executions, seed 1).
//
// The workload: before, a kqueue watching process 1 (the scenario's own
// process) with EVFILT_PROC NOTE_FORK | NOTE_TRACK | NOTE_EXIT. cpu0 forks a
// child that exits at once; cpu1 closes the kqueue. Oracle (after every
// process thread has finished): close() succeeded and the closed kqueue holds
// no knote - nothing on kq_head, kq_count 0, every kq_knlist and kq_knhash
// bucket empty; fork() succeeded.
//
// Verdicts: fine, giant and none clean (none and giant run fork, exit, close
// and kevent under Giant); global refuses NOTE_TRACK (EINVAL, as Feldman's
// design did), and its close() reports feldman-lor's lock-order reversal.
#include <fmt/format.h>

#include "knote/knote.h"
#include "model/kern/bsd_errno.h"
#include "model/kern/filedesc.h"
#include "model/kern/proc.h"
#include "model/kern/syscalls.h"
#include "model/kern/world.h"
#include "scenarios/scenario.h"

namespace kqsim::scenarios {
namespace {

using sim::FindingKind;

struct State {
  int kq = -1;
  kern::kqueue* kqp = nullptr;  // the kqueue object, to inspect after close()
  int refused = 0;              // errno of a refused NOTE_TRACK registration
  int child = 0;
  int close_result = -2;
};

// What is left on a closed kqueue: one line per kind of leftover, empty when
// nothing. Runs after every thread has finished.
std::string leftovers(const kern::kqueue* kq) {
  std::string out;
  if (!kq->kq_head.empty()) out += " a knote is still on kq_head\n";
  if (kq->kq_count.raw() != 0) out += fmt::format(" kq_count is {}\n", kq->kq_count.raw());
  for (int i = 0; i < kq->kq_knlistsize.raw(); ++i)
    if (!kq->kq_knlist[i].empty()) out += fmt::format(" kq_knlist[{}] is not empty\n", i);
  if (kq->kq_knhashmask.raw() != 0)
    for (unsigned long i = 0; i <= kq->kq_knhashmask.raw(); ++i)
      if (!kq->kq_knhash[i].empty()) out += fmt::format(" kq_knhash[{}] is not empty\n", i);
  return out;
}

const auto& kForkVsKqclose = register_scenario<State>({
    .name = "fork-vs-kqclose",
    .summary = "fork() of a NOTE_TRACK-watched process racing close() of the kqueue (FreeBSD D18316)",
    .story =
        "NOTE_TRACK makes fork1() call knote_fork(), which registers two knotes for the child in the "
        "watching kqueue, outside any kevent() call. If another thread is closing that kqueue, the new "
        "knotes must not land in a kqueue that kqueue_close() has already drained: FreeBSD's D18316 "
        "(2018) added the KQ_CLOSING checks under the kqueue lock. cpu0 forks a child that exits at "
        "once; cpu1 closes the kqueue. Oracle: close() succeeds and the closed kqueue holds no knote "
        "(kq_head, kq_count, kq_knlist, kq_knhash). The model has both protections of the fix (the "
        "parent's knote in flux, the KQ_CLOSING checks); remove both to watch the oracle fire.",
    .threads = 2,
    .before =
        [](Env<State>& env) {
          State& s = env.state;
          s.kq = kern::sys_kqueue();
          kern::thread* td = kern::curthread();
          s.kqp = static_cast<kern::kqueue*>(td->td_proc->p_fd->fd_ofiles[s.kq]->f_data);
          if (kev_change(s.kq, static_cast<uintptr_t>(kern::sys_getpid()), EVFILT_PROC, EV_ADD,
                         NOTE_FORK | NOTE_TRACK | NOTE_EXIT) != 0)
            s.refused = kern::sys_errno();
        },
    .thread =
        [](Env<State>& env, int i) {
          State& s = env.state;
          if (i == 0)
            s.child = kern::sys_fork(+[](void*) {}, nullptr);  // the child exits at once
          else
            s.close_result = kern::sys_close(s.kq);
        },
    .invariant = {},
    .after =
        [](Env<State>& env) {
          State& s = env.state;
          kern::fork_join_all();  // the child (and its exit) has finished
          if (s.refused != 0 && s.refused != bsd::kEINVAL)
            report(FindingKind::kOracle,
                   fmt::format("registering NOTE_TRACK failed with an unexpected errno\n errno {}", s.refused));
          if (s.child <= 0) report(FindingKind::kOracle, "fork() of the watched process failed");
          if (s.close_result != 0) report(FindingKind::kOracle, "close() of the kqueue failed");
          std::string left = leftovers(s.kqp);
          if (!left.empty() && left.back() == '\n') left.pop_back();
          if (!left.empty())
            report(FindingKind::kOracle, "knote left on a closed kqueue (knote_fork vs kqueue_close, D18316)\n" +
                                             left);
        },
    .expect =
        {
            {"none", Expected::clean(), "fork, exit, close and kevent all run under Giant"},
            {"giant", Expected::clean(), "fork, exit and close all serialised by Giant"},
            {"global", Expected::failure(FindingKind::kLockOrderReversal),
             "NOTE_TRACK refused (EINVAL); close() reverses kqueue()'s order (feldman-lor)"},
            {"fine", Expected::clean(), "KQ_CLOSING checks under the kq lock; the parent's knote in flux"},
        },
});

}  // namespace
}  // namespace kqsim::scenarios
