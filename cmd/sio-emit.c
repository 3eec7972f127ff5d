/* sio-emit: send events to Socket.IO clients through the hub. */
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "redis.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage_text[] =
"usage: sio-emit [options] EVENT [JSON ...]\n"
"       sio-emit [options] < events.ndjson\n"
"       sio-emit --raw EVENT [options] < lines.txt\n"
"       sio-emit --reply HANDLE [JSON ...]\n"
"\n"
"Send an event to the clients of a running sio-hub. With EVENT, its\n"
"arguments are the JSON values given. Without, each stdin line is an event\n"
"object {\"event\":..,\"data\":[..],\"to\":[..],\"except\":[..],\"nsp\":..,\"volatile\":..}\n"
"or a reply {\"reply\":HANDLE,\"data\":[..]}. Binary values are {\"_binary\":\"<base64>\"}.\n"
"\n"
"  -S, --socket PATH      the hub's control socket\n"
"  -n, --nsp NSP          namespace (default /)\n"
"  -t, --to ROOM          only sockets in ROOM; a socket id is a room (repeatable)\n"
"  -x, --except ROOM      not the sockets in ROOM (repeatable)\n"
"      --volatile         may be dropped for a client that is behind\n"
"      --raw EVENT        send each stdin line as the string argument of EVENT\n"
"      --jq FILTER        build event objects from JSON on stdin with a jq program\n"
"      --strict           stop at the first bad stdin line\n"
"      --ack              wait for every recipient's ack; print one line per answer\n"
"      --timeout DURATION how long --ack waits (default 5s; a number with ms, s,\n"
"                         m or h; a bare number is seconds)\n"
"      --reply HANDLE     answer the ack HANDLE printed by sio-listen\n"
"      --redis URL        no hub: publish to a Redis cluster of sio-hubs and Node\n"
"                         servers as @socket.io/redis-emitter does\n"
"                         (redis://[:password@]host[:port] or a socket path)\n"
"      --redis-key PREFIX the cluster's channel prefix (default socket.io)\n"
"  -q, --quiet            do not report bad lines, only count them\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 sent, 1 some acks missing or a reply not delivered, 64 usage\n"
"error, 65 some input lines were bad, 69 hub (or Redis) not reachable, 74 read\n"
"error.\n";

enum { OPT_VOLATILE = 256, OPT_RAW, OPT_JQ, OPT_STRICT, OPT_ACK, OPT_TIMEOUT, OPT_REPLY,
	OPT_REDIS, OPT_REDIS_KEY };

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, 'S' },
	{ "nsp", required_argument, NULL, 'n' },
	{ "to", required_argument, NULL, 't' },
	{ "except", required_argument, NULL, 'x' },
	{ "volatile", no_argument, NULL, OPT_VOLATILE },
	{ "raw", required_argument, NULL, OPT_RAW },
	{ "jq", required_argument, NULL, OPT_JQ },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "ack", no_argument, NULL, OPT_ACK },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "reply", required_argument, NULL, OPT_REPLY },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "redis-key", required_argument, NULL, OPT_REDIS_KEY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct emitter {
	struct sio_ctl_conn conn;
	struct sio_emit_defaults d;
	struct sio_json doc;
	struct sio_buf out;		/* request lines not yet written */
	unsigned long *origin;		/* request line -> input line */
	size_t nsent, capsent;
	unsigned long input_line;
	unsigned long bad;
	bool strict, quiet, hub_gone;
	const char *raw_event;
	struct sio_jq *jq;
	struct sio_redis_pub *redis;	/* --redis: publish, no hub */
	size_t npub;			/* request lines published so far */
};

#define usage_error(...) exit(sio_usage_error(__VA_ARGS__))

static void
report(struct emitter *e, unsigned long line, const char *msg)
{
	e->bad++;
	if (!e->quiet)
		fprintf(stderr, "sio-emit: line %lu: %s\n", line, msg);
}

/* An answer line from the hub during a stream: only errors come back. */
static void
hub_answer(struct emitter *e, const char *l, size_t n)
{
	struct sio_json doc = SIO_JSON_INIT;
	char err[SIO_ERRLEN];
	long long line = 0;

	if (sio_json_parse(&doc, l, n, 16, err) == SIO_OK && doc.tok[0].type == SIO_JSON_OBJECT) {
		int ei = sio_json_get(&doc, l, 0, "error");
		int li = sio_json_get(&doc, l, 0, "line");
		if (ei >= 0) {
			struct sio_buf msg = SIO_BUF_INIT;
			int mi = sio_json_get(&doc, l, ei, "message");
			if (mi >= 0)
				sio_json_str_decode(&doc, l, mi, &msg);
			if (li >= 0)
				sio_json_int(&doc, l, li, 1, 1LL << 40, &line);
			unsigned long in = line > 0 && (size_t)line <= e->nsent ?
			    e->origin[line - 1] : 0;
			report(e, in, msg.data ? msg.data : "refused by the hub");
			sio_buf_free(&msg);
		}
	}
	sio_json_free(&doc);
}

