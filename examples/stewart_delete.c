/*
 * stewart_delete.c - Stewart's question: "what happens when you delete the
 * event but keep the socket?"
 *
 * EV_DELETE drops the knote (kqueue_register -> knote_drop: f_detach takes
 * it off the socket's so_rcv knlist, and knote_dequeue takes it off the
 * pending queue if it was there). The socket is not touched: its buffered
 * bytes stay, read() still works, and new data KNOTEs an empty knlist, so no
 * event is ever reported for it. A second EV_DELETE finds no knote: ENOENT.
 * EV_ADD again attaches a new knote and kqueue_register calls f_event at
 * once, so data that arrived meanwhile is reported by the next scan.
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

int
main(void)
{
	struct kevent ev;
	char buf[32];
	int s[2], kq, n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1 || (kq = kqueue()) == -1) {
		perror("setup");
		return (1);
	}
	change(kq, s[0], EV_ADD);
	write(s[1], "hello", 5);
	n = poll_once(kq, &ev);
	printf("registered: %d event, data %lld\n", n, (long long)ev.data);

	/* The event is pending again (level-triggered); delete it now. */
	change(kq, s[0], EV_DELETE);
	printf("after EV_DELETE: %d events, though 5 bytes wait\n", poll_once(kq, &ev));
	write(s[1], "abc", 3);
	printf("more data after EV_DELETE: %d events\n", poll_once(kq, &ev));
	n = (int)read(s[0], buf, sizeof(buf));
	printf("the socket still works: read %d bytes\n", n);
	if (change(kq, s[0], EV_DELETE) == -1)
		printf("EV_DELETE again: %s\n", strerror(errno));

	write(s[1], "xy", 2);
	change(kq, s[0], EV_ADD);
	n = poll_once(kq, &ev);
	printf("EV_ADD again: %d event, data %lld (the data that came meanwhile)\n",
	    n, (long long)ev.data);
	close(s[0]);
	close(s[1]);
	close(kq);
	return (0);
}
