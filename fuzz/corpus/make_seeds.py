#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer harnesses (fuzz/corpus/<harness>/).

Each seed is a small meaningful program in the byte layout the decoders read
(fuzz/kevent_program.cc, fuzz/schedule_program.cc); re-run this script after
changing a layout:  python3 fuzz/corpus/make_seeds.py
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- harness (a): kevent ----
KQUEUE, PIPE, WRITE, READ, CLOSE, DUP, FORK, KEVENT = 0, 1, 2, 3, 4, 5, 6, 7
READF, WRITEF, USER, TIMER, PROC, SIGNAL, EMPTY, VNODE, AIO, ZERO, ONE, LOW = range(12)
EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE = 0x1, 0x2, 0x4, 0x8
EV_ONESHOT, EV_CLEAR, EV_RECEIPT, EV_DISPATCH = 0x10, 0x20, 0x40, 0x80
EV_FORCEONESHOT, EV_KEEPUDATA = 0x100, 0x200
NOTE_SECONDS, NOTE_MSECONDS, NOTE_USECONDS, NOTE_NSECONDS, NOTE_ABSTIME = 0x1, 0x2, 0x4, 0x8, 0x10


def fd(n):
    return n + 1


def change(ident, filt, flags, ff=0, data=0):
    return [ident & 0xFF, filt, flags & 0xFF, (flags >> 8) & 0x0F, ff & 0xFF, data & 0xFF]


def kevent(kq, changes, nev=4, null_list=False, null_changes=False, timeout=0):
    nb = (nev if nev >= 0 else 9) | (0x80 if null_list else 0) | (0x40 if null_changes else 0)
    out = [KEVENT, fd(kq), len(changes)]
    for c in changes:
        out += c
    return out + [nb, timeout]


def prog(*calls, giant=False):
    out = [1 if giant else 0]
    for c in calls:
        out += c
    return bytes(out)