/* Reads whatever answers are waiting, without blocking. */
static void
drain_answers(struct emitter *e)
{
	const char *l;
	size_t n;
	int rc;
	while ((rc = sio_ctl_read_line(&e->conn, 0, &l, &n)) == SIO_OK)
		hub_answer(e, l, n);
	if (rc == SIO_ECLOSED || rc == SIO_ESYS)
		e->hub_gone = true;
}

/*
 * Writes the pending requests. Blocks while the hub is not reading (its
 * back-pressure), reading its answers meanwhile so neither side stalls.
 */
/* --redis: each request line is published as the Node emitter would. */
static int
publish_out(struct emitter *e)
{
	char err[SIO_ERRLEN];
	size_t off = 0;

	while (off < e->out.len && !e->hub_gone) {
		const char *line = e->out.data + off;
		const char *nl = memchr(line, '\n', e->out.len - off);
		size_t len = nl ? (size_t)(nl - line) : e->out.len - off;
		unsigned long in = e->npub < e->nsent ? e->origin[e->npub] : e->input_line;
		e->npub++;
		off += len + 1;
		int rc = sio_redis_pub_line(e->redis, line, len, err);
		if (rc == SIO_ECLOSED) {
			fprintf(stderr, "sio-emit: %s\n", err);
			e->hub_gone = true;
		} else if (rc != SIO_OK) {
			report(e, in, err);
		}
	}
	sio_buf_reset(&e->out);
	return e->hub_gone ? SIO_ECLOSED : SIO_OK;
}

static int
flush_out(struct emitter *e)
{
	size_t off = 0;
	if (e->redis)
		return publish_out(e);
	while (off < e->out.len && !e->hub_gone) {
		struct pollfd p = { e->conn.fd, POLLOUT | POLLIN, 0 };
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return SIO_ESYS;
		}
		if (p.revents & (POLLIN | POLLHUP))
			drain_answers(e);
		if (p.revents & POLLOUT) {
			ssize_t w = send(e->conn.fd, e->out.data + off, e->out.len - off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				e->hub_gone = true;
				break;
			}
			if (w > 0)
				off += (size_t)w;
		}
	}
	sio_buf_reset(&e->out);
	return e->hub_gone ? SIO_ECLOSED : SIO_OK;
}

static void
queue_request(struct emitter *e, unsigned long input_line)
{
	if (e->nsent == e->capsent) {
		e->capsent = e->capsent ? e->capsent * 2 : 1024;
		e->origin = sio_xrealloc(e->origin, e->capsent * sizeof *e->origin);
	}
	e->origin[e->nsent++] = input_line;
}

static void
event_object(const char *json, size_t len, void *arg)
{
	struct emitter *e = arg;
	char err[SIO_ERRLEN];
	size_t before = e->out.len;

	if (sio_ctl_input_line(&e->out, &e->doc, json, len, &e->d, NULL, err) != SIO_OK) {
		e->out.len = before;
		report(e, e->input_line, err);
		return;
	}
	queue_request(e, e->input_line);
}

static void
raw_line(struct emitter *e, const char *line, size_t len)
{
	if (!sio_utf8_valid((const uint8_t *)line, len)) {
		report(e, e->input_line, "not valid UTF-8");
		return;
	}
	struct sio_buf *b = &e->out;
	sio_buf_adds(b, "{\"op\":\"emit\",\"event\":");
	sio_json_add_str(b, e->raw_event, strlen(e->raw_event));
	if (e->d.nsp) {
		sio_buf_adds(b, ",\"nsp\":");
		sio_json_add_str(b, e->d.nsp, strlen(e->d.nsp));
	}
	if (e->d.nto) {
		sio_buf_adds(b, ",\"to\":");
		sio_json_add_strv(b, e->d.to, e->d.nto);
	}
	if (e->d.nexcept) {
		sio_buf_adds(b, ",\"except\":");
		sio_json_add_strv(b, e->d.except, e->d.nexcept);
	}
	if (e->d.is_volatile)
		sio_buf_adds(b, ",\"volatile\":true");
	sio_buf_adds(b, ",\"data\":[");
	sio_json_add_str(b, line, len);
	sio_buf_adds(b, "]}\n");
	queue_request(e, e->input_line);
}

