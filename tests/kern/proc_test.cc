// Semantic tests of processes and signals in the model: fork/exit/kill and
// the EVFILT_PROC and EVFILT_SIGNAL filters, checked against FreeBSD's
// documented behaviour (kqueue(2), fork(2), kill(2)), under every locking
// design, plus random-schedule explorations of fork/exit/kill against
// kevent.
//
// Programs run as simulated threads. A forked child runs a C function
// (fork cannot return twice in the model); parent and child share test-side
// state through the `arg` pointer, which is harness state, not model state.
// Timing uses virtual time: Scheduler::sleep_until(t) returns only once every
// other thread is idle or asleep past t, so "the child has exited by now"
// can be arranged without races.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "model/kern/bsd_errno.h"
#include "model/kern/proc.h"
#include "tests/kern/kern_test_util.h"

namespace kqsim::kern {
namespace {

using namespace kqsim::bsd;
using testing::explore_in_world;
using testing::kAllDesigns;
using testing::kZeroTs;
using testing::make_kev;
using testing::run_semantics;

constexpr uint64_t kMs = 1'000'000;

sim::Scheduler& sched() { return *sim::Scheduler::current(); }

int poll(int kq, struct kevent* out, int n) { return sys_kevent(kq, nullptr, 0, out, n, &kZeroTs); }
int wait(int kq, struct kevent* out, int n) { return sys_kevent(kq, nullptr, 0, out, n, nullptr); }
int add(int kq, const struct kevent& kev) { return sys_kevent(kq, &kev, 1, nullptr, 0, nullptr); }

// Joins every process thread before the World goes away (see fork_join_all),
// also when an ASSERT returns early.
struct JoinChildren {
  ~JoinChildren() { fork_join_all(); }
};

std::string param_name(const ::testing::TestParamInfo<const char*>& info) { return info.param; }

class ProcSemantics : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Proc, ProcSemantics, ::testing::ValuesIn(kAllDesigns), param_name);

class SignalSemantics : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Signal, SignalSemantics, ::testing::ValuesIn(kAllDesigns), param_name);

// ---------------------------------------------------------------- getpid, fork

TEST_P(ProcSemantics, InitIsPidOneAndForkReturnsTheChildPid) {
  struct State {
    int child_pid = 0;
    int child_ppid_seen = 0;
  } st;
  std::string f = run_semantics(GetParam(), [&](World& w) {
    EXPECT_EQ(sys_getpid(), 1);
    int pid = sys_fork(
        +[](void* a) {
          auto* s = static_cast<State*>(a);
          s->child_pid = sys_getpid();
          s->child_ppid_seen = curthread()->td_proc->p_pptr->p_pid;
        },
        &st);
    EXPECT_GT(pid, 1);
    sched().sleep_until(1 * kMs);  // the child has run and exited
    EXPECT_EQ(st.child_pid, pid);
    EXPECT_EQ(st.child_ppid_seen, 1);
    proc* c = w.pfind(pid);
    ASSERT_NE(c, nullptr);
    EXPECT_NE(c->p_flag.raw() & P_WEXIT, 0);
    EXPECT_NE(c->p_flag.raw() & P_ZOMBIE, 0);
    EXPECT_EQ(c->p_xexit.raw(), 0);  // returned from child_main: exit(0)
  });
  EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------- NOTE_EXIT

TEST_P(ProcSemantics, NoteExitReportsTheExitStatusAndEnds) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    ASSERT_GE(kq, 0);
    int pid = sys_fork(
        +[](void*) {
          sched().sleep_until(5 * kMs);  // after the parent registered
          sys_exit(3);
        },
        nullptr);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(add(kq, make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, reinterpret_cast<void*>(42))), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    ASSERT_EQ(wait(kq, ev, 2), 1);
    EXPECT_EQ(sched().now(), 5 * kMs);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(pid));
    EXPECT_EQ(ev[0].filter, EVFILT_PROC);
    EXPECT_EQ(ev[0].fflags, NOTE_EXIT);
    EXPECT_EQ(ev[0].data, KW_EXITCODE(3, 0));  // status << 8, as wait(2) reports it
    EXPECT_EQ(ev[0].data, 0x300);
    EXPECT_EQ(ev[0].udata, reinterpret_cast<void*>(42));
    EXPECT_EQ(ev[0].flags & (EV_EOF | EV_ONESHOT | EV_CLEAR), EV_EOF | EV_ONESHOT | EV_CLEAR);
    // One-shot: gone after retrieval.
    EXPECT_EQ(poll(kq, ev, 2), 0);
    struct kevent del = make_kev(pid, EVFILT_PROC, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &del, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), kENOENT);
  });
  EXPECT_EQ(f, "");
}

