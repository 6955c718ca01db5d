/*
 * pipe_user.c - one kqueue watching a pipe (EVFILT_READ) and a user event
 * (EVFILT_USER) that another thread triggers.
 *
 * The producer thread writes three lines into the pipe, triggers the user
 * event with NOTE_TRIGGER | NOTE_FFOR 0x2a (fflags are OR-ed into the
 * event's), and closes its end of the pipe. The main thread waits on the
 * kqueue until it has seen both the user event and the pipe's EV_EOF,
 * reading on each EVFILT_READ event the byte count the event carries in data.
 * It prints what it got after joining the producer, so the output does not
 * depend on how the events were batched.
 */
#include <kqsim/sys/event.h>
#include <kqsim/unistd.h>
#include <kqsim/pthread.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define USER_IDENT 1

struct producer {
	int kq;
	int wfd;
	int error;
};

static void *
producer_main(void *arg)
{
	static const char *lines[] = { "one\n", "two\n", "three\n" };
	struct producer *p = arg;
	struct kevent kev;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (write(p->wfd, lines[i], strlen(lines[i])) == -1) {
			p->error = errno;
			break;
		}
	}
	EV_SET(&kev, USER_IDENT, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFOR | 0x2a, 0, NULL);
	if (kevent(p->kq, &kev, 1, NULL, 0, NULL) == -1)
		p->error = errno;
	close(p->wfd);
	return (NULL);
}

int
main(void)
{
	struct producer prod;
	struct kevent changes[2], events[4];
	pthread_t tid;
	char text[64];
	size_t got = 0;
	unsigned int user_fflags = 0;
	int fds[2], kq, nev, i, seen_user = 0, seen_eof = 0;

	if ((kq = kqueue()) == -1) {
		perror("kqueue");
		return (1);
	}
	if (pipe(fds) == -1) {
		perror("pipe");
		return (1);
	}
	EV_SET(&changes[0], fds[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&changes[1], USER_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
	if (kevent(kq, changes, 2, NULL, 0, NULL) == -1) {
		perror("kevent: register");
		return (1);
	}

	prod.kq = kq;
	prod.wfd = fds[1];
	prod.error = 0;
	if (pthread_create(&tid, NULL, producer_main, &prod) != 0) {
		fprintf(stderr, "pthread_create failed\n");
		return (1);
	}

	while (!seen_user || !seen_eof) {
		nev = kevent(kq, NULL, 0, events, 4, NULL);
		if (nev == -1) {
			perror("kevent");
			break;
		}
		for (i = 0; i < nev; i++) {
			if (events[i].filter == EVFILT_USER) {
				seen_user = 1;
				user_fflags = events[i].fflags;
			} else if (events[i].filter == EVFILT_READ) {
				size_t want = (size_t)events[i].data;
				ssize_t n;

				if (want > sizeof(text) - 1 - got)
					want = sizeof(text) - 1 - got;
				if (want > 0 && (n = read(fds[0], text + got, want)) > 0)
					got += (size_t)n;
				if ((events[i].flags & EV_EOF) && events[i].data == 0)
					seen_eof = 1;
			}
		}
	}
	pthread_join(tid, NULL);
	text[got] = '\0';

	printf("user event: fflags 0x%x\n", user_fflags & NOTE_FFLAGSMASK);
	printf("pipe: %zu bytes then EOF\n", got);
	printf("%s", text);
	printf("producer: %s\n", prod.error ? strerror(prod.error) : "ok");
	close(fds[0]);
	close(kq);
	return (prod.error != 0);
}
