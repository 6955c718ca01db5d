/*
 * stewart_flags.c - Stewart's question: "what do the flags mean, and when
 * should I use them?"
 *
 * One socket with 10 unread bytes, watched four ways, two scans each:
 *   (none)       level-triggered: reported by every scan while data waits.
 *   EV_CLEAR     edge-triggered: delivery resets the state (kn_status,
 *                kn_data); reported again only after new activity. For a
 *                socket, data is still the whole amount waiting.
 *   EV_ONESHOT   reported once, then the knote is deleted (knote_drop in
 *                kqueue_scan): a later EV_DELETE finds nothing (ENOENT).
 *   EV_DISPATCH  reported once, then disabled (KN_DISABLED) but kept;
 *                EV_ENABLE re-arms it, and the data still waiting is
 *                reported again.
 * EV_RECEIPT makes each change come back as an EV_ERROR entry with data 0
 * (success) instead of running a scan.
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
change(int kq, int fd, unsigned short flags)
{
	struct kevent kev;

	EV_SET(&kev, fd, EVFILT_READ, flags, 0, 0, NULL);
	return (kevent(kq, &kev, 1, NULL, 0, NULL));
}

static int
poll_once(int kq, struct kevent *ev)
{
	struct timespec zero = { 0, 0 };

	return (kevent(kq, NULL, 0, ev, 1, &zero));
}

static void
two_scans(int kq, const char *name, int fd, unsigned short flags)
{
	struct kevent ev;
	int first, second;

	change(kq, fd, EV_ADD | flags);
	first = poll_once(kq, &ev);
	second = poll_once(kq, &ev);
	printf("%-11s first scan %d, second scan %d\n", name, first, second);
}

int
main(void)
{
	struct kevent ev, kev[2], out[2];
	int s[2], kq, n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1 || (kq = kqueue()) == -1) {
		perror("setup");
		return (1);
	}
	write(s[1], "0123456789", 10);

	two_scans(kq, "(none)", s[0], 0);
	change(kq, s[0], EV_DELETE);

	two_scans(kq, "EV_CLEAR", s[0], EV_CLEAR);
	write(s[1], "!", 1);
	n = poll_once(kq, &ev);
	printf("EV_CLEAR    after 1 more byte: %d event, data %lld\n", n, (long long)ev.data);
	change(kq, s[0], EV_DELETE);

	two_scans(kq, "EV_ONESHOT", s[0], EV_ONESHOT);
	if (change(kq, s[0], EV_DELETE) == -1)
		printf("EV_ONESHOT  then EV_DELETE: %s (the knote is gone)\n", strerror(errno));

	two_scans(kq, "EV_DISPATCH", s[0], EV_DISPATCH);
	change(kq, s[0], EV_ENABLE);
	n = poll_once(kq, &ev);
	printf("EV_DISPATCH after EV_ENABLE: %d event, data %lld\n", n, (long long)ev.data);
	change(kq, s[0], EV_DELETE);

	EV_SET(&kev[0], s[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
	EV_SET(&kev[1], s[1], EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, NULL);
	n = kevent(kq, kev, 2, out, 2, NULL);
	printf("EV_RECEIPT  two changes: %d entries, flags %s, data %lld and %lld\n", n,
	    (out[0].flags & EV_ERROR) && (out[1].flags & EV_ERROR) ? "EV_ERROR" : "?",
	    (long long)out[0].data, (long long)out[1].data);

	close(s[0]);
	close(s[1]);
	close(kq);
	return (0);
}