TRIG = 1  # ffb bit 0 -> NOTE_TRIGGER for EVFILT_USER
kev = {
    "pipe_read": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), READF, EV_ADD)]), [WRITE, fd(2), 5],
                      kevent(0, []), [READ, fd(1), 5], kevent(0, [])),
    "pipe_write_eof": prog([KQUEUE], [PIPE], kevent(0, [change(fd(2), WRITEF, EV_ADD)]), [CLOSE, fd(1)],
                           kevent(0, [])),
    "close_with_knotes": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), READF, EV_ADD),
                                                           change(fd(2), WRITEF, EV_ADD)]),
                              [WRITE, fd(2), 3], [CLOSE, fd(1)], [CLOSE, fd(2)], kevent(0, [])),
    "close_kqueue": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), READF, EV_ADD)]), [WRITE, fd(2), 1],
                         [CLOSE, fd(0)], kevent(0, [])),
    "dup_then_close": prog([KQUEUE], [PIPE], [DUP, fd(1)], kevent(0, [change(fd(3), READF, EV_ADD)]),
                           [CLOSE, fd(1)], [WRITE, fd(2), 2], kevent(0, []), [CLOSE, fd(3)], kevent(0, [])),
    "dup_kqueue": prog([KQUEUE], [DUP, fd(0)], kevent(1, [change(1, USER, EV_ADD)]), [CLOSE, fd(0)],
                       kevent(1, [change(1, USER, 0, TRIG)])),
    "user_trigger": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD | EV_CLEAR), change(1, USER, 0, TRIG)]),
                         kevent(0, []), kevent(0, [])),
    "user_ffctrl": prog([KQUEUE], kevent(0, [change(2, USER, EV_ADD), change(2, USER, 0, 0x3 << 1 | 0x28 | TRIG),
                                             change(2, USER, 0, 0x1 << 1 | 0x08 | TRIG)]), kevent(0, [])),
    "oneshot": prog([KQUEUE], kevent(0, [change(3, USER, EV_ADD | EV_ONESHOT), change(3, USER, 0, TRIG)]),
                    kevent(0, []), kevent(0, [change(3, USER, EV_DELETE)])),
    "dispatch": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), READF, EV_ADD | EV_DISPATCH)]),
                     [WRITE, fd(2), 4], kevent(0, []), kevent(0, []),
                     kevent(0, [change(fd(1), READF, EV_ENABLE)]), kevent(0, [])),
    "disable_enable": prog([KQUEUE], kevent(0, [change(4, USER, EV_ADD | EV_DISABLE), change(4, USER, 0, TRIG)]),
                           kevent(0, []), kevent(0, [change(4, USER, EV_ENABLE)]), kevent(0, [])),
    "forceoneshot": prog([KQUEUE], kevent(0, [change(5, USER, EV_ADD), change(5, USER, EV_FORCEONESHOT)]),
                         kevent(0, [])),
    "receipt": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD | EV_RECEIPT),
                                         change(2, USER, EV_ADD | EV_RECEIPT)], nev=1)),
    "receipt_no_slots": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD | EV_RECEIPT),
                                                  change(2, USER, EV_ADD)], nev=0)),
    "errors": prog([KQUEUE], kevent(0, [change(7, USER, EV_DELETE), change(fd(9), READF, EV_ADD),
                                        change(1, ONE, EV_ADD), change(1, AIO, EV_ADD)], nev=4)),
    "bad_flag_pairs": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD | EV_ENABLE | EV_DISABLE),
                                                change(1, USER, EV_ADD | EV_KEEPUDATA)])),
    "sysflags": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD | 0xC00), change(1, USER, 0, TRIG)]),
                     kevent(0, [])),
    "null_lists": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD)], null_changes=True),
                       kevent(0, [change(1, USER, EV_ADD), change(1, USER, 0, TRIG)], nev=0),
                       kevent(0, [], nev=4, null_list=True)),
    "negative_nevents": prog([KQUEUE], kevent(0, [change(1, USER, EV_ADD)], nev=-1),
                             kevent(0, [change(9, USER, EV_DELETE)], nev=-1)),
    "bad_timeouts": prog([KQUEUE], kevent(0, [], timeout=15), kevent(0, [], timeout=14),
                         kevent(0, [], timeout=13)),
    "not_a_kqueue": prog([PIPE], kevent(0, [change(1, USER, EV_ADD)]), kevent(5, [])),
    "kq_self": prog([KQUEUE], kevent(0, [change(fd(0), READF, EV_ADD)])),
    "kq_in_kq": prog([KQUEUE], [KQUEUE], kevent(0, [change(fd(1), READF, EV_ADD)]),
                     kevent(1, [change(1, USER, EV_ADD), change(1, USER, 0, TRIG)]), kevent(0, []),
                     [CLOSE, fd(1)], kevent(0, []), giant=True),
    "kq_in_kq_fine": prog([KQUEUE], [KQUEUE], kevent(0, [change(fd(1), READF, EV_ADD)]),
                          kevent(1, [change(1, USER, EV_ADD), change(1, USER, 0, TRIG)]), kevent(0, [])),
    "timer": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, 0, 1)]), kevent(0, [], timeout=13),
                  kevent(0, [change(1, TIMER, EV_DELETE)])),
    # Armed timers (the softclock daemon runs; virtual time advances in the 1 ms waits).
    "timer_periodic": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, 0, 2)]),
                           *([kevent(0, [], timeout=13)] * 5), kevent(0, [change(1, TIMER, EV_DELETE)])),
    "timer_units": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, NOTE_USECONDS, 3),
                                             change(2, TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, 0),
                                             change(3, TIMER, EV_ADD, NOTE_SECONDS, 1),
                                             change(4, TIMER, EV_ADD, NOTE_ABSTIME | NOTE_MSECONDS, 2)]),
                        *([kevent(0, [], timeout=13)] * 3)),
    "timer_readd": prog([KQUEUE], kevent(0, [change(5, TIMER, EV_ADD, 0, 5)]), kevent(0, [], timeout=13),
                        kevent(0, [change(5, TIMER, EV_ADD, 0, 1)]), kevent(0, [], timeout=13),
                        kevent(0, [], timeout=13)),
    "timer_close_armed": prog([KQUEUE], [KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, 0, 1),
                                                             change(fd(1), READF, EV_ADD)]),
                              kevent(1, [change(2, TIMER, EV_ADD | EV_DISPATCH, 0, 1)]),
                              kevent(0, [], timeout=13), [CLOSE, fd(1)], kevent(0, [], timeout=13)),
    "timer_fork": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD | EV_DISPATCH, 0, 1),
                                            change(2, PROC, EV_ADD, 0x80)]), [FORK],
                       kevent(0, [], timeout=13), kevent(0, [change(1, TIMER, EV_ENABLE)]),
                       kevent(0, [], timeout=13)),
    "timer_left_armed": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, 0, 1)]), kevent(0, [], timeout=13),
                             giant=True),
    "timer_bad": prog([KQUEUE], kevent(0, [change(1, TIMER, EV_ADD, 0, 0xF0), change(2, TIMER, EV_ADD, 0xFF, 1)])),
    "proc_exit": prog([KQUEUE], [FORK], kevent(0, [change(2, PROC, EV_ADD, 0x80)]), kevent(0, [], timeout=13),
                      kevent(0, [])),
    "proc_missing": prog([KQUEUE], kevent(0, [change(5, PROC, EV_ADD, 0x80)])),
    "signal": prog([KQUEUE], kevent(0, [change(20, SIGNAL, EV_ADD), change(255, SIGNAL, EV_ADD)]), [FORK],
                   kevent(0, [], timeout=13)),
    "vnode_empty_on_pipe": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), VNODE, EV_ADD),
                                                            change(fd(2), EMPTY, EV_ADD)])),
    "giant_pipe": prog([KQUEUE], [PIPE], kevent(0, [change(fd(1), READF, EV_ADD | EV_CLEAR)]),
                       [WRITE, fd(2), 9], kevent(0, []), [CLOSE, fd(2)], kevent(0, []), giant=True),
    "many_fds": prog(*([[PIPE]] * 7), [KQUEUE], kevent(14, [change(fd(13), READF, EV_ADD),
                                                            change(fd(12), WRITEF, EV_ADD)]),
                     [CLOSE, fd(13)], kevent(14, [])),
}

