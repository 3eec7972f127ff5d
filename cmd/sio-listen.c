/* sio-listen: print what Socket.IO clients send, one JSON line each. */
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
"usage: sio-listen [options]\n"
"\n"
"Print the events clients send to a running sio-hub, and their connects and\n"
"disconnects, one JSON line each:\n"
"  {\"type\":\"event\",\"nsp\":..,\"sid\":..,\"event\":..,\"data\":[..],\"ack\":..,\"time\":..}\n"
"  {\"type\":\"connect\",\"nsp\":..,\"sid\":..,\"transport\":..,\"handshake\":{..},\"time\":..}\n"
"  {\"type\":\"disconnect\",\"nsp\":..,\"sid\":..,\"reason\":..,\"time\":..}\n"
"  {\"type\":\"dropped\",\"count\":N,\"time\":..} when this listener fell behind\n"
"\"data\" holds the client's bytes unchanged; binary values are\n"
"{\"_binary\":\"<base64>\"}. Answer an \"ack\" with sio-emit --reply.\n"
"\n"
"  -S, --socket PATH     the hub's control socket\n"
"  -n, --nsp NSP         only this namespace\n"
"  -e, --event NAME      only events named NAME (repeatable; implies --events-only)\n"
"  -r, --room ROOM       only sockets in ROOM (repeatable)\n"
"      --events-only     no connect and disconnect lines\n"
"      --cluster         also the lines of the clients of every other sio-hub of\n"
"                        the hub's Redis cluster (sio-hub --redis); not with --room\n"
"  -f, --filter JQ       print what the jq program makes of each line\n"
"  -R, --raw-output      with --filter, print strings as text, without quotes\n"
"  -c, --count N         exit after N lines\n"
"  -1, --once            exit after one line (--count 1)\n"
"  -g, --group NAME      share the stream with the other listeners of group NAME:\n"
"                        each line goes to one of them\n"
"      --json            JSON lines even on a terminal\n"
"  -h, --help            show this help\n"
"  -V, --version         show the version\n"
"\n"
"On a terminal, lines are shown for people (colour unless NO_COLOR is set).\n"
"Exit status: 0 after --count lines or when stdout is closed, 64 usage\n"
"error, 69 hub not reachable or gone, 74 output error.\n";