TEST_P(ProcSemantics, NoteExitOnAnAlreadyExitedChildIsReportedAtOnce) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int pid = sys_fork(+[](void*) { sys_exit(7); }, nullptr);
    ASSERT_GT(pid, 0);
    sched().sleep_until(1 * kMs);  // the child is a zombie by now
    ASSERT_EQ(add(kq, make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT)), 0);
    struct kevent ev[2];
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].fflags, NOTE_EXIT);
    EXPECT_EQ(ev[0].data, KW_EXITCODE(7, 0));
    EXPECT_EQ(ev[0].flags & (EV_EOF | EV_ONESHOT), EV_EOF | EV_ONESHOT);
    EXPECT_EQ(poll(kq, ev, 2), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(ProcSemantics, AttachErrors) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    struct kevent ev[1];
    // No such process.
    struct kevent ch = make_kev(4242, EVFILT_PROC, EV_ADD, NOTE_EXIT);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), kESRCH);
    // As an EV_ERROR entry when there is room for one.
    ASSERT_EQ(sys_kevent(kq, &ch, 1, ev, 1, nullptr), 1);
    EXPECT_EQ(ev[0].flags & EV_ERROR, EV_ERROR);
    EXPECT_EQ(ev[0].data, kESRCH);
    // A zombie is found only by NOTE_EXIT (pfind vs pfind_any).
    int pid = sys_fork(+[](void*) {}, nullptr);
    sched().sleep_until(1 * kMs);
    ch = make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_FORK);
    EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), kESRCH);
  });
  EXPECT_EQ(f, "");
}

TEST_P(ProcSemantics, ExitWithoutInterestingEventsIsDroppedSilently) {
  // A knote that asked for nothing that happened gets EV_DROP at NOTE_EXIT:
  // it disappears without being reported (filt_proc's EV_DROP).
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int pid = sys_fork(+[](void*) { sched().sleep_until(5 * kMs); }, nullptr);
    ASSERT_EQ(add(kq, make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_FORK)), 0);
    sched().sleep_until(10 * kMs);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    struct kevent del = make_kev(pid, EVFILT_PROC, EV_DELETE);
    EXPECT_EQ(sys_kevent(kq, &del, 1, nullptr, 0, nullptr), -1);
    EXPECT_EQ(sys_errno(), kENOENT);
  });
  EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------- NOTE_FORK, NOTE_TRACK

TEST_P(ProcSemantics, NoteForkOnTheParent) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int me = sys_getpid();
    ASSERT_EQ(add(kq, make_kev(me, EVFILT_PROC, EV_ADD, NOTE_FORK | NOTE_EXIT)), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    int pid = sys_fork(+[](void*) {}, nullptr);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(me));
    EXPECT_EQ(ev[0].fflags, NOTE_FORK);
    EXPECT_EQ(ev[0].flags & EV_EOF, 0);
    // EV_CLEAR is automatic: nothing more until the next fork.
    EXPECT_EQ(poll(kq, ev, 2), 0);
    sys_fork(+[](void*) {}, nullptr);
    sys_fork(+[](void*) {}, nullptr);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].fflags, NOTE_FORK);
  });
  EXPECT_EQ(f, "");
}

