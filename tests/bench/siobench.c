/*
 * siobench: a Socket.IO v5 / Engine.IO v4 load generator over WebSocket.
 *
 * One process, one epoll loop, thousands of client sockets spread over
 * several loopback source addresses. Each client does the WebSocket
 * upgrade, the Engine.IO open and the Socket.IO CONNECT to '/', answers
 * pings, and checks every event it receives:
 *
 *     42["b",{"g":G,"s":S,"t":T}]
 *
 * G is the event's global number (for the send window), S its number in
 * the stream this client follows (all events, or those of its room), T
 * the CLOCK_MONOTONIC nanoseconds since the generator started at which
 * the event was sent. A per-client bitmap over S finds losses,
 * duplicates and reordering; T gives the latency.
 *
 * Events come from a publisher client (relay: the server re-broadcasts
 * what it sends) or from NDJSON lines written to a feeder (pipe, rooms:
 * a command such as sio-emit, or a FIFO the server reads). The sender
 * stays at most --window events ahead of the last event that every
 * recipient has; --rate paces it instead of running flat out.
 *
 * While it runs it reads /proc for the server processes it is given
 * (CPU time, VmRSS, VmHWM) and for the kernel (Slab, sockstat), and
 * prints one JSON object of results on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define SCRATCH_SIZE (1u << 20)
#define MAX_PIDS 4

enum state { C_NEW, C_TCP, C_HTTP, C_EIO, C_SIO, C_READY, C_DEAD };

struct conn {
	int fd;
	uint8_t state;
	bool publisher;
	bool want_out;		/* EPOLLOUT is registered */
	uint32_t idx;
	uint32_t room;
	/* partial input kept between reads */
	uint8_t *pend;
	uint32_t plen, pcap;
	/* output not yet written */
	uint8_t *wbuf;
	uint32_t wlen, wcap, woff;
	/* a fragmented message being reassembled (rare) */
	uint8_t *frag;
	uint32_t flen;
	/* what this client expects: stream numbers 0 .. expect-1 */
	uint32_t expect;
	uint32_t got;
	int64_t max_seen;
	uint64_t *seen;		/* bitmap over stream numbers */
	char sid[32];
};

/* ---- options ---------------------------------------------------------- */

static struct {
	const char *host;
	int port;
	const char *path;
	int nclients;
	int naddrs;
	const char *src_base;
	const char *mode;	/* relay, pipe, rooms, idle */
	long events;
	int window;
	double rate;
	double duration;
	int rooms;
	const char *ctl;
	const char *feed_cmd;
	const char *feed_fifo;
	pid_t pids[MAX_PIDS];
	const char *pid_names[MAX_PIDS];
	int npids;
	double hold;
	double settle;
	double stall;
	int concurrency;
	double connect_timeout;
	const char *label;
	const char *server;
	bool wave;
	bool quiet;
} opt = {
	.host = "127.0.0.1", .port = 3000, .path = "/socket.io/",
	.nclients = 100, .naddrs = 4, .src_base = "127.0.0.2", .mode = "relay",
	.events = 1000, .window = 64, .rooms = 0, .hold = 10, .settle = 5,
	.stall = 15, .concurrency = 256, .connect_timeout = 120,
	.label = "", .server = "",
};

/* ---- state ------------------------------------------------------------ */

static int ep;
static struct conn *conns;	/* nclients receivers, then the publisher */
static int nconns;
static struct conn *pub;
static uint8_t *scratch;
static uint64_t t0;
static uint64_t now_ns;
static struct sockaddr_in server_addr;
static uint32_t src_base_ip;
static char request[512];
static size_t request_len;
static uint32_t room_size[65536];
static bool relay_mode, feed_mode, rooms_mode;

/* counters */
static long n_ready, n_failed, n_inflight, n_started;
static long n_disconnects, n_server_disconnects, n_pings;
static uint64_t delivered, dups, reordered, unexpected, bad_events;
static uint64_t last_recv_ns, first_send_ns;

/* the send window */
static long sent_events;	/* events handed to the server so far */
static bool sending_over;	/* --events or --duration reached */
static long completed;		/* every event below this reached all its recipients */
static uint32_t *ring;
static uint64_t *ring_first;	/* when the event's first recipient read it */
static long ring_size;

/* latency histogram, microseconds, log-linear with 64 sub-buckets */
#define HBUCKETS (64 + 58 * 64)
struct hist {
	uint64_t b[HBUCKETS];
	uint64_t n, max_us, sum_us;
};
static struct hist lat;		/* every message: send to a client's read */
static struct hist first_lat;	/* each event: send to its first recipient's read */
static struct hist spread;	/* each event: first recipient's read to the last one's */

/* the feeder: a pipe or FIFO taking NDJSON lines */
static int feed_fd = -1;
static pid_t feed_pid;
static uint8_t *fbuf;
static size_t flen, foff;
static bool feed_want_out;

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("siobench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void
say(const char *fmt, ...)
{
	if (opt.quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "siobench[%s %s]: ", opt.server, opt.label);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t
mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - t0;
}

static double
secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p && n)
		die("out of memory");
	return p;
}

/* ---- histogram ---------------------------------------------------------- */

static int
hbucket(uint64_t us)
{
	if (us < 64)
		return (int)us;
	int e = 63 - __builtin_clzll(us);	/* >= 6 */
	int b = 64 + (e - 6) * 64 + (int)((us >> (e - 6)) & 63);
	return b < HBUCKETS ? b : HBUCKETS - 1;
}