/* The stream mode: stdin to the hub, as fast as the clients take it. */
static int
run_stream(struct emitter *e)
{
	struct sio_buf in = SIO_BUF_INIT;
	char err[SIO_ERRLEN];
	bool eof = false;
	int status = 0;

	while (!eof && !e->hub_gone) {
		sio_buf_reserve(&in, 65536);
		ssize_t r = read(0, in.data + in.len, 65536);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sio-emit: reading stdin: %s\n", strerror(errno));
			status = 74;
			break;
		}
		if (r == 0) {
			eof = true;
			if (in.len > 0 && in.data[in.len - 1] != '\n')
				sio_buf_addc(&in, '\n');	/* a last line without newline */
		} else {
			in.len += (size_t)r;
		}
		size_t off = 0;
		char *nl;
		while ((nl = memchr(in.data + off, '\n', in.len - off)) != NULL) {
			size_t len = (size_t)(nl - (in.data + off));
			const char *line = in.data + off;
			off += len + 1;
			e->input_line++;
			if (e->jq) {
				if (sio_jq_feed(e->jq, line, len + 1, false, event_object, e, err) != SIO_OK)
					report(e, e->input_line, err);
			} else if (len == 0 || (len == 1 && line[0] == '\r')) {
				continue;	/* blank lines separate, they are not events */
			} else if (e->raw_event) {
				raw_line(e, line, len);
			} else {
				event_object(line, len, e);
			}
			if (e->strict && e->bad)
				break;
		}
		sio_buf_consume(&in, off);
		if (e->strict && e->bad)
			break;
		/* Whatever one read brought goes out now: lines from a slow
		 * producer leave at once, a fast one's in large writes. */
		flush_out(e);
	}
	if (e->jq && !e->hub_gone && !(e->strict && e->bad)) {
		if (sio_jq_feed(e->jq, "", 0, true, event_object, e, err) != SIO_OK)
			report(e, e->input_line, err);
	}
	flush_out(e);
	sio_buf_free(&in);
	if (e->redis)
		return e->hub_gone ? 69 : status ? status : e->bad ? 65 : 0;

	/* A barrier: once answered, every line before it was handled. */
	struct sio_buf answer = SIO_BUF_INIT;
	static const char ping[] = "{\"op\":\"ping\",\"id\":\"end\"}\n";
	if (!e->hub_gone && sio_ctl_write(&e->conn, ping, sizeof ping - 1) == SIO_OK) {
		const char *l;
		size_t n;
		for (;;) {
			int rc = sio_ctl_read_line(&e->conn, -1, &l, &n);
			if (rc != SIO_OK) {
				e->hub_gone = true;
				break;
			}
			if (strncmp(l, "{\"id\":\"end\"", 11) == 0)
				break;
			hub_answer(e, l, n);
		}
	}
	sio_buf_free(&answer);
	if (e->hub_gone) {
		fprintf(stderr, "sio-emit: %s\n", sio_ctl_gone(&e->conn));
		return 69;
	}
	if (status)
		return status;
	return e->bad ? 65 : 0;
}

