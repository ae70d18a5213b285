/* rpcfloor: the round-trip floor under every metadata call.
 *
 *   rpcfloor [ROUNDS]
 *
 * Times ROUNDS (default 3000) small request/reply round trips on
 * 127.0.0.1 two ways: raw TCP between two threads (blocking read/write,
 * TCP_NODELAY), and a call through common/rpc.c to a method that does
 * nothing, as every daemon makes them. Prints one line:
 * "tcp_us=T rpc_us=R ratio=X" (mean microseconds per round trip). Exit
 * status 1 on any failure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cfs/rpc.h"
#include "mds.pb-c.h"

#define MSG 100

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

/* The RPC layer's own round trip: a server with one method that
 * answers with an empty reply, and one client calling it. */
static int h_nothing(void *arg, struct cfs_rpc_req *rq,
		     const ProtobufCMessage *m)
{
	(void)arg;
	(void)rq;
	(void)m;
	return 0;
}

static const struct cfs_rpc_method methods[] = {
	[1] = { &cfs__mds_ino__descriptor, h_nothing, false },
};

static double rpc_round_trips(int rounds)
{
	const char *addr = "127.0.0.1:17998";
	Cfs__MdsIno req = CFS__MDS_INO__INIT;
	struct cfs_rpc_server *srv;
	struct cfs_rpc_client *cl;
	char pad[MSG] = { 0 };
	double t0;

	if (cfs_rpc_server_start(&srv, addr, methods, 2, NULL, 4) ||
	    cfs_rpc_client_new(&cl))
		die("rpc start");
	t0 = now();
	for (int i = 0; i < rounds; i++) {
		struct cfs_rpc_call c = { .method = 1, .req = &req.base,
					  .bulk = pad, .bulk_len = MSG };

		if (cfs_rpc_call(cl, addr, &c))
			die("rpc call");
		cfs_rpc_call_done(&c);
	}
	t0 = now() - t0;
	cfs_rpc_client_free(cl);
	cfs_rpc_server_stop(srv);
	return t0 / rounds * 1e6;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3000;
	double tcp, rpc;

	if (rounds < 1)
		die("usage: rpcfloor [ROUNDS]");
	tcp = tcp_round_trips(rounds);
	rpc = rpc_round_trips(rounds);
	printf("tcp_us=%.1f rpc_us=%.1f ratio=%.2f\n", tcp, rpc, rpc / tcp);
	return 0;
}