static uint64_t
hvalue(int b)
{
	if (b < 64)
		return (uint64_t)b;
	int e = (b - 64) / 64 + 6, sub = (b - 64) % 64;
	uint64_t lo = (uint64_t)(64 + sub) << (e - 6);
	return lo + ((1ull << (e - 6)) >> 1);	/* the middle of the bucket */
}

static void
hist_add(struct hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	h->b[hbucket(us)]++;
	h->n++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

static double
hist_pct(const struct hist *h, double p)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(p / 100.0 * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t acc = 0;
	for (int b = 0; b < HBUCKETS; b++) {
		acc += h->b[b];
		if (acc > want)
			return (double)hvalue(b);
	}
	return (double)h->max_us;
}

/* ---- /proc -------------------------------------------------------------- */

static double
proc_cpu(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ") ": state(3) ... utime(14) stime(15) cutime(16) cstime(17) */
	unsigned long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

static long
meminfo_kb(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

/* TCP buffer memory in pages, from /proc/net/sockstat */
static long
sockstat_tcp_mem(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/sockstat", "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof line, f)) {
		char *m;
		if (!strncmp(line, "TCP:", 4) && (m = strstr(line, " mem ")))
			v = atol(m + 5);
	}
	fclose(f);
	return v;
}

/* /proc/slabinfo (root only): bytes in use per cache */
#define MAX_SLABS 512
struct slab {
	char name[40];
	long bytes;
};

static int
read_slabs(struct slab *out)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");
	if (!f)
		return 0;
	int n = 0;
	while (n < MAX_SLABS && fgets(line, sizeof line, f)) {
		long active, num, size;
		if (sscanf(line, "%39s %ld %ld %ld", out[n].name, &active, &num, &size) != 4)
			continue;	/* the headers */
		out[n++].bytes = active * size;
	}
	fclose(f);
	return n;
}

static int
by_bytes_desc(const void *a, const void *b)
{
	long x = ((const struct slab *)a)->bytes, y = ((const struct slab *)b)->bytes;
	return (x < y) - (x > y);
}

/* The caches that grew most between two readings, per connection, as
 * JSON members "name":bytes. */
static void
slab_growth(char *out, size_t cap, struct slab *before, int nb, struct slab *after, int na,
    long nconn)
{
	size_t len = 0;
	out[0] = 0;
	if (nconn <= 0 || !nb || !na)
		return;
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			if (!strcmp(after[i].name, before[j].name)) {
				after[i].bytes -= before[j].bytes;
				break;
			}
	qsort(after, (size_t)na, sizeof *after, by_bytes_desc);
	for (int i = 0; i < na && i < 8 && after[i].bytes > 0; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":%ld", i ? "," : "",
		    after[i].name, after[i].bytes / nconn);
}

struct snap {
	uint64_t ns;
	double cpu[MAX_PIDS];
	double self_cpu;
	long rss[MAX_PIDS];
	long rss_anon[MAX_PIDS];	/* RssAnon: the process's own memory, no file pages */
	long slab, sunreclaim, tcp_mem, memavail;
};

static double
self_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
take_snap(struct snap *s)
{
	s->ns = mono();
	for (int i = 0; i < opt.npids; i++) {
		s->cpu[i] = proc_cpu(opt.pids[i]);
		s->rss[i] = proc_status_kb(opt.pids[i], "VmRSS");
		s->rss_anon[i] = proc_status_kb(opt.pids[i], "RssAnon");
	}
	s->self_cpu = self_cpu();
	s->slab = meminfo_kb("Slab");
	s->sunreclaim = meminfo_kb("SUnreclaim");
	s->memavail = meminfo_kb("MemAvailable");
	s->tcp_mem = sockstat_tcp_mem();
}

/* ---- output to a connection ----------------------------------------- */

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t
rng(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static void
set_out(struct conn *c, bool on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->want_out = on;
}

static void conn_dead(struct conn *c, bool server_side);

static void
wbuf_reserve(struct conn *c, size_t more)
{
	if (c->woff && c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wlen + more <= c->wcap)
		return;
	if (c->woff) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
		if (c->wlen + more <= c->wcap)
			return;
	}
	size_t cap = c->wcap ? c->wcap : 256;
	while (cap < c->wlen + more)
		cap *= 2;
	c->wbuf = xrealloc(c->wbuf, cap);
	c->wcap = (uint32_t)cap;
}

static void
flush(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_out(c, true);
				return;
			}
			conn_dead(c, true);
			return;
		}
		c->woff += (uint32_t)n;
	}
	c->woff = c->wlen = 0;
	if (c->want_out)
		set_out(c, false);
}

/* Appends one masked client frame; flush() writes it. */
static void
frame(struct conn *c, int opcode, const void *data, size_t len)
{
	wbuf_reserve(c, len + 14);
	uint8_t *p = c->wbuf + c->wlen;
	*p++ = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		*p++ = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		*p++ = 0x80 | 126;
		*p++ = (uint8_t)(len >> 8);
		*p++ = (uint8_t)len;
	} else {
		*p++ = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			*p++ = (uint8_t)((uint64_t)len >> (8 * i));
	}
	uint32_t key = rng();
	uint8_t mask[4];
	memcpy(mask, &key, 4);
	memcpy(p, mask, 4);
	p += 4;
	const uint8_t *d = data;
	for (size_t i = 0; i < len; i++)
		p[i] = d[i] ^ mask[i & 3];
	p += len;
	c->wlen = (uint32_t)(p - c->wbuf);
}

