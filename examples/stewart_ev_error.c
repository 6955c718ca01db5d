/*
 * stewart_ev_error.c - Stewart's question: "what does EV_ERROR mean?"
 *
 * kevent() applies the changelist one entry at a time (kqueue_register).
 * When an entry fails and the eventlist has room, that entry is copied out
 * with flags = EV_ERROR and data = the errno, the remaining entries are
 * still applied, and kevent() returns the number of such entries without
 * scanning for events. When there is no room (nevents == 0), kevent()
 * returns -1 with errno set at the first failing entry, and the entries
 * after it are NOT applied. EV_RECEIPT asks for an EV_ERROR entry for every
 * change, with data 0 on success.
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define BADFD 99

static void
print_entries(const char *what, int n, const struct kevent *out)
{
	int i;

	printf("%s: kevent returned %d\n", what, n);
	for (i = 0; i < n; i++)
		printf("  ident %lu flags%s data %lld (%s)\n", (unsigned long)out[i].ident,
		    (out[i].flags & EV_ERROR) ? " EV_ERROR" : "", (long long)out[i].data,
		    out[i].data ? strerror((int)out[i].data) : "success");
}

int
main(void)
{
	struct timespec zero = { 0, 0 };
	struct kevent ch[3], out[4];
	int s[2], kq, n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) == -1 || (kq = kqueue()) == -1) {
		perror("setup");
		return (1);
	}

	/* Three changes, the middle one on a descriptor that is not open. */
	EV_SET(&ch[0], s[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&ch[1], BADFD, EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&ch[2], s[1], EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
	n = kevent(kq, ch, 3, out, 4, &zero);
	print_entries("with room for errors", n, out);

	/* The same mistakes with no eventlist: the call fails at the first. */
	EV_SET(&ch[0], BADFD, EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&ch[1], s[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
	n = kevent(kq, ch, 2, NULL, 0, NULL);
	printf("without room: kevent returned %d, errno %s\n", n, n == -1 ? strerror(errno) : "-");
	EV_SET(&ch[0], s[1], EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
	if (kevent(kq, ch, 1, NULL, 0, NULL) == -1)
		printf("  the change after the failing one was not applied: %s\n", strerror(errno));

	/* An unknown filter, and EV_RECEIPT on a good change. */
	EV_SET(&ch[0], s[0], -99, EV_ADD, 0, 0, NULL);
	EV_SET(&ch[1], s[1], EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, NULL);
	n = kevent(kq, ch, 2, out, 4, &zero);
	print_entries("bad filter, then EV_RECEIPT", n, out);

	close(s[0]);
	close(s[1]);
	close(kq);
	return (0);
}