enum { OPT_EVENTS_ONLY = 256, OPT_JSON, OPT_CLUSTER };

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, 'S' },
	{ "nsp", required_argument, NULL, 'n' },
	{ "event", required_argument, NULL, 'e' },
	{ "room", required_argument, NULL, 'r' },
	{ "events-only", no_argument, NULL, OPT_EVENTS_ONLY },
	{ "cluster", no_argument, NULL, OPT_CLUSTER },
	{ "filter", required_argument, NULL, 'f' },
	{ "raw-output", no_argument, NULL, 'R' },
	{ "count", required_argument, NULL, 'c' },
	{ "once", no_argument, NULL, '1' },
	{ "group", required_argument, NULL, 'g' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct listener {
	long long count;	/* lines left to print; < 0: no limit */
	bool pretty, color;
	struct sio_jq *filter;
	struct sio_json doc;
};

#define usage_error(...) exit(sio_usage_error(__VA_ARGS__))

static void
out(const char *s, size_t n)
{
	if (fwrite(s, 1, n, stdout) != n) {
		/* The reader went away (| head): that ends us quietly. */
		exit(errno == EPIPE ? 0 : 74);
	}
}

/* The raw JSON of key in the top-level object, or "" (len 0). */
static const char *
raw(struct listener *ls, const char *l, const char *key, size_t *len)
{
	int i = sio_json_get(&ls->doc, l, 0, key);
	if (i < 0) {
		*len = 0;
		return "";
	}
	*len = ls->doc.tok[i].end - ls->doc.tok[i].start;
	return l + ls->doc.tok[i].start;
}

static void
pretty(struct listener *ls, const char *l, size_t n)
{
	char err[SIO_ERRLEN], ts[32] = "";
	struct sio_buf type = SIO_BUF_INIT, b = SIO_BUF_INIT;
	long long t = 0;
	size_t len;
	const char *dim = ls->color ? "\033[2m" : "", *off = ls->color ? "\033[0m" : "";
	const char *cy = ls->color ? "\033[36m" : "", *ye = ls->color ? "\033[33m" : "";
	const char *gr = ls->color ? "\033[32m" : "", *re = ls->color ? "\033[31m" : "";

	if (sio_json_parse(&ls->doc, l, n, 64, err) != SIO_OK ||
	    ls->doc.tok[0].type != SIO_JSON_OBJECT) {
		out(l, n);
		out("\n", 1);
		return;
	}
	int ti = sio_json_get(&ls->doc, l, 0, "type");
	if (ti >= 0)
		sio_json_str_decode(&ls->doc, l, ti, &type);
	int tt = sio_json_get(&ls->doc, l, 0, "time");
	if (tt >= 0 && sio_json_int(&ls->doc, l, tt, 0, 1LL << 60, &t)) {
		time_t secs = (time_t)(t / 1000);
		struct tm tm;
		localtime_r(&secs, &tm);
		snprintf(ts, sizeof ts, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)(t % 1000));
	}
	const char *nsp = raw(ls, l, "nsp", &len);
	if (len >= 2 && nsp[0] == '"') {
		nsp++;
		len -= 2;	/* a namespace is shown without its quotes */
	}
	sio_buf_printf(&b, "%s%s%s %s%.*s%s ", dim, ts, off, cy, (int)len, nsp, off);
	const char *sid = raw(ls, l, "sid", &len);
	if (len > 2)
		sio_buf_printf(&b, "%s%.*s%s ", ye, (int)len - 2, sid + 1, off);
	if (type.data && strcmp(type.data, "event") == 0) {
		const char *ev = raw(ls, l, "event", &len);
		if (len >= 2 && ev[0] == '"') {
			ev++;
			len -= 2;
		}
		sio_buf_printf(&b, "%s%.*s%s ", gr, (int)len, ev, off);
		const char *data = raw(ls, l, "data", &len);
		sio_buf_add(&b, data, len);
		const char *ack = raw(ls, l, "ack", &len);
		if (len)
			sio_buf_printf(&b, " %sack %.*s%s", dim, (int)len, ack, off);
	} else if (type.data && strcmp(type.data, "connect") == 0) {
		int hi = sio_json_get(&ls->doc, l, 0, "handshake");
		int ai = hi >= 0 ? sio_json_get(&ls->doc, l, hi, "address") : -1;
		int au = hi >= 0 ? sio_json_get(&ls->doc, l, hi, "auth") : -1;
		const char *tr = raw(ls, l, "transport", &len);
		sio_buf_printf(&b, "%sconnect%s %.*s", gr, off, (int)len, tr);
		if (ai >= 0)
			sio_buf_printf(&b, " from %.*s", (int)(ls->doc.tok[ai].end - ls->doc.tok[ai].start),
			    l + ls->doc.tok[ai].start);
		if (au >= 0)
			sio_buf_printf(&b, " auth %.*s", (int)(ls->doc.tok[au].end - ls->doc.tok[au].start),
			    l + ls->doc.tok[au].start);
	} else if (type.data && strcmp(type.data, "disconnect") == 0) {
		const char *why = raw(ls, l, "reason", &len);
		sio_buf_printf(&b, "%sdisconnect%s %.*s", re, off, (int)len, why);
	} else if (type.data && strcmp(type.data, "dropped") == 0) {
		const char *cnt = raw(ls, l, "count", &len);
		sio_buf_printf(&b, "%sdropped %.*s events: this terminal fell behind%s", re, (int)len, cnt, off);
	} else {
		sio_buf_add(&b, l, n);
	}
	sio_buf_addc(&b, '\n');
	out(b.data, b.len);
	sio_buf_free(&b);
	sio_buf_free(&type);
}

static void
filtered(const char *json, size_t len, void *arg)
{
	struct listener *ls = arg;
	if (ls->count == 0)
		return;
	out(json, len);
	out("\n", 1);
	if (ls->count > 0)
		ls->count--;
}

static void
add_strv(struct sio_buf *b, const char *key, char **v, size_t n)
{
	if (n == 0)
		return;
	sio_buf_printf(b, ",\"%s\":", key);
	sio_json_add_strv(b, (const char *const *)v, n);
}