TEST_P(ProcSemantics, NoteTrackFollowsTheChildOrIsEinval) {
  const bool supported = find_design(GetParam())->note_track;
  std::string f = run_semantics(GetParam(), [supported](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int me = sys_getpid();
    struct kevent ch = make_kev(me, EVFILT_PROC, EV_ADD, NOTE_FORK | NOTE_EXIT | NOTE_TRACK,
                                0, reinterpret_cast<void*>(9));
    if (!supported) {
      EXPECT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), -1);
      EXPECT_EQ(sys_errno(), kEINVAL);
      return;
    }
    ASSERT_EQ(sys_kevent(kq, &ch, 1, nullptr, 0, nullptr), 0);
    int pid = sys_fork(
        +[](void*) {
          sched().sleep_until(5 * kMs);
          sys_exit(2);
        },
        nullptr);
    ASSERT_GT(pid, 0);
    bool parent_fork = false, child_note = false, child_exit = false;
    struct kevent ev[4];
    struct timespec ts = {1, 0};
    while (!(parent_fork && child_note && child_exit)) {
      int n = sys_kevent(kq, nullptr, 0, ev, 4, &ts);
      ASSERT_GT(n, 0) << "missing:" << (parent_fork ? "" : " NOTE_FORK on the parent")
                      << (child_note ? "" : " NOTE_CHILD") << (child_exit ? "" : " NOTE_EXIT of the child")
                      << " (knote_fork registers two knotes with the same ident: kqueue_register must not "
                         "coalesce EVFILT_PROC registrations carrying EV_FLAG1/EV_FLAG2)";
      for (int i = 0; i < n; ++i) {
        EXPECT_EQ(ev[i].udata, reinterpret_cast<void*>(9));  // udata is preserved
        if (ev[i].ident == static_cast<uintptr_t>(me)) {
          EXPECT_EQ(ev[i].fflags & NOTE_FORK, NOTE_FORK);
          EXPECT_EQ(ev[i].fflags & NOTE_TRACKERR, 0u);
          parent_fork = true;
        } else {
          ASSERT_EQ(ev[i].ident, static_cast<uintptr_t>(pid));
          if (ev[i].fflags & NOTE_CHILD) {
            EXPECT_FALSE(child_note);
            EXPECT_EQ(ev[i].fflags, NOTE_CHILD);
            EXPECT_EQ(ev[i].data, me);  // the parent's pid
            child_note = true;
          } else {
            EXPECT_FALSE(child_exit);
            EXPECT_EQ(ev[i].fflags, NOTE_EXIT);
            EXPECT_EQ(ev[i].data, KW_EXITCODE(2, 0));
            EXPECT_NE(ev[i].flags & EV_EOF, 0);
            child_exit = true;
          }
        }
      }
    }
    EXPECT_EQ(sched().now(), 5 * kMs);
    EXPECT_EQ(poll(kq, ev, 4), 0);
  });
  EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------- descriptors across fork and exit

