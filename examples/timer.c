/*
 * timer.c - EVFILT_TIMER: a periodic 250 ms timer and a one-shot 1100 ms timer
 * on one kqueue, on the model's virtual clock (no real time passes).
 *
 * The loop counts the periodic timer's expirations (data: expirations since
 * the last retrieval) until the one-shot timer fires, then drains once more
 * with a zero timeout (a tick may still be queued beside the deadline) and
 * deletes the periodic timer: 4 ticks (250, 500, 750, 1000 ms) come before
 * the deadline, whatever the interleaving.
 */
#include <kqsim/sys/event.h>
#include <kqsim/unistd.h>

#include <stdio.h>

#define TICK 1
#define DEADLINE 2

int
main(void)
{
	struct kevent changes[2], events[4];
	struct timespec zero = { 0, 0 };
	long ticks = 0;
	int kq, nev, i, done = 0, fired = 0;

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	/* data is in milliseconds unless a NOTE_*SECONDS unit is given. */
	EV_SET(&changes[0], TICK, EVFILT_TIMER, EV_ADD, 0, 250, NULL);
	EV_SET(&changes[1], DEADLINE, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_MSECONDS, 1100, NULL);
	if (kevent(kq, changes, 2, NULL, 0, NULL) == -1) {
		perror("kevent: register");
		return (1);
	}

	while (!done) {
		nev = kevent(kq, NULL, 0, events, 4, fired ? &zero : NULL);
		if (nev == -1) {
			perror("kevent");
			return (1);
		}
		if (nev == 0)
			done = 1;	/* drained after the deadline */
		for (i = 0; i < nev; i++) {
			if (events[i].ident == TICK)
				ticks += events[i].data;
			else if (events[i].ident == DEADLINE)
				fired = 1;
		}
	}

	EV_SET(&changes[0], TICK, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
	if (kevent(kq, changes, 1, NULL, 0, NULL) == -1) {
		perror("kevent: delete");
		return (1);
	}
	printf("deadline after %ld ticks of 250 ms\n", ticks);
	close(kq);
	return (0);
}