static void
send_text(struct conn *c, const char *s, size_t len)
{
	frame(c, 1, s, len);
	flush(c);
}

/* ---- receiving ----------------------------------------------------------- */

static int64_t
num_after(const char *p, const char *end, const char *key)
{
	/* key is like "\"g\":"; the payload is small, a plain scan will do */
	size_t kl = strlen(key);
	for (; p + kl <= end; p++)
		if (*p == key[0] && !memcmp(p, key, kl)) {
			p += kl;
			if (p >= end || *p < '0' || *p > '9')
				return -1;
			int64_t v = 0;
			while (p < end && *p >= '0' && *p <= '9')
				v = v * 10 + (*p++ - '0');
			return v;
		}
	return -1;
}

static void
advance_window(void)
{
	while (completed < sent_events) {
		uint32_t need = rooms_mode ? room_size[completed % opt.rooms] : (uint32_t)opt.nclients;
		long i = completed % ring_size;
		if (ring[i] < need)
			break;
		ring[i] = 0;
		completed++;
	}
}

static void
on_event(struct conn *c, const char *p, size_t len)
{
	const char *end = p + len;
	int64_t g = num_after(p, end, "\"g\":");
	int64_t s = num_after(p, end, "\"s\":");
	int64_t t = num_after(p, end, "\"t\":");
	if (g < 0 || s < 0 || t < 0) {
		bad_events++;
		return;
	}
	last_recv_ns = now_ns;
	if (c->publisher || (uint64_t)s >= c->expect || g >= sent_events) {
		unexpected++;
		return;
	}
	uint64_t bit = 1ull << (s & 63);
	if (c->seen[s >> 6] & bit) {
		dups++;
		return;
	}
	c->seen[s >> 6] |= bit;
	c->got++;
	if (s < c->max_seen)
		reordered++;
	else
		c->max_seen = s;
	delivered++;
	hist_add(&lat, now_ns > (uint64_t)t ? now_ns - (uint64_t)t : 0);
	if (g >= completed && g < completed + ring_size) {
		long i = g % ring_size;
		uint32_t need = rooms_mode ? room_size[g % opt.rooms] : (uint32_t)opt.nclients;
		if (ring[i]++ == 0) {
			ring_first[i] = now_ns;
			hist_add(&first_lat, now_ns > (uint64_t)t ? now_ns - (uint64_t)t : 0);
		}
		if (ring[i] == need)
			hist_add(&spread, now_ns - ring_first[i]);
		if (g == completed)
			advance_window();
	}
}

static void
copy_sid(struct conn *c, const char *p, size_t len)
{
	const char *end = p + len;
	const char *k = memmem(p, len, "\"sid\":\"", 7);
	if (!k)
		return;
	k += 7;
	size_t i = 0;
	while (k < end && *k != '"' && i < sizeof c->sid - 1)
		c->sid[i++] = *k++;
	c->sid[i] = 0;
}

/* One Engine.IO packet, the payload of a text frame. */
static void
on_message(struct conn *c, const char *p, size_t len)
{
	if (!len)
		return;
	switch (p[0]) {
	case '0':	/* open */
		if (c->state == C_EIO) {
			c->state = C_SIO;
			send_text(c, "40", 2);
		}
		break;
	case '2':	/* ping */
		n_pings++;
		send_text(c, "3", 1);
		break;
	case '1':	/* close */
		conn_dead(c, true);
		break;
	case '4':
		if (len < 2)
			break;
		if (p[1] == '2') {
			on_event(c, p + 2, len - 2);
		} else if (p[1] == '0' && c->state == C_SIO) {
			copy_sid(c, p, len);
			c->state = C_READY;
			n_ready++;
			n_inflight--;
		} else if (p[1] == '1' || p[1] == '4') {
			n_server_disconnects++;
			conn_dead(c, true);
		}
		break;
	default:
		break;
	}
}

/* Parses what it can of buf; returns the bytes used. */
static size_t
parse(struct conn *c, uint8_t *buf, size_t n)
{
	size_t off = 0;
	if (c->state == C_HTTP) {
		uint8_t *e = memmem(buf, n, "\r\n\r\n", 4);
		if (!e) {
			if (n > 8192)
				conn_dead(c, true);
			return 0;
		}
		if (n < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
			say("upgrade refused: %.*s", (int)(n < 60 ? n : 60), buf);
			conn_dead(c, true);
			return n;
		}
		off = (size_t)(e - buf) + 4;
		c->state = C_EIO;
	}
	while (c->state != C_DEAD && n - off >= 2) {
		uint8_t *h = buf + off;
		size_t avail = n - off;
		bool fin = h[0] & 0x80;
		int op = h[0] & 0x0f;
		uint64_t plen = h[1] & 0x7f;
		size_t hl = 2;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (uint64_t)h[2] << 8 | h[3];
			hl = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | h[2 + i];
			hl = 10;
		}
		if (h[1] & 0x80)
			hl += 4;	/* a server must not mask; tolerate it */
		if (plen > (64u << 20)) {
			say("frame of %" PRIu64 " bytes", plen);
			conn_dead(c, true);
			return n;
		}
		if (avail < hl + plen)
			break;
		uint8_t *pl = h + hl;
		if (h[1] & 0x80)
			for (uint64_t i = 0; i < plen; i++)
				pl[i] ^= h[hl - 4 + (i & 3)];
		off += hl + (size_t)plen;
		if (op >= 8) {
			if (op == 8) {
				conn_dead(c, true);
			} else if (op == 9) {
				frame(c, 10, pl, (size_t)plen);
				flush(c);
			}
			continue;
		}
		if (op != 0 && fin && !c->flen) {
			if (op == 1)
				on_message(c, (const char *)pl, (size_t)plen);
			continue;
		}
		/* fragments: gather, deliver on the last */
		c->frag = xrealloc(c->frag, c->flen + plen + 1);
		memcpy(c->frag + c->flen, pl, (size_t)plen);
		c->flen += (uint32_t)plen;
		if (fin) {
			on_message(c, (const char *)c->frag, c->flen);
			free(c->frag);
			c->frag = NULL;
			c->flen = 0;
		}
	}
	return off;
}