TEST_P(ProcSemantics, KqueueIsNotInheritedButPipesAre) {
  struct State {
    int kq = -1;
    int p[2] = {-1, -1};
    int kevent_ret = 0, kevent_errno = 0;
    int close_ret = 0, close_errno = 0;
    long write_ret = 0;
  } st;
  std::string f = run_semantics(GetParam(), [&](World&) {
    JoinChildren join_children;
    st.kq = sys_kqueue();
    ASSERT_GE(st.kq, 0);
    ASSERT_EQ(sys_pipe(st.p), 0);
    sys_fork(
        +[](void* a) {
          auto* s = static_cast<State*>(a);
          struct kevent ev[1];
          s->kevent_ret = sys_kevent(s->kq, nullptr, 0, ev, 1, &kZeroTs);
          s->kevent_errno = sys_errno();
          s->write_ret = sys_write(s->p[1], "x", 1);
          s->close_ret = sys_close(s->kq);
          s->close_errno = sys_errno();
        },
        &st);
    sched().sleep_until(1 * kMs);
    EXPECT_EQ(st.kevent_ret, -1);
    EXPECT_EQ(st.kevent_errno, kEBADF);
    EXPECT_EQ(st.close_ret, -1);
    EXPECT_EQ(st.close_errno, kEBADF);
    EXPECT_EQ(st.write_ret, 1);
    char c = 0;
    EXPECT_EQ(sys_read(st.p[0], &c, 1), 1);
    EXPECT_EQ(c, 'x');
    // The parent's kqueue still works.
    struct kevent ev[1];
    EXPECT_EQ(poll(st.kq, ev, 1), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(ProcSemantics, ExitClosesTheChildsDescriptors) {
  struct State {
    int p[2];
  } st;
  std::string f = run_semantics(GetParam(), [&](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    ASSERT_EQ(sys_pipe(st.p), 0);
    int pid = sys_fork(+[](void*) { sched().sleep_until(5 * kMs); }, &st);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(sys_close(st.p[1]), 0);  // the child holds the last write end
    ASSERT_EQ(add(kq, make_kev(st.p[0], EVFILT_READ, EV_ADD)), 0);
    struct kevent ev[1];
    EXPECT_EQ(poll(kq, ev, 1), 0);
    ASSERT_EQ(wait(kq, ev, 1), 1);  // EOF when the child's exit closes it
    EXPECT_EQ(sched().now(), 5 * kMs);
    EXPECT_NE(ev[0].flags & EV_EOF, 0);
    char c;
    EXPECT_EQ(sys_read(st.p[0], &c, 1), 0);
  });
  EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------- EVFILT_SIGNAL

TEST_P(SignalSemantics, CountsDeliveriesSinceLastRetrieval) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int me = sys_getpid();
    ASSERT_EQ(add(kq, make_kev(kSIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, reinterpret_cast<void*>(5))), 0);
    struct kevent ev[2];
    EXPECT_EQ(poll(kq, ev, 2), 0);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(sys_kill(me, kSIGUSR1), 0);
    EXPECT_EQ(sys_kill(me, kSIGUSR2), 0);  // another signal: not counted
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].ident, static_cast<uintptr_t>(kSIGUSR1));
    EXPECT_EQ(ev[0].filter, EVFILT_SIGNAL);
    EXPECT_EQ(ev[0].data, 3);
    EXPECT_EQ(ev[0].udata, reinterpret_cast<void*>(5));
    EXPECT_NE(ev[0].flags & EV_CLEAR, 0);  // automatically set
    EXPECT_EQ(poll(kq, ev, 2), 0);
    EXPECT_EQ(sys_kill(me, kSIGUSR1), 0);
    ASSERT_EQ(poll(kq, ev, 2), 1);
    EXPECT_EQ(ev[0].data, 1);
    // The signals are recorded (and nothing else happens: no delivery action).
    uint32_t pending = curthread()->td_proc->p_siglist.raw();
    EXPECT_NE(pending & (1u << (kSIGUSR1 - 1)), 0u);
    EXPECT_NE(pending & (1u << (kSIGUSR2 - 1)), 0u);
    // SIGKILL terminates nothing in the model.
    EXPECT_EQ(sys_kill(me, kSIGKILL), 0);
    EXPECT_EQ(curthread()->td_proc->p_flag.raw() & P_WEXIT, 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(SignalSemantics, KillErrorsAndSignalZero) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int me = sys_getpid();
    ASSERT_EQ(add(kq, make_kev(kSIGUSR1, EVFILT_SIGNAL, EV_ADD)), 0);
    EXPECT_EQ(sys_kill(4242, kSIGUSR1), -1);
    EXPECT_EQ(sys_errno(), kESRCH);
    EXPECT_EQ(sys_kill(me, -1), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    EXPECT_EQ(sys_kill(me, kSIG_MAXSIG + 1), -1);
    EXPECT_EQ(sys_errno(), kEINVAL);
    EXPECT_EQ(sys_kill(me, 0), 0);  // existence check only
    EXPECT_EQ(sys_kill(0, kSIGUSR1), -1);  // process groups are not modelled
    EXPECT_EQ(sys_errno(), kESRCH);
    struct kevent ev[1];
    EXPECT_EQ(poll(kq, ev, 1), 0);
    // A signal to a zombie succeeds and does nothing.
    int pid = sys_fork(+[](void*) {}, nullptr);
    sched().sleep_until(1 * kMs);
    EXPECT_EQ(sys_kill(pid, kSIGUSR1), 0);
  });
  EXPECT_EQ(f, "");
}

TEST_P(SignalSemantics, DeleteStopsCounting) {
  std::string f = run_semantics(GetParam(), [](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int me = sys_getpid();
    ASSERT_EQ(add(kq, make_kev(kSIGHUP, EVFILT_SIGNAL, EV_ADD)), 0);
    sys_kill(me, kSIGHUP);
    ASSERT_EQ(add(kq, make_kev(kSIGHUP, EVFILT_SIGNAL, EV_DELETE)), 0);
    sys_kill(me, kSIGHUP);
    struct kevent ev[1];
    EXPECT_EQ(poll(kq, ev, 1), 0);
    ASSERT_EQ(add(kq, make_kev(kSIGHUP, EVFILT_SIGNAL, EV_ADD)), 0);
    EXPECT_EQ(poll(kq, ev, 1), 0);  // a new knote counts from zero
  });
  EXPECT_EQ(f, "");
}

TEST_P(SignalSemantics, SignalsFromAnotherProcessAndSigchld) {
  struct State {
    int parent = 0;
  } st;
  std::string f = run_semantics(GetParam(), [&](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    st.parent = sys_getpid();
    ASSERT_EQ(add(kq, make_kev(kSIGUSR2, EVFILT_SIGNAL, EV_ADD)), 0);
    ASSERT_EQ(add(kq, make_kev(kSIGCHLD, EVFILT_SIGNAL, EV_ADD)), 0);
    sys_fork(
        +[](void* a) {
          auto* s = static_cast<State*>(a);
          sched().sleep_until(2 * kMs);
          sys_kill(s->parent, kSIGUSR2);
          sys_kill(s->parent, kSIGUSR2);
        },
        &st);
    int64_t usr2 = 0, chld = 0;
    struct kevent ev[2];
    while (usr2 < 2 || chld < 1) {
      int n = wait(kq, ev, 2);
      ASSERT_GT(n, 0);
      for (int i = 0; i < n; ++i) {
        if (ev[i].ident == static_cast<uintptr_t>(kSIGUSR2)) usr2 += ev[i].data;
        else if (ev[i].ident == static_cast<uintptr_t>(kSIGCHLD)) chld += ev[i].data;
        else ADD_FAILURE() << "unexpected ident " << ev[i].ident;
      }
    }
    EXPECT_EQ(usr2, 2);
    EXPECT_EQ(chld, 1);
    EXPECT_EQ(sched().now(), 2 * kMs);
  });
  EXPECT_EQ(f, "");
}

TEST_P(SignalSemantics, SignalsTerminateNothing) {
  // kill(pid, SIGTERM) on a child is recorded and counted by the child's own
  // EVFILT_SIGNAL knote; the child goes on and exits with its own status.
  struct State {
    int64_t counted = -1;
  } st;
  std::string f = run_semantics(GetParam(), [&](World&) {
    JoinChildren join_children;
    int kq = sys_kqueue();
    int pid = sys_fork(
        +[](void* a) {
          int ckq = sys_kqueue();
          struct kevent ch = make_kev(kSIGTERM, EVFILT_SIGNAL, EV_ADD);
          sys_kevent(ckq, &ch, 1, nullptr, 0, nullptr);
          sched().sleep_until(5 * kMs);
          struct kevent ev[1];
          if (sys_kevent(ckq, nullptr, 0, ev, 1, &kZeroTs) == 1) static_cast<State*>(a)->counted = ev[0].data;
          sys_exit(6);
        },
        &st);
    ASSERT_EQ(add(kq, make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT)), 0);
    sched().sleep_until(1 * kMs);
    EXPECT_EQ(sys_kill(pid, kSIGTERM), 0);
    EXPECT_EQ(sys_kill(pid, kSIGTERM), 0);
    struct kevent ev[1];
    ASSERT_EQ(wait(kq, ev, 1), 1);
    EXPECT_EQ(ev[0].data, KW_EXITCODE(6, 0));
    EXPECT_EQ(sched().now(), 5 * kMs);
    EXPECT_EQ(st.counted, 2);
  });
  EXPECT_EQ(f, "");
}

// ---------------------------------------------------------------- random schedules

// fork, exit, kill and kevent from three processes at once: no race, no
// lock-order reversal, no deadlock, no lost event, in any explored schedule.
// The children wait (1 ms of virtual time) until the parent has registered
// NOTE_EXIT on them: registering NOTE_EXIT while the process exits can lose
// the event (NoteExitRacingWithExit below).
void fork_exit_kill_program() {
  int kq = sys_kqueue();
  int me = sys_getpid();
  struct kevent ch[2];
  EV_SET(&ch[0], me, EVFILT_PROC, EV_ADD, NOTE_FORK, 0, nullptr);
  EV_SET(&ch[1], bsd::kSIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, nullptr);
  if (sys_kevent(kq, ch, 2, nullptr, 0, nullptr) != 0) ADD_FAILURE() << "register: " << sys_errno();
  static int parent;
  parent = me;
  int pids[2];
  for (int& pid : pids) {
    pid = sys_fork(
        +[](void*) {
          sys_kill(parent, bsd::kSIGUSR1);
          sched().sleep_until(1 * kMs);
          sys_exit(1);
        },
        nullptr);
    struct kevent e = make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT);
    if (sys_kevent(kq, &e, 1, nullptr, 0, nullptr) != 0) ADD_FAILURE() << "NOTE_EXIT: " << sys_errno();
  }
  int exits = 0, forks = 0;
  int64_t usr1 = 0;
  struct kevent ev[4];
  while (exits < 2 || usr1 < 2 || forks < 1) {
    int n = sys_kevent(kq, nullptr, 0, ev, 4, nullptr);
    if (n <= 0) {
      ADD_FAILURE() << "kevent: " << n << " errno " << sys_errno();
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (ev[i].filter == EVFILT_SIGNAL) usr1 += ev[i].data;
      else if (ev[i].fflags & NOTE_EXIT) {
        ++exits;
        if (ev[i].data != KW_EXITCODE(1, 0)) ADD_FAILURE() << "exit status " << ev[i].data;
      } else if (ev[i].fflags & NOTE_FORK) {
        ++forks;
      }
    }
  }
  if (usr1 != 2) ADD_FAILURE() << "SIGUSR1 count " << usr1;
}

