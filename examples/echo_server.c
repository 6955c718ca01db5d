/*
 * echo_server.c - a kqueue echo server as written for FreeBSD, with its
 * clients as threads of the same program.
 *
 * The server listens on 127.0.0.1:7777, registers the listening socket with
 * EVFILT_READ, and in its event loop
 *   - accepts while the listen socket's event says connections are waiting
 *     (data = completed connections), registering each new socket with
 *     EVFILT_READ;
 *   - echoes what a client sent, reading exactly the byte count the event
 *     carries in data;
 *   - closes a client socket on EV_EOF (closing removes its knote).
 * NCLIENTS client threads each connect, send one line, read the echo back,
 * and close. When every client has gone, the server joins the threads and
 * prints what each client got back, in client order, then a summary line, so
 * the output is the same under every interleaving.
 *
 * The only kqsim-specific lines are the #includes (<kqsim/...> instead of
 * <sys/event.h>, <sys/socket.h>, <netinet/in.h>, <unistd.h>, <pthread.h>).
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/netinet/in.h>
#include <kqsim/unistd.h>
#include <kqsim/pthread.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PORT 7777
#define NCLIENTS 4
#define MAXEVENTS 8

struct client {
	int id;
	int error;		/* errno of the first failure, 0 if none */
	char reply[64];		/* what came back */
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct sockaddr_in sin;
	char line[64];
	size_t len, got;
	ssize_t n;
	int s;

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		c->error = errno;
		return (NULL);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(PORT);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		c->error = errno;
		close(s);
		return (NULL);
	}

	len = (size_t)snprintf(line, sizeof(line), "hello from client %d\n", c->id);
	if (write(s, line, len) != (ssize_t)len) {
		c->error = errno;
		close(s);
		return (NULL);
	}

	/* Read the echo: up to the newline, however it is split. */
	got = 0;
	while (got < sizeof(c->reply) - 1 &&
	    (got == 0 || c->reply[got - 1] != '\n')) {
		n = read(s, c->reply + got, sizeof(c->reply) - 1 - got);
		if (n == -1) {
			c->error = errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	c->reply[got] = '\0';
	close(s);
	return (NULL);
}

int
main(void)
{
	struct client clients[NCLIENTS];
	pthread_t tids[NCLIENTS];
	struct kevent change, events[MAXEVENTS];
	struct sockaddr_in sin;
	char buf[256];
	long echoed = 0;
	int lfd, kq, nev, i, k, fd, accepted = 0, gone = 0, failed = 0;
	int one = 1;

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		perror("socket");
		return (1);
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(PORT);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("bind");
		return (1);
	}
	if (listen(lfd, NCLIENTS) == -1) {
		perror("listen");
		return (1);
	}

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	EV_SET(&change, lfd, EVFILT_READ, EV_ADD, 0, 0, NULL);
	if (kevent(kq, &change, 1, NULL, 0, NULL) == -1) {
		perror("kevent: listen socket");
		return (1);
	}

	for (i = 0; i < NCLIENTS; i++) {
		clients[i].id = i;
		clients[i].error = 0;
		clients[i].reply[0] = '\0';
		if (pthread_create(&tids[i], NULL, client_main, &clients[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return (1);
		}
	}

	while (gone < NCLIENTS) {
		nev = kevent(kq, NULL, 0, events, MAXEVENTS, NULL);
		if (nev == -1) {
			if (errno == EINTR)
				continue;
			perror("kevent");
			break;
		}
		for (i = 0; i < nev; i++) {
			fd = (int)events[i].ident;
			if (events[i].flags & EV_ERROR) {
				fprintf(stderr, "kevent: fd %d: %s\n", fd,
				    strerror((int)events[i].data));
				failed++;
				continue;
			}
			if (fd == lfd) {
				/* data: connections waiting to be accepted. */
				for (k = 0; k < events[i].data; k++) {
					int c = accept(lfd, NULL, NULL);
					if (c == -1) {
						perror("accept");
						failed++;
						break;
					}
					accepted++;
					EV_SET(&change, c, EVFILT_READ, EV_ADD, 0, 0, NULL);
					if (kevent(kq, &change, 1, NULL, 0, NULL) == -1) {
						perror("kevent: client socket");
						failed++;
					}
				}
				continue;
			}
			/* A client: echo what arrived (data = bytes readable). */
			if (events[i].data > 0) {
				size_t want = (size_t)events[i].data;
				ssize_t n;

				if (want > sizeof(buf))
					want = sizeof(buf);
				n = read(fd, buf, want);
				if (n > 0) {
					if (write(fd, buf, (size_t)n) != n) {
						perror("write");
						failed++;
					}
					echoed += n;
				} else if (n == -1) {
					perror("read");
					failed++;
				}
			}
			/* EV_EOF: the client is gone (once its data is read). */
			if ((events[i].flags & EV_EOF) && events[i].data == 0) {
				close(fd);
				gone++;
			}
		}
	}

	for (i = 0; i < NCLIENTS; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < NCLIENTS; i++) {
		if (clients[i].error != 0)
			printf("client %d: error: %s\n", i, strerror(clients[i].error));
		else
			printf("client %d: %s", i, clients[i].reply);
	}
	printf("server: %d connections, %ld bytes echoed, %d errors\n",
	    accepted, echoed, failed);
	close(kq);
	close(lfd);
	return (failed != 0);
}