static void
on_readable(struct conn *c)
{
	for (int round = 0; round < 4 && c->state != C_DEAD; round++) {
		size_t have = c->plen;
		if (have)
			memcpy(scratch, c->pend, have);
		ssize_t n = read(c->fd, scratch + have, SCRATCH_SIZE - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_dead(c, true);
			return;
		}
		if (n == 0) {
			conn_dead(c, true);
			return;
		}
		now_ns = mono();
		size_t total = have + (size_t)n;
		size_t used = parse(c, scratch, total);
		if (c->state == C_DEAD)
			return;
		size_t left = total - used;
		if (left > c->pcap) {
			c->pend = xrealloc(c->pend, left);
			c->pcap = (uint32_t)left;
		}
		if (left)
			memcpy(c->pend, scratch + used, left);
		c->plen = (uint32_t)left;
		if (total - have < SCRATCH_SIZE - have)
			return;	/* drained */
	}
}

/* ---- connections --------------------------------------------------------- */

static void
conn_dead(struct conn *c, bool server_side)
{
	if (c->state == C_DEAD)
		return;
	if (c->state == C_READY) {
		if (server_side)
			n_disconnects++;
		n_ready--;
	} else {
		n_failed++;
		n_inflight--;
	}
	c->state = C_DEAD;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	free(c->pend);
	c->pend = NULL;
	c->plen = c->pcap = 0;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->wcap = c->woff = 0;
}

static void
conn_start(struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s (raise ulimit -n)", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	struct sockaddr_in src = { .sin_family = AF_INET };
	src.sin_addr.s_addr = htonl(src_base_ip + c->idx % (uint32_t)opt.naddrs);
	if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
		die("bind %s+%u: %s", opt.src_base, c->idx % (uint32_t)opt.naddrs, strerror(errno));
	c->fd = fd;
	c->state = C_TCP;
	n_inflight++;
	n_started++;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	c->want_out = true;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 &&
	    errno != EINPROGRESS) {
		say("connect: %s", strerror(errno));
		conn_dead(c, false);
	}
}

static void
on_connected(struct conn *c)
{
	int err = 0;
	socklen_t el = sizeof err;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		say("connect: %s", strerror(err));
		conn_dead(c, false);
		return;
	}
	c->state = C_HTTP;
	set_out(c, false);
	char req[640];
	int n;
	if (opt.rooms > 0) {
		/* the room in the query: the Node server joins it; the hub
		 * ignores it and is told over its control socket instead */
		char *q = strstr(request, "&room=");
		size_t pre = (size_t)(q - request) + 6;
		n = snprintf(req, sizeof req, "%.*sr%u%s", (int)pre, request, c->room,
		    q + 6);
	} else {
		n = snprintf(req, sizeof req, "%s", request);
	}
	wbuf_reserve(c, (size_t)n);
	memcpy(c->wbuf + c->wlen, req, (size_t)n);
	c->wlen += (uint32_t)n;
	flush(c);
}

static void
on_io(struct conn *c, uint32_t events)
{
	if (c->state == C_TCP) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(c);
		return;
	}
	if (events & EPOLLIN || events & (EPOLLERR | EPOLLHUP))
		on_readable(c);
	if (c->state != C_DEAD && events & EPOLLOUT)
		flush(c);
}

/* ---- the feeder ---------------------------------------------------------- */

static void
feed_flush(void)
{
	while (foff < flen) {
		ssize_t n = write(feed_fd, fbuf + foff, flen - foff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			die("feeder write: %s", strerror(errno));
		}
		foff += (size_t)n;
	}
	if (foff == flen)
		foff = flen = 0;
	bool want = flen > 0;
	if (want != feed_want_out) {
		struct epoll_event ev = { .events = want ? EPOLLOUT : 0, .data.ptr = NULL };
		epoll_ctl(ep, EPOLL_CTL_MOD, feed_fd, &ev);
		feed_want_out = want;
	}
}