class ProcExplore : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Proc, ProcExplore, ::testing::Values("none", "giant", "global", "fine"), param_name);

TEST_P(ProcExplore, ForkExitKillUnderRandomSchedules) {
  EXPECT_EQ(explore_in_world(GetParam(), 150, [](World&) {
    JoinChildren join_children;
    fork_exit_kill_program();
  }), "");
}

TEST_P(ProcExplore, NoteTrackUnderRandomSchedules) {
  if (!find_design(GetParam())->note_track) GTEST_SKIP() << "no NOTE_TRACK in " << GetParam();
  EXPECT_EQ(explore_in_world(GetParam(), 150,
                             [](World&) {
                               JoinChildren join_children;
                               int kq = sys_kqueue();
                               int me = sys_getpid();
                               struct kevent ch = make_kev(me, EVFILT_PROC, EV_ADD,
                                                           NOTE_FORK | NOTE_EXIT | NOTE_TRACK);
                               if (sys_kevent(kq, &ch, 1, nullptr, 0, nullptr) != 0) ADD_FAILURE();
                               int pid = sys_fork(+[](void*) { sys_exit(4); }, nullptr);
                               std::set<std::pair<uintptr_t, unsigned>> seen;
                               struct kevent ev[4];
                               struct timespec ts = {1, 0};
                               while (seen.size() < 3) {
                                 int n = sys_kevent(kq, nullptr, 0, ev, 4, &ts);
                                 if (n <= 0) {
                                   ADD_FAILURE() << "kevent " << n;
                                   return;
                                 }
                                 for (int i = 0; i < n; ++i) seen.insert({ev[i].ident, ev[i].fflags});
                               }
                               std::set<std::pair<uintptr_t, unsigned>> want = {
                                   {static_cast<uintptr_t>(me), NOTE_FORK},
                                   {static_cast<uintptr_t>(pid), NOTE_CHILD},
                                   {static_cast<uintptr_t>(pid), NOTE_EXIT}};
                               EXPECT_EQ(seen, want);
                             }),
            "");
}

