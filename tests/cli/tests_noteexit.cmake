# register-vs-exit: EV_ADD of NOTE_EXIT racing the child's exit1() loses the exit under
# fine and global (FreeBSD's window), never under giant/none (serialised by Giant).

# kqsim check finds it within its default budget (2000 random schedules) and keeps
# giant/none clean.
kqsim_add_cli_test(noteexit_check ARGS "check --scenario register-vs-exit"
  STDOUT "register-vs-exit +none +clean +clean +OK\nregister-vs-exit +giant +clean +clean +OK\nregister-vs-exit +global +lost-event +lost-event +OK\nregister-vs-exit +fine +lost-event +lost-event +OK\n\n4 verdicts: 4 OK, 0 MISMATCH")

# The finding names the evidence: the knote is still registered, EV_EOF|EV_ONESHOT from
# knlist_clear(), never activated.
kqsim_add_cli_test(noteexit_run_fine ARGS "run register-vs-exit --design fine --schedules 2000 --seed 1"
  EXIT_CODE 1
  STDOUT "lost-event: lost event: the child's NOTE_EXIT was never reported\n +child pid 2 has exited; the wait and a last poll returned 0\n +the knote is still registered: not active, not queued, detached from p_klist; flags EV_EOF EV_ONESHOT")

# Giant keeps exit1() out of kqueue_register: clean with random and with PCT.
kqsim_add_cli_test(noteexit_giant_clean ARGS "run register-vs-exit --design giant --schedules 5000 --seed 1"
  STDOUT "verdict: clean \\(expected clean: as expected\\)")
kqsim_add_cli_test(noteexit_none_clean_pct
  ARGS "run register-vs-exit --design none --strategy pct --schedules 5000 --seed 1"
  STDOUT "verdict: clean \\(expected clean: as expected\\)")

# The replay and explain commands a run prints reproduce the lost event alone (exit 1, the
# same finding; explain shows exit1()'s KNOTE of NOTE_EXIT, hint 0x80000000, skipping the
# knote).
foreach(_design fine global)
  add_test(NAME cli.noteexit_replay_${_design}
    COMMAND sh -c "
      out=$(\"$0\" run register-vs-exit --design $1 --schedules 2000 --seed 1); rc=$?
      [ $rc -eq 1 ] || { echo \"run: exit $rc, expected 1\"; exit 1; }
      replay=$(printf '%s\\n' \"$out\" | sed -n 's/^ *replay: kqsim //p' | head -n 1)
      explain=$(printf '%s\\n' \"$out\" | sed -n 's/^ *explain: kqsim //p' | head -n 1)
      [ -n \"$replay\" ] && [ -n \"$explain\" ] || { echo 'no replay/explain command printed'; exit 1; }
      r=$(\"$0\" $replay); rc=$?
      [ $rc -eq 1 ] || { echo \"replay: exit $rc, expected 1\"; exit 1; }
      printf '%s\\n' \"$r\" | grep -q \"^lost-event: lost event: the child's NOTE_EXIT was never reported\" ||
        { echo \"replay did not reproduce the lost event: $r\"; exit 1; }
      e=$(\"$0\" $explain --no-source); rc=$?
      [ $rc -eq 1 ] || { echo \"explain: exit $rc, expected 1\"; exit 1; }
      printf '%s\\n' \"$e\" | grep -q 'pid2 .*KNOTE .*hint 0x80000000' ||
        { echo 'explain shows no NOTE_EXIT KNOTE by the child'; exit 1; }
      echo reproduced" "$<TARGET_FILE:kqsim>" "${_design}")
  set_tests_properties(cli.noteexit_replay_${_design} PROPERTIES TIMEOUT 60 LABELS "cli"
    PASS_REGULAR_EXPRESSION "^reproduced\n$")
endforeach()

# Live mode runs it too; under giant it stays clean (Giant serialises fork, exit, kevent).
kqsim_add_cli_test(noteexit_live_giant
  ARGS "run register-vs-exit --design giant --mode live --iterations 100 --chaos 0.05"
  STDOUT "verdict: clean; 0 of 100 iterations failed")