static void
feed_open(void)
{
	if (opt.feed_cmd) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe: %s", strerror(errno));
		feed_pid = fork();
		if (feed_pid < 0)
			die("fork: %s", strerror(errno));
		if (feed_pid == 0) {
			dup2(p[0], 0);
			execl("/bin/sh", "sh", "-c", opt.feed_cmd, (char *)NULL);
			_exit(127);
		}
		close(p[0]);
		feed_fd = p[1];
		fcntl(feed_fd, F_SETFL, O_NONBLOCK);
		/* a bigger pipe than 64 KiB spares syscalls */
		fcntl(feed_fd, F_SETPIPE_SZ, 1 << 20);
		/* "exec sio-emit": the shell became the command, so its CPU is
		 * the feeder's; measured as an extra process */
		if (opt.npids < MAX_PIDS) {
			opt.pids[opt.npids] = feed_pid;
			opt.pid_names[opt.npids++] = "feeder";
		}
	} else {
		feed_fd = open(opt.feed_fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (feed_fd < 0)
			die("%s: %s", opt.feed_fifo, strerror(errno));
		fcntl(feed_fd, F_SETPIPE_SZ, 1 << 20);
	}
	struct epoll_event ev = { .events = 0, .data.ptr = NULL };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, feed_fd, &ev) < 0)
		die("epoll_ctl feeder: %s", strerror(errno));
}

/* ---- sending events ------------------------------------------------------ */

static long
stream_seq(long g)
{
	return rooms_mode ? g / opt.rooms : g;
}

/* How many more events may go now: the window, the rate, the total. */
static long
allowed(void)
{
	if (opt.duration > 0 && first_send_ns && secs(now_ns - first_send_ns) >= opt.duration)
		sending_over = true;
	if (sent_events >= opt.events)
		sending_over = true;
	if (sending_over)
		return 0;
	long a = completed + opt.window - sent_events;
	if (opt.events - sent_events < a)
		a = opt.events - sent_events;
	if (opt.rate > 0 && first_send_ns) {
		long due = (long)(secs(now_ns - first_send_ns) * opt.rate) + 1 - sent_events;
		if (due < a)
			a = due;
	}
	return a;
}

static void
pump(void)
{
	now_ns = mono();
	if (!first_send_ns)
		first_send_ns = now_ns;
	long a = allowed();
	if (a <= 0)
		return;
	char line[256];
	if (relay_mode) {
		if (pub->state != C_READY || pub->wlen - pub->woff > 65536)
			return;
		for (long i = 0; i < a && pub->wlen < 65536; i++) {
			long g = sent_events++;
			int n = snprintf(line, sizeof line, "42[\"b\",{\"g\":%ld,\"s\":%ld,\"t\":%" PRIu64 "}]",
			    g, stream_seq(g), now_ns);
			frame(pub, 1, line, (size_t)n);
		}
		flush(pub);
	} else {
		if (flen - foff > 65536)
			return;
		for (long i = 0; i < a && flen < 65536; i++) {
			long g = sent_events++;
			if (flen + sizeof line > 131072)
				break;
			if (!fbuf)
				fbuf = xrealloc(NULL, 131072 + sizeof line);
			int n;
			if (rooms_mode)
				n = snprintf((char *)fbuf + flen, sizeof line,
				    "{\"event\":\"b\",\"data\":[{\"g\":%ld,\"s\":%ld,\"t\":%" PRIu64 "}],\"to\":[\"r%ld\"]}\n",
				    g, stream_seq(g), now_ns, g % opt.rooms);
			else
				n = snprintf((char *)fbuf + flen, sizeof line,
				    "{\"event\":\"b\",\"data\":[{\"g\":%ld,\"s\":%ld,\"t\":%" PRIu64 "}]}\n",
				    g, stream_seq(g), now_ns);
			flen += (size_t)n;
		}
		feed_flush();
	}
}

/* ---- the control socket (sio-hub: rooms are joined by the server side) ---- */

static void
ctl_join_rooms(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", opt.ctl);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("control socket %s: %s", opt.ctl, strerror(errno));
	size_t cap = 64 + (size_t)opt.nclients * 32 + (size_t)opt.rooms * 64;
	char *out = xrealloc(NULL, cap);
	size_t len = 0;
	for (int r = 0; r < opt.rooms; r++) {
		int in_line = 0;
		for (int i = 0; i < opt.nclients; i++) {
			struct conn *c = &conns[i];
			if ((int)c->room != r || c->state != C_READY)
				continue;
			if (in_line == 0)
				len += (size_t)sprintf(out + len, "{\"op\":\"join\",\"room\":\"r%d\",\"sids\":[", r);
			len += (size_t)sprintf(out + len, "%s\"%s\"", in_line ? "," : "", c->sid);
			if (++in_line == 1000) {
				len += (size_t)sprintf(out + len, "]}\n");
				in_line = 0;
			}
		}
		if (in_line)
			len += (size_t)sprintf(out + len, "]}\n");
	}
	len += (size_t)sprintf(out + len, "{\"op\":\"ping\",\"id\":\"joined\"}\n");
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, out + off, len - off);
		if (n < 0)
			die("control write: %s", strerror(errno));
		off += (size_t)n;
	}
	free(out);
	/* answers: errors (if any), then the ping's */
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			die("control socket closed before the joins were done");
		have += (size_t)n;
		buf[have] = 0;
		if (strstr(buf, "\"error\""))
			die("control: %s", buf);
		if (strstr(buf, "\"joined\""))
			break;
		if (have > sizeof buf / 2) {
			memmove(buf, buf + have / 2, have - have / 2);
			have -= have / 2;
		}
	}
	close(fd);
}

/* ---- the loop -------------------------------------------------------- */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
loop_once(int timeout_ms)
{
	struct epoll_event evs[512];
	int n = epoll_wait(ep, evs, 512, timeout_ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;
		if (!c) {
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				die("the feeder's reader went away");
			feed_flush();
		} else if (c->state != C_DEAD) {
			on_io(c, evs[i].events);
		}
	}
}