// A race the model finds in FreeBSD's own code: EV_ADD of NOTE_EXIT on a
// process that exits at that moment can lose the event for good. The new
// knote is in flux from knote_attach() until kqueue_register() finishes;
// filt_procattach() adds it to p_klist and drops the process lock; if exit1()
// runs KNOTE(NOTE_EXIT) before kqueue_register() takes the knlist lock again,
// knote() skips the knote (in flux, not KN_SCAN), and the f_event(kn, 0) that
// follows cannot tell that the process exited. knlist_clear() then detaches
// it (EV_EOF|EV_ONESHOT) without ever activating it. Designs that run fork,
// exit and kevent under Giant close the window.
TEST_P(ProcExplore, NoteExitRacingWithExit) {
  // Parent and child start at the same virtual instant; the child first
  // spends a varying number of scheduling points (0..39 yields, by
  // execution), so that some schedules set P_WEXIT just after the attach
  // checked it.
  static int delivered, lost, execution;
  delivered = lost = execution = 0;
  std::string f = explore_in_world(GetParam(), 400, [](World&) {
    JoinChildren join_children;
    static int spin;
    spin = execution++ % 40;
    int kq = sys_kqueue();
    int pid = sys_fork(
        +[](void*) {
          sched().sleep_until(1 * kMs);
          for (int i = 0; i < spin; ++i) sched().yield();
          sys_exit(5);
        },
        nullptr);
    sched().sleep_until(1 * kMs);
    struct kevent ch = make_kev(pid, EVFILT_PROC, EV_ADD, NOTE_EXIT);
    if (sys_kevent(kq, &ch, 1, nullptr, 0, nullptr) != 0) ADD_FAILURE() << "EV_ADD: " << sys_errno();
    struct kevent ev[1];
    struct timespec ts = {0, 10'000'000};
    int n = sys_kevent(kq, nullptr, 0, ev, 1, &ts);
    if (n == 1 && ev[0].data == KW_EXITCODE(5, 0)) ++delivered;
    else if (n == 0) ++lost;
    else ADD_FAILURE() << "kevent " << n;
  });
  EXPECT_EQ(f, "");
  EXPECT_GT(delivered, 0);
  std::printf("%s: NOTE_EXIT delivered %d, lost %d\n", GetParam(), delivered, lost);
  if (find_design(GetParam())->kevent_giant) EXPECT_EQ(lost, 0) << GetParam();
  else EXPECT_GT(lost, 0) << GetParam() << ": the NOTE_EXIT race was not reproduced";
}

}  // namespace
}  // namespace kqsim::kern
