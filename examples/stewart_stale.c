/*
 * stewart_stale.c - Stewart's question: "can stale events be read after a
 * delete?"
 *
 * From the kernel, no: EV_DELETE (and close(), through knote_fdclose) drops
 * the knote and takes it off the pending queue (knote_dequeue), so no scan
 * that starts after the delete returns it. The scenario stale-after-delete
 * checks that under every interleaving of a concurrent scan.
 *
 * From the program's own event array, yes: kevent() copied the events out
 * before the program handled any of them. If handling event 0 closes the
 * descriptor of event 1, event 1 is still in the array, and when a new
 * descriptor reuses the number (descriptors are allocated lowest-first),
 * the stale event's ident names the new socket.
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include <stdio.h>

static void
add_read(int kq, int fd)
{
	struct kevent kev;

	EV_SET(&kev, fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
	kevent(kq, &kev, 1, NULL, 0, NULL);
}

static int
poll_all(int kq, struct kevent *evs, int nevs)
{
	struct timespec zero = { 0, 0 };

	return (kevent(kq, NULL, 0, evs, nevs, &zero));
}

int
main(void)
{
	struct kevent evs[4], kev;
	char c;
	int x[2], y[2], z[2], kq, n, i, stale_fd;

	if ((kq = kqueue()) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, x) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, y) == -1) {
		perror("setup");
		return (1);
	}
	add_read(kq, x[0]);
	add_read(kq, y[0]);
	write(x[1], "x", 1);
	write(y[1], "y", 1);

	/* One batch holds both events. */
	n = poll_all(kq, evs, 4);
	printf("one kevent() call: %d events\n", n);
	stale_fd = y[0];
	for (i = 0; i < n; i++) {
		if ((int)evs[i].ident == x[0]) {
			read(x[0], &c, 1);
			/* Handling x decides that y's connection is finished. */
			EV_SET(&kev, y[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
			kevent(kq, &kev, 1, NULL, 0, NULL);
			close(y[0]);
			close(y[1]);
			/* ...and a new connection arrives, reusing the number. */
			socketpair(AF_UNIX, SOCK_STREAM, 0, z);
		}
	}
	for (i = 0; i < n; i++)
		if ((int)evs[i].ident == stale_fd)
			printf("the array still holds an event for fd %d, which is now %s\n",
			    stale_fd, stale_fd == z[0] ? "the new socket" : "closed");
	printf("a new kevent() call: %d events for the deleted knote\n", poll_all(kq, evs, 4));

	/* Deleted while queued: the pending event goes with the knote. */
	add_read(kq, z[0]);
	write(z[1], "z", 1);
	EV_SET(&kev, z[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
	kevent(kq, &kev, 1, NULL, 0, NULL);
	n = poll_all(kq, evs, 4);
	printf("queued, then deleted: %d events\n", n);
	close(x[0]);
	close(x[1]);
	close(z[0]);
	close(z[1]);
	close(kq);
	return (0);
}