/* One request that may carry an ack wait: prints answers, returns status. */
static int
run_one(struct emitter *e, struct sio_buf *req, bool ack)
{
	const char *l;
	size_t n;
	int status = 0;

	if (sio_ctl_write(&e->conn, req->data, req->len) != SIO_OK) {
		fprintf(stderr, "sio-emit: %s\n", sio_ctl_gone(&e->conn));
		return 69;
	}
	int wait = ack ? (int)e->d.timeout_ms + 5000 : 10000;
	for (;;) {
		int rc = sio_ctl_read_line(&e->conn, wait, &l, &n);
		if (rc != SIO_OK) {
			fprintf(stderr, "sio-emit: %s\n", rc == SIO_EAGAIN ?
			    "no answer from the hub" : sio_ctl_gone(&e->conn));
			return 69;
		}
		struct sio_json doc = SIO_JSON_INIT;
		char err[SIO_ERRLEN];
		if (sio_json_parse(&doc, l, n, 64, err) != SIO_OK || doc.tok[0].type != SIO_JSON_OBJECT) {
			sio_json_free(&doc);
			continue;
		}
		int ei = sio_json_get(&doc, l, 0, "error");
		int ti = sio_json_get(&doc, l, 0, "type");
		int di = sio_json_get(&doc, l, 0, "done");
		bool finished = false;
		if (ei >= 0) {
			struct sio_buf msg = SIO_BUF_INIT;
			int mi = sio_json_get(&doc, l, ei, "message");
			if (mi >= 0)
				sio_json_str_decode(&doc, l, mi, &msg);
			fprintf(stderr, "sio-emit: %s\n", msg.data ? msg.data : "refused");
			sio_buf_free(&msg);
			status = ack || !strstr(l, "not_found") ? 65 : 1;
			finished = true;
		} else if (ti >= 0 && sio_json_str_eq(&doc, l, ti, "ack")) {
			int si = sio_json_get(&doc, l, 0, "sid"), dti = sio_json_get(&doc, l, 0, "data");
			printf("{\"sid\":%.*s,\"data\":%.*s}\n",
			    (int)(doc.tok[si].end - doc.tok[si].start), l + doc.tok[si].start,
			    (int)(doc.tok[dti].end - doc.tok[dti].start), l + doc.tok[dti].start);
			fflush(stdout);
		} else if (di >= 0 || !ack) {
			int mi = sio_json_get(&doc, l, 0, "missing");
			int rmi = sio_json_get(&doc, l, 0, "remote_missing");
			long long rm = 0;
			/* Clients of other hubs of a cluster: counted, not named. */
			if (rmi >= 0 && sio_json_int(&doc, l, rmi, 1, 1LL << 40, &rm)) {
				printf("{\"remote_missing\":%lld}\n", rm);
				status = 1;
			}
			if (mi >= 0) {
				for (int k = mi + 1; k < (int)doc.tok[mi].next; k = (int)doc.tok[k].next) {
					printf("{\"sid\":%.*s,\"missing\":true}\n",
					    (int)(doc.tok[k].end - doc.tok[k].start), l + doc.tok[k].start);
					status = 1;
				}
				fflush(stdout);
			}
			finished = true;
		}
		sio_json_free(&doc);
		if (finished)
			return status;
	}
}

