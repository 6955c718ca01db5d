/*
 * user_events.c - EVFILT_USER: events that only user code triggers.
 *
 * A user event is a knote with no kernel object behind it: ident is any
 * number the program picks, and the event fires when some thread calls
 * kevent() with NOTE_TRIGGER on it. fflags carries 24 bits of user data,
 * combined by the NOTE_FF* control: NOTE_FFCOPY replaces, NOTE_FFOR ors,
 * NOTE_FFAND ands (filt_usertouch(), EVENT_REGISTER).
 *
 * Part 1 (one thread): fflags arithmetic, and the difference EV_CLEAR makes:
 * without it a triggered user event stays triggered and every scan reports it
 * again; with it, delivery resets the trigger.
 * Part 2 (two threads): a worker blocks in kevent() on an EV_DISPATCH user
 * event; main wakes it three times, re-enabling the event (EV_ENABLE) only
 * after the worker has acknowledged the previous wake-up on a second kqueue.
 * With EV_DISPATCH the kernel disables the knote as it delivers it, so a
 * trigger that came too early could not wake a second thread.
 */
#include <kqsim/sys/event.h>
#include <kqsim/unistd.h>
#include <kqsim/pthread.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LEVEL_IDENT 1
#define CLEAR_IDENT 2
#define WAKE_IDENT 3
#define ACK_IDENT 4
#define ROUNDS 3

static int
user_change(int kq, uintptr_t ident, unsigned short flags, unsigned int fflags)
{
	struct kevent kev;

	EV_SET(&kev, ident, EVFILT_USER, flags, fflags, 0, NULL);
	return (kevent(kq, &kev, 1, NULL, 0, NULL));
}

/* Non-blocking scan: how many events are pending, and the first one. */
static int
poll_once(int kq, struct kevent *first)
{
	struct timespec zero = { 0, 0 };
	struct kevent evs[4];
	int n;

	n = kevent(kq, NULL, 0, evs, 4, &zero);
	if (n > 0 && first != NULL)
		*first = evs[0];
	return (n);
}

struct worker {
	int kq;		/* the worker waits here for WAKE_IDENT */
	int ackq;	/* and acknowledges each round here (ACK_IDENT) */
	unsigned int seen[ROUNDS];
	int error;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct kevent ev;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (kevent(w->kq, NULL, 0, &ev, 1, NULL) != 1 ||
		    ev.ident != WAKE_IDENT) {
			w->error = errno ? errno : EINVAL;
			break;
		}
		w->seen[i] = ev.fflags & NOTE_FFLAGSMASK;
		/* Tell main this round is done. */
		if (user_change(w->ackq, ACK_IDENT, 0, NOTE_TRIGGER) == -1) {
			w->error = errno;
			break;
		}
	}
	return (NULL);
}

int
main(void)
{
	struct worker w;
	struct kevent ev;
	pthread_t tid;
	int kq, kq2, n, i;

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}

	/* Part 1: fflags and level versus EV_CLEAR. */
	user_change(kq, LEVEL_IDENT, EV_ADD, NOTE_FFCOPY | 0x11);
	user_change(kq, LEVEL_IDENT, 0, NOTE_FFOR | 0x04);	/* 0x15 */
	user_change(kq, LEVEL_IDENT, 0, NOTE_FFAND | 0x0f);	/* 0x05 */
	printf("before trigger: %d pending\n", poll_once(kq, NULL));
	user_change(kq, LEVEL_IDENT, 0, NOTE_TRIGGER);
	n = poll_once(kq, &ev);
	printf("level: %d event, ident %lu fflags 0x%x\n", n,
	    (unsigned long)ev.ident, ev.fflags & NOTE_FFLAGSMASK);
	printf("level: scanned again, %d event (still triggered)\n",
	    poll_once(kq, NULL));
	user_change(kq, LEVEL_IDENT, EV_DELETE, 0);

	user_change(kq, CLEAR_IDENT, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x2);
	user_change(kq, CLEAR_IDENT, 0, NOTE_TRIGGER);
	n = poll_once(kq, &ev);
	printf("clear: %d event, fflags 0x%x\n", n,
	    ev.fflags & NOTE_FFLAGSMASK);
	printf("clear: scanned again, %d events (delivery reset it)\n",
	    poll_once(kq, NULL));
	user_change(kq, CLEAR_IDENT, EV_DELETE, 0);
	if (user_change(kq, CLEAR_IDENT, 0, NOTE_TRIGGER) == -1)
		printf("trigger after EV_DELETE: %s\n", strerror(errno));

	/* Part 2: EV_DISPATCH hand-off to a worker thread. */
	if ((kq2 = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	user_change(kq, WAKE_IDENT, EV_ADD | EV_DISPATCH | EV_CLEAR, 0);
	user_change(kq2, ACK_IDENT, EV_ADD | EV_CLEAR, 0);
	memset(&w, 0, sizeof(w));
	w.kq = kq;
	w.ackq = kq2;
	if (pthread_create(&tid, NULL, worker_main, &w) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return (1);
	}
	for (i = 0; i < ROUNDS && w.error == 0; i++) {
		/* Trigger, hand round i in fflags, and re-arm (EV_ENABLE). */
		user_change(kq, WAKE_IDENT, EV_ENABLE,
		    NOTE_TRIGGER | NOTE_FFCOPY | (unsigned int)(0x100 + i));
		/* Wait on the other kqueue for the worker's acknowledgement. */
		if (kevent(kq2, NULL, 0, &ev, 1, NULL) != 1) {
			perror("kevent: ack");
			break;
		}
	}
	pthread_join(tid, NULL);
	for (i = 0; i < ROUNDS; i++)
		printf("worker: round %d fflags 0x%x\n", i, w.seen[i]);
	printf("worker: %s\n", w.error ? strerror(w.error) : "ok");
	close(kq2);
	close(kq);
	return (w.error != 0);
}