int
main(int argc, char **argv)
{
	struct listener ls = { .count = -1 };
	char **events = NULL, **rooms = NULL;
	size_t nevents = 0, nrooms = 0;
	const char *socket_path = NULL, *nsp = NULL, *group = NULL, *filter = NULL;
	bool events_only = false, json = false, raw_output = false, cluster = false;
	char err[SIO_ERRLEN];
	int c;
	long v;

	sio_log_setprog("sio-listen");
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "S:n:e:r:f:Rc:1g:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': socket_path = optarg; break;
		case 'n':
			if (optarg[0] != '/')
				usage_error("--nsp: '%s' must start with '/'", optarg);
			nsp = optarg;
			break;
		case 'e':
			events = sio_xrealloc(events, (nevents + 1) * sizeof *events);
			events[nevents++] = optarg;
			events_only = true;
			break;
		case 'r':
			rooms = sio_xrealloc(rooms, (nrooms + 1) * sizeof *rooms);
			rooms[nrooms++] = optarg;
			break;
		case OPT_EVENTS_ONLY: events_only = true; break;
		case OPT_CLUSTER: cluster = true; break;
		case 'f': filter = optarg; break;
		case 'R': raw_output = true; break;
		case 'c':
			if (!sio_parse_long(optarg, 1, 1L << 62, &v))
				usage_error("--count: '%s' is not a positive number", optarg);
			ls.count = v;
			break;
		case '1': ls.count = 1; break;
		case 'g':
			if (!*optarg)
				usage_error("--group: the name is empty%s", "");
			group = optarg;
			break;
		case OPT_JSON: json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("sio-listen %s\n", SIO_VERSION); return 0;
		default: fputs("Try 'sio-listen --help'.\n", stderr); return 64;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cluster && nrooms)
		usage_error("--cluster and --room do not go together: the other hubs' rooms "
		    "are not known here%s", "");
	if (raw_output && !filter)
		usage_error("--raw-output goes with --filter%s", "");
	struct sio_ctl_conn conn = { .fd = -1 };
	struct sio_buf req = SIO_BUF_INIT, answer = SIO_BUF_INIT;
	int status = 0;
	if (filter && !(ls.filter = sio_jq_new(filter, err))) {
		fprintf(stderr, "sio-listen: --filter: %s\n", err);
		status = 64;
		goto out;
	}
	if (ls.filter)
		sio_jq_set_raw(ls.filter, raw_output);
	ls.pretty = !json && !filter && isatty(1);
	ls.color = ls.pretty && !getenv("NO_COLOR");

	char *path = sio_ctl_path(socket_path);
	int crc = sio_ctl_connect(&conn, path, err);
	free(path);
	if (crc != SIO_OK) {
		fprintf(stderr, "sio-listen: %s\n", err);
		status = 69;
		goto out;
	}

	sio_buf_adds(&req, "{\"op\":\"subscribe\",\"id\":1");
	add_strv(&req, "events", events, nevents);
	add_strv(&req, "rooms", rooms, nrooms);
	if (nsp) {
		sio_buf_adds(&req, ",\"nsp\":");
		sio_json_add_str(&req, nsp, strlen(nsp));
	}
	if (group) {
		sio_buf_adds(&req, ",\"group\":");
		sio_json_add_str(&req, group, strlen(group));
	}
	if (cluster)
		sio_buf_adds(&req, ",\"cluster\":true");
	sio_buf_printf(&req, ",\"lifecycle\":%s}\n", events_only ? "false" : "true");
	if (sio_ctl_request(&conn, req.data, req.len, 10000, &answer, err) != SIO_OK) {
		fprintf(stderr, "sio-listen: %s\n", err);
		status = 69;
		goto out;
	}
	if (!strstr(answer.data, "\"ok\":true")) {
		fprintf(stderr, "sio-listen: the hub refused: %s\n", answer.data);
		status = 64;
		goto out;
	}

	/* Output is flushed whenever no more input is waiting: line by line
	 * when quiet, in large writes under load. */
	long unconfirmed = 0;
	while (ls.count != 0) {
		const char *l;
		size_t n;
		int rc = sio_ctl_read_line(&conn, 0, &l, &n);
		if (rc == SIO_EAGAIN) {
			if (fflush(stdout) != 0)
				exit(errno == EPIPE ? 0 : 74);
			if (group && unconfirmed > 0) {
				sio_buf_reset(&req);
				sio_buf_printf(&req, "{\"op\":\"done\",\"n\":%ld}\n", unconfirmed);
				sio_ctl_write(&conn, req.data, req.len);
				unconfirmed = 0;
			}
			rc = sio_ctl_read_line(&conn, -1, &l, &n);
		}
		if (rc != SIO_OK) {
			fflush(stdout);
			fprintf(stderr, "sio-listen: %s\n", sio_ctl_gone(&conn));
			status = 69;
			goto out;
		}
		if (n > 6 && strncmp(l, "{\"id\":", 6) == 0)
			continue;	/* an answer, not an event */
		unconfirmed++;
		if (ls.filter) {
			if (sio_jq_run(ls.filter, l, n, filtered, &ls, err) != SIO_OK)
				fprintf(stderr, "sio-listen: --filter: %s\n", err);
			continue;
		}
		if (ls.pretty)
			pretty(&ls, l, n);
		else {
			out(l, n);
			out("\n", 1);
		}
		if (ls.count > 0)
			ls.count--;
	}
	if (fflush(stdout) != 0) {
		status = errno == EPIPE ? 0 : 74;
		goto out;
	}
	if (group && unconfirmed > 0) {
		sio_buf_reset(&req);
		sio_buf_printf(&req, "{\"op\":\"done\",\"n\":%ld}\n", unconfirmed);
		sio_ctl_write(&conn, req.data, req.len);
	}
out:
	sio_ctl_close(&conn);
	sio_buf_free(&req);
	sio_buf_free(&answer);
	sio_jq_free(ls.filter);
	sio_json_free(&ls.doc);
	free(events);
	free(rooms);
	return status;
}
