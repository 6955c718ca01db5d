/*
 * proxy.c - a relay: two socket pairs joined through one kqueue.
 *
 *   client <==pair A==> [a] proxy [b] <==pair B==> server
 *
 * The proxy (main thread) registers EVFILT_READ on both of its ends with the
 * other end's descriptor in udata, and copies whatever one side has (the
 * event's data says how much) to the other. When one side reports EV_EOF
 * and has no data left, the proxy passes the half-close on with
 * shutdown(SHUT_WR) and deletes that knote (EV_DELETE): the descriptor stays
 * open, the event is gone. It stops when both directions are closed.
 *
 * The client sends three requests and then shuts down its write side; the
 * server answers each line with "ok <line>" and closes after the client's
 * EOF. Output is printed after joining, so it is the same for any
 * interleaving.
 */
#include <kqsim/sys/event.h>
#include <kqsim/sys/socket.h>
#include <kqsim/unistd.h>
#include <kqsim/pthread.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct peer {
	int fd;
	char got[256];
	size_t len;
	int error;
};

/* Read until EOF into p->got. */
static void
read_all(struct peer *p)
{
	ssize_t n = 0;

	while (p->len < sizeof(p->got) - 1 &&
	    (n = read(p->fd, p->got + p->len, sizeof(p->got) - 1 - p->len)) > 0)
		p->len += (size_t)n;
	if (n == -1)
		p->error = errno;
	p->got[p->len] = '\0';
}

static void *
client_main(void *arg)
{
	static const char *reqs[] = { "GET /a\n", "GET /b\n", "GET /c\n" };
	struct peer *c = arg;
	size_t i;

	for (i = 0; i < 3; i++)
		if (write(c->fd, reqs[i], strlen(reqs[i])) == -1)
			c->error = errno;
	shutdown(c->fd, SHUT_WR);
	read_all(c);
	close(c->fd);
	return (NULL);
}

static void *
server_main(void *arg)
{
	struct peer *s = arg;
	char line[64], reply[80];
	size_t used = 0;
	ssize_t n;
	char *nl;

	/* Answer each complete line as it arrives. */
	while ((n = read(s->fd, line + used, sizeof(line) - 1 - used)) > 0) {
		used += (size_t)n;
		line[used] = '\0';
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			snprintf(reply, sizeof(reply), "ok %s\n", line);
			if (write(s->fd, reply, strlen(reply)) == -1)
				s->error = errno;
			s->len++;	/* requests answered */
			used -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, used + 1);
		}
	}
	if (n == -1)
		s->error = errno;
	close(s->fd);
	return (NULL);
}

int
main(void)
{
	struct peer client, server;
	struct kevent ch[2], evs[4];
	pthread_t ct, st;
	char buf[512];
	size_t relayed[2] = { 0, 0 };
	int a[2], b[2], kq, open_dirs = 2, nev, i, errors = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, b) == -1) {
		perror("socketpair");
		return (1);
	}
	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	/* a[1] faces the client, b[0] the server; udata = where to copy. */
	EV_SET(&ch[0], a[1], EVFILT_READ, EV_ADD, 0, 0, (void *)(intptr_t)b[0]);
	EV_SET(&ch[1], b[0], EVFILT_READ, EV_ADD, 0, 0, (void *)(intptr_t)a[1]);
	if (kevent(kq, ch, 2, NULL, 0, NULL) == -1) {
		perror("kevent: register");
		return (1);
	}

	memset(&client, 0, sizeof(client));
	memset(&server, 0, sizeof(server));
	client.fd = a[0];
	server.fd = b[1];
	pthread_create(&ct, NULL, client_main, &client);
	pthread_create(&st, NULL, server_main, &server);

	while (open_dirs > 0) {
		nev = kevent(kq, NULL, 0, evs, 4, NULL);
		if (nev == -1) {
			perror("kevent");
			errors++;
			break;
		}
		for (i = 0; i < nev; i++) {
			int from = (int)evs[i].ident;
			int to = (int)(intptr_t)evs[i].udata;
			int dir = (from == a[1]) ? 0 : 1;
			size_t want = (size_t)evs[i].data;
			ssize_t n;

			while (want > 0) {
				n = read(from, buf, want < sizeof(buf) ? want : sizeof(buf));
				if (n <= 0)
					break;
				if (write(to, buf, (size_t)n) != n)
					errors++;
				relayed[dir] += (size_t)n;
				want -= (size_t)n;
			}
			if ((evs[i].flags & EV_EOF) && evs[i].data == 0) {
				/* This direction is done: pass on the FIN. */
				shutdown(to, SHUT_WR);
				EV_SET(&ch[0], from, EVFILT_READ, EV_DELETE, 0, 0, NULL);
				if (kevent(kq, ch, 1, NULL, 0, NULL) == -1)
					errors++;
				open_dirs--;
			}
		}
	}
	pthread_join(ct, NULL);
	pthread_join(st, NULL);
	close(a[1]);
	close(b[0]);
	close(kq);

	printf("client got:\n%s", client.got);
	printf("server answered %zu requests\n", server.len);
	printf("proxy: %zu bytes client->server, %zu bytes server->client, "
	    "%d errors\n", relayed[0], relayed[1],
	    errors + (client.error != 0) + (server.error != 0));
	return (errors != 0);
}