static void
connect_all(void)
{
	uint64_t deadline = mono() + (uint64_t)(opt.connect_timeout * 1e9);
	int next = 0;
	uint64_t last_say = 0;
	while (!stop) {
		while (next < nconns && n_inflight < opt.concurrency)
			conn_start(&conns[next++]);
		if (next == nconns && n_inflight == 0)
			break;
		loop_once(10);
		now_ns = mono();
		if (now_ns > deadline) {
			say("connect phase timed out: %ld ready, %ld in flight", n_ready, n_inflight);
			break;
		}
		if (now_ns - last_say > 2000000000ull) {
			say("connecting: %ld ready of %d", n_ready, nconns);
			last_say = now_ns;
		}
	}
}

static void
run_for(double seconds)
{
	uint64_t end = mono() + (uint64_t)(seconds * 1e9);
	while (!stop && mono() < end)
		loop_once(50);
}

static void
usage(int status)
{
	fputs("usage: siobench [options]\n"
	    "  --host ADDR --port N --path P   the server (127.0.0.1 3000 /socket.io/)\n"
	    "  --clients N                     receiving clients (100)\n"
	    "  --src-addrs N --src-base ADDR   source addresses 127.0.0.2 .. (4)\n"
	    "  --mode relay|pipe|rooms|idle    who sends: a publisher client, a feeder, none\n"
	    "  --events K --window W --rate R  events at most, events in flight, events/s (0: flat out)\n"
	    "  --duration S                    stop sending after S seconds (then wait for delivery)\n"
	    "  --rooms R                       clients i in room r(i mod R); the query has room=\n"
	    "  --ctl SOCK                      join the rooms through sio-hub's control socket\n"
	    "  --feed-cmd CMD | --feed-fifo P  where NDJSON events go (pipe, rooms)\n"
	    "  --pid NAME=PID                  a server process to measure (repeatable)\n"
	    "  --hold S --settle S --stall S   idle time; wait after a wave; give up after S without progress\n"
	    "  --wave                          disconnect everyone at the end and measure RSS after --settle\n"
	    "  --concurrency N                 handshakes in flight (256)\n"
	    "  --label L --server NAME         written into the results\n",
	    status ? stderr : stdout);
	exit(status);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
		if (ARG("--host")) opt.host = v;
		else if (ARG("--port")) opt.port = atoi(v);
		else if (ARG("--path")) opt.path = v;
		else if (ARG("--clients")) opt.nclients = atoi(v);
		else if (ARG("--src-addrs")) opt.naddrs = atoi(v);
		else if (ARG("--src-base")) opt.src_base = v;
		else if (ARG("--mode")) opt.mode = v;
		else if (ARG("--events")) opt.events = atol(v);
		else if (ARG("--window")) opt.window = atoi(v);
		else if (ARG("--rate")) opt.rate = atof(v);
		else if (ARG("--duration")) opt.duration = atof(v);
		else if (ARG("--rooms")) opt.rooms = atoi(v);
		else if (ARG("--ctl")) opt.ctl = v;
		else if (ARG("--feed-cmd")) opt.feed_cmd = v;
		else if (ARG("--feed-fifo")) opt.feed_fifo = v;
		else if (ARG("--hold")) opt.hold = atof(v);
		else if (ARG("--settle")) opt.settle = atof(v);
		else if (ARG("--stall")) opt.stall = atof(v);
		else if (ARG("--concurrency")) opt.concurrency = atoi(v);
		else if (ARG("--connect-timeout")) opt.connect_timeout = atof(v);
		else if (ARG("--label")) opt.label = v;
		else if (ARG("--server")) opt.server = v;
		else if (ARG("--pid")) {
			const char *eq = strchr(v, '=');
			if (!eq || opt.npids == MAX_PIDS - 1)
				usage(64);
			opt.pid_names[opt.npids] = strndup(v, (size_t)(eq - v));
			opt.pids[opt.npids++] = atoi(eq + 1);
		} else if (!strcmp(a, "--wave")) opt.wave = true;
		else if (!strcmp(a, "--quiet")) opt.quiet = true;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(0);
		else usage(64);
#undef ARG
	}
	relay_mode = !strcmp(opt.mode, "relay");
	rooms_mode = !strcmp(opt.mode, "rooms");
	feed_mode = rooms_mode || !strcmp(opt.mode, "pipe");
	bool idle = !strcmp(opt.mode, "idle");
	if (!relay_mode && !feed_mode && !idle)
		usage(64);
	if (opt.nclients < 1 || opt.naddrs < 1 || opt.window < 1 || opt.events < 0)
		usage(64);
	if (rooms_mode && (opt.rooms < 1 || opt.rooms > 65536))
		die("--mode rooms needs --rooms 1..65536");
	if (feed_mode && !opt.feed_cmd && !opt.feed_fifo)
		die("--mode %s needs --feed-cmd or --feed-fifo", opt.mode);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)opt.nclients + 32)
		die("ulimit -n is %lu, %d clients need more", (unsigned long)rl.rlim_cur,
		    opt.nclients);

	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)opt.port);
	struct in_addr ia;
	if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1 ||
	    inet_pton(AF_INET, opt.src_base, &ia) != 1)
		die("addresses must be numeric IPv4");
	src_base_ip = ntohl(ia.s_addr);
	request_len = (size_t)snprintf(request, sizeof request,
	    "GET %s?EIO=4&transport=websocket%s HTTP/1.1\r\n"
	    "Host: %s:%d\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: c2lvYmVuY2gta2V5LTAwMQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    opt.path, opt.rooms > 0 ? "&room=" : "", opt.host, opt.port);

	ep = epoll_create1(EPOLL_CLOEXEC);
	scratch = xrealloc(NULL, SCRATCH_SIZE);
	nconns = opt.nclients + (relay_mode ? 1 : 0);
	conns = calloc((size_t)nconns, sizeof *conns);
	if (!conns)
		die("out of memory");
	long per_room_events = 0;
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		c->idx = (uint32_t)i;
		c->fd = -1;
		c->max_seen = -1;
		c->room = opt.rooms > 0 ? (uint32_t)(i % opt.rooms) : 0;
		if (i == opt.nclients) {
			c->publisher = true;
			c->room = 0;
			pub = c;
			continue;
		}
		if (rooms_mode) {
			room_size[c->room]++;
			/* events g with g % rooms == room */
			per_room_events = opt.events / opt.rooms +
			    ((long)c->room < opt.events % opt.rooms);
			c->expect = (uint32_t)per_room_events;
		} else if (!idle) {
			c->expect = (uint32_t)opt.events;
		}
		if (c->expect)
			c->seen = calloc((c->expect + 63) / 64, 8);
	}
	ring_size = opt.window;
	ring = calloc((size_t)ring_size, sizeof *ring);
	ring_first = calloc((size_t)ring_size, sizeof *ring_first);

	struct snap s_base, s_conn, s_start, s_end;
	static struct slab slabs0[MAX_SLABS], slabs1[MAX_SLABS];
	int nslabs0 = read_slabs(slabs0);
	take_snap(&s_base);
	say("connecting %d clients from %d source addresses", nconns, opt.naddrs);
	connect_all();
	uint64_t connect_ns = mono() - s_base.ns;
	say("%ld ready, %ld failed in %.1fs", n_ready, n_failed, secs(connect_ns));
	if (opt.ctl && opt.rooms > 0) {
		ctl_join_rooms();
		say("joined %d rooms through %s", opt.rooms, opt.ctl);
	}
	/* let the server settle (lazy frees, a GC) before memory is read */
	run_for(1.0);
	take_snap(&s_conn);
	int nslabs1 = read_slabs(slabs1);
	long connected = n_ready;
	char slab_top[1024];
	slab_growth(slab_top, sizeof slab_top, slabs0, nslabs0, slabs1, nslabs1, connected);

	if (feed_mode)
		feed_open();
	take_snap(&s_start);
	uint64_t last_progress = s_start.ns;
	uint64_t last_delivered = 0;
	uint64_t last_say = s_start.ns;
	if (idle) {
		say("holding %ld connections for %.0fs", n_ready, opt.hold);
		run_for(opt.hold);
	} else {
		while (!stop) {
			pump();
			int tmo = 50;
			if (opt.rate > 0)
				tmo = 1;
			loop_once(tmo);
			now_ns = mono();
			if (delivered != last_delivered) {
				last_delivered = delivered;
				last_progress = now_ns;
			}
			if (completed >= opt.events || (sending_over && completed >= sent_events))
				break;
			if (secs(now_ns - last_progress) > opt.stall) {
				say("no progress for %.0fs: %ld of %ld events sent, %ld complete",
				    opt.stall, sent_events, opt.events, completed);
				break;
			}
			if (n_ready == 0) {
				say("every client is gone");
				break;
			}
			if (now_ns - last_say > 5000000000ull) {
				say("%ld/%ld events sent, %" PRIu64 " delivered", sent_events,
				    opt.events, delivered);
				last_say = now_ns;
			}
		}
		/* a short linger: duplicates that come after the last event */
		uint64_t lr = last_recv_ns;
		run_for(0.3);
		last_recv_ns = lr > last_recv_ns ? lr : last_recv_ns;
	}
	take_snap(&s_end);
	if (feed_fd >= 0) {
		feed_flush();
		close(feed_fd);
		feed_fd = -1;
	}
	if (feed_pid > 0)
		waitpid(feed_pid, NULL, 0);

	long rss_after = -1, anon_after = -1;
	if (opt.wave) {
		for (int i = 0; i < nconns; i++)
			if (conns[i].state != C_DEAD) {
				/* our side closes: not a server disconnect */
				conn_dead(&conns[i], false);
			}
		say("closed every connection; settling %.0fs", opt.settle);
		uint64_t end = mono() + (uint64_t)(opt.settle * 1e9);
		while (mono() < end)
			usleep(100000);
		if (opt.npids) {
			rss_after = proc_status_kb(opt.pids[0], "VmRSS");
			/* Library code first run for a connection stays in VmRSS
			 * as clean shared file pages; what a leak or fragmentation
			 * would keep is anonymous: both are reported. */
			anon_after = proc_status_kb(opt.pids[0], "RssAnon");
		}
	}

	/* ---- results ---- */
	double load1 = -1;
	FILE *lf = fopen("/proc/loadavg", "r");
	if (lf) {
		if (fscanf(lf, "%lf", &load1) != 1)
			load1 = -1;
		fclose(lf);
	}
	/* what each client should have had of the events that were sent */
	for (int i = 0; i < opt.nclients && !idle; i++) {
		struct conn *c = &conns[i];
		if (rooms_mode)
			c->expect = (uint32_t)(sent_events / opt.rooms +
			    ((long)c->room < sent_events % opt.rooms));
		else
			c->expect = (uint32_t)sent_events;
	}
	uint64_t expected = 0;
	for (int i = 0; i < opt.nclients; i++)
		expected += conns[i].expect;
	uint64_t lost = 0;
	for (int i = 0; i < opt.nclients; i++)
		lost += conns[i].expect - conns[i].got;
	double wall = secs(s_end.ns - s_start.ns);
	double active = first_send_ns && last_recv_ns > first_send_ns ?
	    secs(last_recv_ns - first_send_ns) : wall;
	/* paced: K events take K/rate seconds, not the (K-1)/rate between
	 * the first and the last */
	if (opt.rate > 0 && (double)sent_events / opt.rate > active)
		active = (double)sent_events / opt.rate;
	double server_cpu = 0, aux_cpu = 0;
	for (int i = 0; i < opt.npids; i++) {
		double d = s_end.cpu[i] - s_start.cpu[i];
		if (i == 0)
			server_cpu = d;
		else
			aux_cpu += d;
	}
	double gen_cpu = s_end.self_cpu - s_start.self_cpu;
	long rss_base = opt.npids ? s_base.rss[0] : -1;
	long anon_base = opt.npids ? s_base.rss_anon[0] : -1;
	long rss_conn = opt.npids ? s_conn.rss[0] : -1;
	long hwm = opt.npids ? proc_status_kb(opt.pids[0], "VmHWM") : -1;
	long rss_end = opt.npids ? s_end.rss[0] : -1;
	double per_conn_b = connected > 0 && rss_conn >= 0 ?
	    (double)(rss_conn - rss_base) * 1024.0 / (double)connected : 0;
	double slab_b = connected > 0 ? (double)(s_conn.slab - s_base.slab) * 1024.0 /
	    (double)connected : 0;
	double tcpmem_b = connected > 0 ? (double)(s_conn.tcp_mem - s_base.tcp_mem) *
	    (double)sysconf(_SC_PAGESIZE) / (double)connected : 0;
	double cpu_per_m = delivered ? (server_cpu + aux_cpu) / (double)delivered * 1e6 : 0;

	printf("{\"server\":\"%s\",\"scenario\":\"%s\",\"mode\":\"%s\",\"clients\":%d,"
	    "\"events\":%ld,\"duration\":%g,\"window\":%d,\"rate\":%g,\"rooms\":%d,"
	    "\"connected\":%ld,\"connect_s\":%.3f,\"failed\":%ld,"
	    "\"sent\":%ld,\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ","
	    "\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64 ","
	    "\"unexpected\":%" PRIu64 ",\"bad\":%" PRIu64 ","
	    "\"disconnects\":%ld,\"server_disconnects\":%ld,\"pings\":%ld,"
	    "\"active_s\":%.3f,\"wall_s\":%.3f,\"msgs_per_s\":%.0f,"
	    "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,"
	    "\"max_us\":%" PRIu64 ",\"mean_us\":%.0f,"
	    "\"first_p50_us\":%.0f,\"first_p99_us\":%.0f,\"spread_p50_us\":%.0f,\"spread_p99_us\":%.0f,"
	    "\"server_cpu_s\":%.2f,\"aux_cpu_s\":%.2f,\"cpu_s_per_M\":%.3f,"
	    "\"server_cpu_pct\":%.1f,\"gen_cpu_pct\":%.1f,"
	    "\"rss_base_kb\":%ld,\"rss_conn_kb\":%ld,\"rss_end_kb\":%ld,\"rss_peak_kb\":%ld,"
	    "\"rss_after_wave_kb\":%ld,\"anon_base_kb\":%ld,\"anon_after_wave_kb\":%ld,"
	    "\"rss_per_conn_b\":%.0f,"
	    "\"slab_per_conn_b\":%.0f,\"tcp_mem_per_conn_b\":%.0f,"
	    "\"slab_caches_per_conn_b\":{%s},\"loadavg\":%.2f}\n",
	    opt.server, opt.label, opt.mode, opt.nclients, opt.events, opt.duration, opt.window, opt.rate,
	    opt.rooms, connected, secs(connect_ns), n_failed,
	    sent_events, expected, delivered, lost, dups, reordered, unexpected, bad_events,
	    n_disconnects, n_server_disconnects, n_pings,
	    active, wall, delivered ? (double)delivered / active : 0,
	    hist_pct(&lat, 50), hist_pct(&lat, 90), hist_pct(&lat, 99), hist_pct(&lat, 99.9),
	    lat.max_us, lat.n ? (double)lat.sum_us / (double)lat.n : 0,
	    hist_pct(&first_lat, 50), hist_pct(&first_lat, 99),
	    hist_pct(&spread, 50), hist_pct(&spread, 99),
	    server_cpu, aux_cpu, cpu_per_m,
	    wall > 0 ? 100.0 * (server_cpu + aux_cpu) / wall : 0,
	    wall > 0 ? 100.0 * gen_cpu / wall : 0,
	    rss_base, rss_conn, rss_end, hwm, rss_after, anon_base, anon_after, per_conn_b, slab_b, tcpmem_b, slab_top, load1);
	say("%" PRIu64 " delivered (%.0f/s), lost %" PRIu64 " dup %" PRIu64 " reordered %" PRIu64
	    ", p50 %.0fus p99 %.0fus, %ld disconnects",
	    delivered, delivered ? (double)delivered / active : 0, lost, dups, reordered,
	    hist_pct(&lat, 50), hist_pct(&lat, 99), n_disconnects);
	return 0;
}
