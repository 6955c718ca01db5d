/*
 * stewart_eof.c - Stewart's question: "is EV_EOF always seen on a graceful
 * close?"
 *
 * Yes, as long as a knote is registered to see it: when the peer closes
 * (or shuts down its write side), the socket can receive no more
 * (SBS_CANTRCVMORE) and filt_soread sets EV_EOF, with fflags = so_error (0
 * for a FIN, ECONNRESET for a reset). It is level-triggered: it comes with
 * the bytes still buffered (data > 0), and keeps coming once they are read
 * (data == 0). A knote added after the close sees it at once, because
 * kqueue_register calls f_event on attach. But an EV_ONESHOT knote that
 * fired for the data is gone, so it never reports the EOF, and an EV_CLEAR
 * knote folds data and EOF into one event if both arrive before the scan.
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
change(int kq, int fd, short filter, unsigned short flags)
{
	struct kevent kev;

	EV_SET(&kev, fd, filter, flags, 0, 0, NULL);
	kevent(kq, &kev, 1, NULL, 0, NULL);
}

static void
show(int kq, const char *when)
{
	struct timespec zero = { 0, 0 };
	struct kevent ev;
	int n;

	n = kevent(kq, NULL, 0, &ev, 1, &zero);
	if (n != 1) {
		printf("%-32s no event\n", when);
		return;
	}
	printf("%-32s %s data %lld%s fflags %s\n", when,
	    ev.filter == EVFILT_READ ? "EVFILT_READ" : "EVFILT_WRITE",
	    (long long)ev.data, (ev.flags & EV_EOF) ? " EV_EOF" : "",
	    ev.fflags ? strerror((int)ev.fflags) : "0");
}

static void
pair(int s[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1)
		perror("socketpair");
}

int
main(void)
{
	struct linger lg = { 1, 0 };
	char buf[16];
	int s[2], kq;

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}

	printf("graceful close, level-triggered knote:\n");
	pair(s);
	change(kq, s[0], EVFILT_READ, EV_ADD);
	write(s[1], "bye", 3);
	close(s[1]);
	show(kq, "  peer wrote 3 bytes and closed");
	read(s[0], buf, sizeof(buf));
	show(kq, "  after reading them");
	close(s[0]);

	printf("shutdown(SHUT_WR) by the peer:\n");
	pair(s);
	change(kq, s[0], EVFILT_READ, EV_ADD);
	shutdown(s[1], SHUT_WR);
	show(kq, "  reader");
	change(kq, s[0], EVFILT_READ, EV_DELETE);
	change(kq, s[1], EVFILT_READ, EV_ADD);
	write(s[0], "ok", 2);
	show(kq, "  writing the other way");
	close(s[0]);
	close(s[1]);

	printf("knote added after the close:\n");
	pair(s);
	close(s[1]);
	change(kq, s[0], EVFILT_READ, EV_ADD);
	show(kq, "  registered later");
	close(s[0]);

	printf("EV_ONESHOT fired on the data first:\n");
	pair(s);
	change(kq, s[0], EVFILT_READ, EV_ADD | EV_ONESHOT);
	write(s[1], "x", 1);
	show(kq, "  data");
	close(s[1]);
	show(kq, "  peer closed");
	close(s[0]);

	printf("EV_CLEAR, data and close before the scan:\n");
	pair(s);
	change(kq, s[0], EVFILT_READ, EV_ADD | EV_CLEAR);
	write(s[1], "x", 1);
	close(s[1]);
	show(kq, "  one event");
	show(kq, "  next scan");
	close(s[0]);

	printf("reset (SO_LINGER 0) instead of a graceful close:\n");
	pair(s);
	change(kq, s[0], EVFILT_READ, EV_ADD);
	setsockopt(s[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s[1]);
	show(kq, "  reader");
	change(kq, s[0], EVFILT_READ, EV_DELETE);
	change(kq, s[0], EVFILT_WRITE, EV_ADD);
	show(kq, "  writer side");
	close(s[0]);

	close(kq);
	return (0);
}
