/*
 * stewart_connect_listen.c - Stewart's question: "how do connect() and
 * listen() interact with kqueue?"
 *
 * - A listening socket's EVFILT_READ knote uses filt_solisten: data is the
 *   number of completed connections waiting for accept() (so_qlen).
 * - The filter is chosen when the knote is attached (sokqfilter, FreeBSD
 *   before 12): an EVFILT_READ added BEFORE listen() keeps filt_soread and
 *   never reports a connection.
 * - A connecting socket's EVFILT_WRITE (filt_sowrite) is inactive until the
 *   socket is connected; when the connect completes it becomes writable.
 * - connect() to a port nobody listens on fails with ECONNREFUSED. (In the
 *   model connect completes at once; on FreeBSD a non-blocking connect
 *   returns EINPROGRESS and the refusal arrives as EV_EOF on EVFILT_WRITE
 *   with the error in fflags.)
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/netinet/in.h>
#include <kqsim/unistd.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PORT 8080
#define EARLY_PORT 8081

static void
change(int kq, int fd, short filter, unsigned short flags)
{
	struct kevent kev;

	EV_SET(&kev, fd, filter, flags, 0, 0, NULL);
	if (kevent(kq, &kev, 1, NULL, 0, NULL) == -1)
		perror("kevent");
}

/* Poll once; print each event as "<what>: <filter> data <n>". */
static int
show(int kq, const char *when, int lfd)
{
	struct timespec zero = { 0, 0 };
	struct kevent evs[4];
	int n, i;

	n = kevent(kq, NULL, 0, evs, 4, &zero);
	printf("%s: %d event%s\n", when, n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		printf("  %s %s data %lld\n",
		    (int)evs[i].ident == lfd ? "listener" : "client",
		    evs[i].filter == EVFILT_READ ? "EVFILT_READ" : "EVFILT_WRITE",
		    (long long)evs[i].data);
	return (n);
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return (sin);
}

int
main(void)
{
	struct sockaddr_in sin;
	int kq, lfd, early, c1, c2, c3, afd;

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin = loopback(PORT);
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 8);
	change(kq, lfd, EVFILT_READ, EV_ADD);
	show(kq, "listening, nobody connected", lfd);

	c1 = socket(AF_INET, SOCK_STREAM, 0);
	change(kq, c1, EVFILT_WRITE, EV_ADD | EV_ONESHOT);
	show(kq, "client socket before connect", lfd);
	sin = loopback(PORT);
	if (connect(c1, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		perror("connect");
	show(kq, "after connect", lfd);

	c2 = socket(AF_INET, SOCK_STREAM, 0);
	connect(c2, (struct sockaddr *)&sin, sizeof(sin));
	show(kq, "second connect", lfd);
	afd = accept(lfd, NULL, NULL);
	show(kq, "after one accept", lfd);
	close(afd);
	close(accept(lfd, NULL, NULL));
	show(kq, "after the second accept", lfd);

	/* EVFILT_READ added before listen(): filt_soread, not filt_solisten. */
	early = socket(AF_INET, SOCK_STREAM, 0);
	sin = loopback(EARLY_PORT);
	bind(early, (struct sockaddr *)&sin, sizeof(sin));
	change(kq, early, EVFILT_READ, EV_ADD);
	listen(early, 8);
	c3 = socket(AF_INET, SOCK_STREAM, 0);
	connect(c3, (struct sockaddr *)&sin, sizeof(sin));
	show(kq, "knote added before listen(), one connection queued", lfd);

	close(c3);
	c3 = socket(AF_INET, SOCK_STREAM, 0);
	sin = loopback(9999);
	if (connect(c3, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		printf("connect to a port nobody listens on: %s\n", strerror(errno));

	close(c3);
	close(c2);
	close(c1);
	close(early);
	close(lfd);
	close(kq);
	return (0);
}