int
main(int argc, char **argv)
{
	struct emitter e = { .conn = { .fd = -1 }, .d = { .timeout_ms = 5000 } };
	struct sio_buf line = SIO_BUF_INIT;
	int status = 0;
	const char **to = NULL, **except = NULL;
	const char *socket_path = NULL, *jq_prog = NULL, *reply = NULL;
	const char *redis_url = NULL, *redis_key = NULL;
	size_t nto = 0, nexcept = 0;
	char err[SIO_ERRLEN];
	int c;

	sio_log_setprog("sio-emit");
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "S:n:t:x:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': socket_path = optarg; break;
		case 'n':
			if (optarg[0] != '/')
				usage_error("--nsp: '%s' must start with '/'", optarg);
			e.d.nsp = optarg;
			break;
		case 't':
			to = sio_xrealloc(to, (nto + 1) * sizeof *to);
			to[nto++] = optarg;
			break;
		case 'x':
			except = sio_xrealloc(except, (nexcept + 1) * sizeof *except);
			except[nexcept++] = optarg;
			break;
		case OPT_VOLATILE: e.d.is_volatile = true; break;
		case OPT_RAW: e.raw_event = optarg; break;
		case OPT_JQ: jq_prog = optarg; break;
		case OPT_STRICT: e.strict = true; break;
		case OPT_ACK: e.d.ack = true; break;
		case OPT_TIMEOUT:
			if (!sio_parse_duration_ms(optarg, &e.d.timeout_ms) || e.d.timeout_ms > 86400000)
				usage_error("--timeout: '%s' is not a duration such as 500ms, 5s, 2m", optarg);
			break;
		case OPT_REPLY: reply = optarg; break;
		case OPT_REDIS: redis_url = optarg; break;
		case OPT_REDIS_KEY: redis_key = optarg; break;
		case 'q': e.quiet = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("sio-emit %s\n", SIO_VERSION); return 0;
		default: fputs("Try 'sio-emit --help'.\n", stderr); return 64;
		}
	}
	e.d.to = to;
	e.d.nto = nto;
	e.d.except = except;
	e.d.nexcept = nexcept;
	if (e.raw_event && jq_prog)
		usage_error("--raw and --jq do not go together%s", "");
	if ((e.raw_event || jq_prog) && optind < argc)
		usage_error("--raw and --jq read stdin; '%s' is one argument too many", argv[optind]);
	if (e.d.ack && (e.raw_event || jq_prog))
		usage_error("--ack waits for each event's answers: give EVENT, or event "
		    "lines on stdin, not --raw or --jq%s", "");
	if (reply && (e.raw_event || jq_prog || e.d.ack))
		usage_error("--reply sends one answer; it takes no --raw, --jq or --ack%s", "");
	if (redis_url && (e.d.ack || reply))
		usage_error("--redis publishes and waits for nothing: no --ack or --reply%s", "");
	if (redis_key && !redis_url)
		usage_error("--redis-key goes with --redis%s", "");
	if (e.raw_event && (e.raw_event[0] == '\0'))
		usage_error("--raw: the event name is empty%s", "");
	if (jq_prog && !(e.jq = sio_jq_new(jq_prog, err))) {
		fprintf(stderr, "sio-emit: --jq: %s\n", err);
		status = 64;
		goto out;
	}

	/* EVENT [JSON ...] or --reply HANDLE [JSON ...]: one request. */
	bool single = reply || optind < argc;
	if (single) {
		int first = reply ? optind : optind + 1;
		sio_buf_adds(&line, "{");
		if (reply) {
			sio_buf_adds(&line, "\"reply\":");
			sio_json_add_str(&line, reply, strlen(reply));
		} else {
			sio_buf_adds(&line, "\"event\":");
			sio_json_add_str(&line, argv[optind], strlen(argv[optind]));
		}
		sio_buf_adds(&line, ",\"data\":[");
		for (int i = first; i < argc; i++) {
			if (sio_json_parse(&e.doc, argv[i], strlen(argv[i]), 64, err) != SIO_OK) {
				fprintf(stderr, "sio-emit: argument %d is not JSON: %s\n"
				    "  (%s)\n  a string needs quotes: '\"%s\"'\n", i - first + 1,
				    argv[i], err, argv[i]);
				status = 64;
				goto out;
			}
			if (i > first)
				sio_buf_addc(&line, ',');
			sio_buf_adds(&line, argv[i]);
		}
		sio_buf_adds(&line, "]}");
	} else if (isatty(0)) {
		fprintf(stderr, "sio-emit: reading event lines from the terminal "
		    "(Ctrl-D ends; see --help)\n");
	}

	if (redis_url) {
		if (!(e.redis = sio_redis_pub_open(redis_url, redis_key, err))) {
			fprintf(stderr, "sio-emit: %s\n", err);
			status = 69;
			goto out;
		}
		if (single) {
			if (sio_ctl_input_line(&e.out, &e.doc, line.data, line.len, &e.d, NULL,
			    err) != SIO_OK) {
				fprintf(stderr, "sio-emit: %s\n", err);
				status = 64;
			} else {
				publish_out(&e);
				status = e.hub_gone ? 69 : e.bad ? 64 : 0;
			}
		} else {
			status = run_stream(&e);
		}
		goto out;
	}
	char *path = sio_ctl_path(socket_path);
	if (sio_ctl_connect(&e.conn, path, err) != SIO_OK) {
		fprintf(stderr, "sio-emit: %s\n", err);
		free(path);
		status = 69;
		goto out;
	}
	free(path);

	if (single) {
		struct sio_buf req = SIO_BUF_INIT;
		if (sio_ctl_input_line(&req, &e.doc, line.data, line.len, &e.d, "1", err) != SIO_OK) {
			fprintf(stderr, "sio-emit: %s\n", err);
			sio_buf_free(&req);
			status = 64;
			goto out;
		}
		status = run_one(&e, &req, e.d.ack);
		sio_buf_free(&req);
	} else if (e.d.ack) {
		/* Each line waits for its acks before the next goes. */
		status = 0;
		struct sio_buf in = SIO_BUF_INIT;
		char *l = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&l, &cap, stdin)) > 0) {
			e.input_line++;
			struct sio_buf req = SIO_BUF_INIT;
			if (n > 0 && l[n - 1] == '\n')
				n--;
			if (n == 0)
				continue;
			if (sio_ctl_input_line(&req, &e.doc, l, (size_t)n, &e.d, "1", err) != SIO_OK) {
				report(&e, e.input_line, err);
				sio_buf_free(&req);
				if (e.strict)
					break;
				continue;
			}
			int st = run_one(&e, &req, true);
			sio_buf_free(&req);
			if (st > status)
				status = st;
			if (st == 69)
				break;
		}
		free(l);
		sio_buf_free(&in);
		if (e.bad && status < 65)
			status = 65;
	} else {
		status = run_stream(&e);
	}
out:
	sio_redis_pub_close(e.redis);
	sio_ctl_close(&e.conn);
	sio_jq_free(e.jq);
	sio_json_free(&e.doc);
	sio_buf_free(&line);
	sio_buf_free(&e.out);
	free(e.origin);
	free(to);
	free(except);
	return status;
}