# ---- harness (b): schedule ----
REG, POLL, SWRITE, SREAD, SCLOSE, TRIGGER, REGPOLL = range(7)
T_AR, T_AW, T_BR, T_BW, T_U1, T_U2, T_KQ2, T_TIMER = range(8)
F_ADD, F_CLEAR, F_ONESHOT, F_DISPATCH, F_DELETE, F_ENABLE, F_DISABLE, F_RECEIPT = range(8)
KQ2 = 0x40


def reg(target, flag, on_kq2=False):
    return target | (flag << 3) | (KQ2 if on_kq2 else 0)


def sched(setup, threads, schedule=b""):
    out = [len(threads) - 2, len(setup)] + setup
    for ops in threads:
        out.append(len(ops) - 1)
        for k, a in ops:
            out += [k, a]
    return bytes(out) + bytes(schedule)


alt = bytes([0, 1] * 40)
sch = {
    "kern57945_like": sched([reg(T_AR, F_ADD)], [[(SWRITE, 4), (POLL, 2)], [(SCLOSE, 2), (POLL, 0)]], alt),
    "close_vs_poll": sched([reg(T_AR, F_ADD), reg(T_BR, F_ADD)],
                           [[(POLL, 6)], [(SCLOSE, 2), (SCLOSE, 4)]], alt),
    "delete_vs_trigger": sched([reg(T_U1, F_ADD)], [[(TRIGGER, 0), (POLL, 0)], [(REG, reg(T_U1, F_DELETE))]], alt),
    "dispatch_enable": sched([reg(T_AR, F_DISPATCH)], [[(SWRITE, 2), (POLL, 0), (REG, reg(T_AR, F_ENABLE))],
                                                       [(POLL, 0), (SREAD, 8)]], alt),
    "oneshot_race": sched([reg(T_U2, F_ONESHOT)], [[(TRIGGER, 1), (POLL, 0)], [(POLL, 0), (TRIGGER, 1)]]),
    "kq_in_kq": sched([reg(T_KQ2, F_ADD), reg(T_U1, F_ADD, True)],
                      [[(TRIGGER, 2), (POLL, 0)], [(POLL, 1), (SCLOSE, 1)]], alt),
    "close_kq_while_registering": sched([], [[(REG, reg(T_AR, F_ADD)), (REG, reg(T_BW, F_CLEAR))],
                                             [(SCLOSE, 0)]], alt),
    "writer_reader": sched([reg(T_AR, F_CLEAR), reg(T_AW, F_ADD)],
                           [[(SWRITE, 10), (SWRITE, 20)], [(SREAD, 30), (POLL, 6)], [(POLL, 2), (SCLOSE, 3)]],
                           bytes([0, 1, 2] * 30)),
    "timer": sched([reg(T_TIMER, F_ADD)], [[(POLL, 0), (REG, reg(T_TIMER, F_DELETE))], [(POLL, 0)]], alt),
    "timer_close_kq": sched([reg(T_TIMER, F_ADD)], [[(POLL, 0), (SCLOSE, 0)],
                                                    [(REGPOLL, reg(T_TIMER, F_DISPATCH)), (POLL, 0)]], alt),
    "timer_oneshot_readd": sched([reg(T_TIMER, F_ONESHOT, True)],
                                 [[(REG, reg(T_TIMER, F_ADD, True)), (POLL, 1)],
                                  [(REG, reg(T_TIMER, F_DELETE, True)), (POLL, 1), (SCLOSE, 1)]], alt),
    "receipt_and_disable": sched([], [[(REGPOLL, reg(T_U1, F_RECEIPT)), (TRIGGER, 0)],
                                      [(REG, reg(T_U1, F_DISABLE)), (POLL, 0)]], alt),
    "three_threads_close_all": sched([reg(T_AR, F_ADD), reg(T_BR, F_ADD), reg(T_KQ2, F_ADD)],
                                     [[(SCLOSE, 2), (SCLOSE, 3)], [(SCLOSE, 4), (SCLOSE, 1)],
                                      [(POLL, 6), (POLL, 0)]], bytes([2, 1, 0] * 30)),
    "empty_schedule": sched([reg(T_U1, F_ADD)], [[(TRIGGER, 0)], [(POLL, 0)]]),
}

rng = random.Random(57945)
for i in range(8):
    kev[f"random_{i}"] = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 120)))
    sch[f"random_{i}"] = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 120)))

for name, table in (("kevent", kev), ("schedule", sch)):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for k, v in table.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    print(f"{d}: {len(table)} seeds")
