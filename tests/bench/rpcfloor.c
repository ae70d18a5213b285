/* rpcfloor: the round-trip floor under every metadata call.
 *
 *   rpcfloor [ROUNDS]
 *
 * Times ROUNDS (default 3000) small request/reply round trips on
 * 127.0.0.1 two ways: raw TCP between two threads (blocking read/write,
 * TCP_NODELAY), and nng req/rep with one context and aio per call and a
 * pool of server contexts, as common/rpc.c does. Prints one line:
 * "tcp_us=T nng_us=N ratio=R" (mean microseconds per round trip). Exit
 * status 1 on any failure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 100
#define SERVERS 4

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "rpcfloor: %s\n", what);
	exit(1);
}

static int full(ssize_t (*io)(int, void *, size_t), int fd, char *buf)
{
	size_t done = 0;

	while (done < MSG) {
		ssize_t n = io(fd, buf + done, MSG - done);

		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static ssize_t do_read(int fd, void *b, size_t n)
{
	return read(fd, b, n);
}

static ssize_t do_write(int fd, void *b, size_t n)
{
	return write(fd, b, n);
}

static void *tcp_echo(void *arg)
{
	int ls = *(int *)arg, one = 1, c = accept(ls, NULL, NULL);
	char buf[MSG];

	if (c < 0)
		return NULL;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (full(do_read, c, buf) == 0 && full(do_write, c, buf) == 0)
		;
	close(c);
	return NULL;
}

static double tcp_round_trips(int rounds)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char buf[MSG] = { 0 };
	int ls, c, one = 1;
	pthread_t t;
	double t0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &alen))
		die("tcp listen");
	if (pthread_create(&t, NULL, tcp_echo, &ls))
		die("thread");
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		die("tcp connect");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t0 = now();
	for (int i = 0; i < rounds; i++)
		if (full(do_write, c, buf) || full(do_read, c, buf))
			die("tcp round trip");
	t0 = now() - t0;
	close(c);
	pthread_join(t, NULL);
	close(ls);
	return t0 / rounds * 1e6;
}

static nng_socket rep;

static void *nng_echo(void *arg)
{
	nng_ctx ctx;
	nng_aio *aio;

	(void)arg;
	if (nng_ctx_open(&ctx, rep) || nng_aio_alloc(&aio, NULL, NULL))
		return NULL;
	for (;;) {
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			break;
		nng_ctx_send(ctx, aio);	/* the request goes back as is */
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			nng_msg_free(nng_aio_get_msg(aio));
	}
	nng_aio_free(aio);
	return NULL;
}

static double nng_round_trips(int rounds)
{
	char url[64];
	nng_listener l;
	nng_sockaddr sa;
	nng_socket req;
	pthread_t t[SERVERS];
	double t0;

	if (nng_rep0_open(&rep) ||
	    nng_listen(rep, "tcp://127.0.0.1:0", &l, 0) ||
	    nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa))
		die("nng listen");
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u",
		 (unsigned)ntohs(sa.s_in.sa_port));
	for (int i = 0; i < SERVERS; i++)
		if (pthread_create(&t[i], NULL, nng_echo, NULL))
			die("thread");
	if (nng_req0_open(&req) || nng_dial(req, url, NULL, 0))
		die("nng dial");
	t0 = now();
	for (int i = 0; i < rounds; i++) {
		nng_ctx ctx;
		nng_aio *aio;
		nng_msg *m;

		if (nng_aio_alloc(&aio, NULL, NULL) ||
		    nng_ctx_open(&ctx, req) || nng_msg_alloc(&m, MSG))
			die("nng alloc");
		nng_aio_set_timeout(aio, 5000);
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			die("nng send");
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio))
			die("nng receive");
		nng_msg_free(nng_aio_get_msg(aio));
		nng_ctx_close(ctx);
		nng_aio_free(aio);
	}
	t0 = now() - t0;
	nng_close(req);
	nng_close(rep);
	for (int i = 0; i < SERVERS; i++)
		pthread_join(t[i], NULL);
	return t0 / rounds * 1e6;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3000;
	double tcp, nng;

	if (rounds < 1)
		die("usage: rpcfloor [ROUNDS]");
	tcp = tcp_round_trips(rounds);
	nng = nng_round_trips(rounds);
	printf("tcp_us=%.1f nng_us=%.1f ratio=%.2f\n", tcp, nng, nng / tcp);
	return 0;
}
