/* sio-rooms: list and manage the rooms of a running hub. */
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"usage: sio-rooms [options] list [--all]\n"
"       sio-rooms [options] members ROOM\n"
"       sio-rooms [options] sockets [--in ROOM]... [--sid SID]...\n"
"       sio-rooms [options] count ROOM\n"
"       sio-rooms [options] join ROOM (--sid SID | --in ROOM)...\n"
"       sio-rooms [options] leave ROOM (--sid SID | --in ROOM)...\n"
"       sio-rooms [options] disconnect (--sid SID | --in ROOM)... [--close]\n"
"\n"
"List and manage the rooms of a running sio-hub. Every socket is also in the\n"
"room named by its id. Plain output is one item per line; --json gives JSON lines.\n"
"In a cluster, members, sockets and count ask every server (up to 5 s), and\n"
"join, leave and disconnect reach every server; list is this hub's rooms.\n"
"\n"
"  -S, --socket PATH   the hub's control socket\n"
"  -n, --nsp NSP       namespace (default /)\n"
"  -a, --all           list: also the rooms named by socket ids\n"
"  -s, --sid SID       the socket SID (repeatable)\n"
"  -i, --in ROOM       the sockets in ROOM (repeatable)\n"
"  -x, --except ROOM   not the sockets in ROOM (repeatable)\n"
"      --close         disconnect: close the whole connection, not just the namespace\n"
"  -l, --local         in a cluster (sio-hub with Redis): this hub's sockets only\n"
"      --json          JSON lines\n"
"  -h, --help          show this help\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 done (joining a room a socket is in already is done), 1 nothing\n"
"matched (an empty room, no such socket), 64 usage error, 69 hub not reachable,\n"
"70 unreadable answer from the hub, 74 output error.\n";

enum { OPT_CLOSE = 256, OPT_JSON };

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, 'S' },
	{ "nsp", required_argument, NULL, 'n' },
	{ "all", no_argument, NULL, 'a' },
	{ "sid", required_argument, NULL, 's' },
	{ "in", required_argument, NULL, 'i' },
	{ "except", required_argument, NULL, 'x' },
	{ "close", no_argument, NULL, OPT_CLOSE },
	{ "local", no_argument, NULL, 'l' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct strv {
	const char **v;
	size_t n;
};

static void
push(struct strv *s, const char *x)
{
	s->v = sio_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = x;
}

#define usage_error(...) exit(sio_usage_error(__VA_ARGS__))

static void
add_strv(struct sio_buf *b, const char *key, const struct strv *s)
{
	if (s->n == 0)
		return;
	sio_buf_printf(b, ",\"%s\":", key);
	sio_json_add_strv(b, s->v, s->n);
}

static void
print_tok(const struct sio_json *doc, const char *l, int i)
{
	fwrite(l + doc->tok[i].start, 1, doc->tok[i].end - doc->tok[i].start, stdout);
}

/* Prints a string token decoded (plain output). */
static void
print_str(const struct sio_json *doc, const char *l, int i)
{
	struct sio_buf b = SIO_BUF_INIT;
	sio_json_str_decode(doc, l, i, &b);
	fwrite(b.data, 1, b.len, stdout);
	sio_buf_free(&b);
}

int
main(int argc, char **argv)
{
	struct strv sids = { 0 }, in = { 0 }, except = { 0 };
	const char *socket_path = NULL, *nsp = "/";
	bool all = false, close_conn = false, json = false, local = false;
	char err[SIO_ERRLEN];
	int c;

	sio_log_setprog("sio-rooms");
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "S:n:as:i:x:lhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': socket_path = optarg; break;
		case 'n':
			if (optarg[0] != '/')
				usage_error("--nsp: '%s' must start with '/'", optarg);
			nsp = optarg;
			break;
		case 'a': all = true; break;
		case 's': push(&sids, optarg); break;
		case 'i': push(&in, optarg); break;
		case 'x': push(&except, optarg); break;
		case OPT_CLOSE: close_conn = true; break;
		case 'l': local = true; break;
		case OPT_JSON: json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("sio-rooms %s\n", SIO_VERSION); return 0;
		default: fputs("Try 'sio-rooms --help'.\n", stderr); return 64;
		}
	}
	if (optind >= argc)
		usage_error("a command is needed: list, members, sockets, count, join, leave, "
		    "disconnect%s", "");
	const char *cmd = argv[optind++];
	const char *room = NULL;
	bool needs_room = !strcmp(cmd, "members") || !strcmp(cmd, "count") ||
	    !strcmp(cmd, "join") || !strcmp(cmd, "leave");
	bool targets = !strcmp(cmd, "join") || !strcmp(cmd, "leave") || !strcmp(cmd, "disconnect");
	if (!needs_room && !targets && strcmp(cmd, "list") && strcmp(cmd, "sockets"))
		usage_error("unknown command '%s' (list, members, sockets, count, join, leave, "
		    "disconnect)", cmd);
	if (needs_room) {
		if (optind >= argc)
			usage_error("%s: which room?", cmd);
		room = argv[optind++];
		if (!*room)
			usage_error("%s: the room name is empty", cmd);
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (targets && sids.n == 0 && in.n == 0)
		usage_error("%s: name the sockets with --sid or --in", cmd);

	struct sio_buf req = SIO_BUF_INIT, ans = SIO_BUF_INIT;
	sio_buf_printf(&req, "{\"op\":\"%s\",\"id\":1,\"nsp\":", strcmp(cmd, "list") ? cmd : "rooms");
	sio_json_add_str(&req, nsp, strlen(nsp));
	if (room) {
		sio_buf_adds(&req, ",\"room\":");
		sio_json_add_str(&req, room, strlen(room));
	}
	add_strv(&req, "sids", &sids);
	add_strv(&req, "in", &in);
	add_strv(&req, "except", &except);
	if (all)
		sio_buf_adds(&req, ",\"all\":true");
	if (close_conn)
		sio_buf_adds(&req, ",\"close\":true");
	if (local)
		sio_buf_adds(&req, ",\"local\":true");
	sio_buf_adds(&req, "}\n");

	struct sio_ctl_conn conn = { .fd = -1 };
	struct sio_json doc = SIO_JSON_INIT;
	size_t matched = 0;
	int status = 0;
	char *path = sio_ctl_path(socket_path);
	int crc = sio_ctl_connect(&conn, path, err);
	free(path);
	if (crc != SIO_OK || sio_ctl_request(&conn, req.data, req.len, 10000, &ans, err) != SIO_OK) {
		fprintf(stderr, "sio-rooms: %s\n", err);
		status = 69;
		goto out;
	}

	const char *l = ans.data;
	if (sio_json_parse(&doc, l, ans.len, 64, err) != SIO_OK || doc.tok[0].type != SIO_JSON_OBJECT) {
		fprintf(stderr, "sio-rooms: unreadable answer from the hub: %s\n", err);
		status = 70;
		goto out;
	}
	int ei = sio_json_get(&doc, l, 0, "error");
	if (ei >= 0) {
		int mi = sio_json_get(&doc, l, ei, "message");
		fputs("sio-rooms: ", stderr);
		struct sio_buf m = SIO_BUF_INIT;
		if (mi >= 0)
			sio_json_str_decode(&doc, l, mi, &m);
		fprintf(stderr, "%s\n", m.data ? m.data : "refused");
		sio_buf_free(&m);
		status = 64;
		goto out;
	}

	int ai;
	if ((ai = sio_json_get(&doc, l, 0, "rooms")) >= 0 || (ai = sio_json_get(&doc, l, 0, "sockets")) >= 0) {
		bool rooms = sio_json_get(&doc, l, 0, "rooms") >= 0;
		for (int k = ai + 1; k < (int)doc.tok[ai].next; k = (int)doc.tok[k].next) {
			matched++;
			if (json) {
				print_tok(&doc, l, k);
			} else if (rooms) {
				print_str(&doc, l, sio_json_get(&doc, l, k, "room"));
				printf("\t");
				print_tok(&doc, l, sio_json_get(&doc, l, k, "members"));
			} else {
				int sid = sio_json_get(&doc, l, k, "sid");
				print_str(&doc, l, sid);
				int ri = sio_json_get(&doc, l, k, "rooms");
				printf("\t");
				bool first = true;
				for (int r = ri + 1; r < (int)doc.tok[ri].next; r = (int)doc.tok[r].next) {
					/* Its own room is its id: not worth a column. */
					if (doc.tok[r].end - doc.tok[r].start == doc.tok[sid].end - doc.tok[sid].start &&
					    !memcmp(l + doc.tok[r].start, l + doc.tok[sid].start,
					    doc.tok[r].end - doc.tok[r].start))
						continue;
					if (!first)
						printf(",");
					print_str(&doc, l, r);
					first = false;
				}
				int hi = sio_json_get(&doc, l, k, "handshake");
				int ad = hi >= 0 ? sio_json_get(&doc, l, hi, "address") : -1;
				printf("\t");
				if (ad >= 0)
					print_str(&doc, l, ad);
				/* With --jwt-alg: who the token said it was. */
				int ui = sio_json_get(&doc, l, k, "user");
				if (ui >= 0) {
					printf("\t");
					print_str(&doc, l, ui);
				}
			}
			printf("\n");
		}
	} else if ((ai = sio_json_get(&doc, l, 0, "sids")) >= 0) {
		for (int k = ai + 1; k < (int)doc.tok[ai].next; k = (int)doc.tok[k].next) {
			matched++;
			if (json) {
				printf("{\"sid\":");
				print_tok(&doc, l, k);
				printf("}");
			} else {
				print_str(&doc, l, k);
			}
			printf("\n");
		}
	} else {
		long long n = 0;
		int ni = sio_json_get(&doc, l, 0, "count");
		if (ni < 0)
			ni = sio_json_get(&doc, l, 0, "matched");
		if (ni < 0)
			ni = sio_json_get(&doc, l, 0, "disconnected");
		if (ni >= 0)
			sio_json_int(&doc, l, ni, 0, 1LL << 50, &n);
		matched = (size_t)n;
		if (json) {
			/* The answer without its request id. */
			int ii = sio_json_get(&doc, l, 0, "id");
			printf("{%s\n", l + doc.tok[ii].end + 1);
		} else if (!strcmp(cmd, "count")) {
			printf("%lld\n", n);
		}
	}
	/* An empty list is an answer for "list"; elsewhere it means no match. */
	/* In a cluster (sio-hub --redis) the other servers' matches are not
	 * counted: the operation went to them, which is not "no match". */
	bool remote = sio_json_get(&doc, l, 0, "remote") >= 0;
	status = matched > 0 || remote || !strcmp(cmd, "list") ? 0 : 1;
	if (fflush(stdout) != 0)
		status = 74;
out:
	sio_ctl_close(&conn);
	sio_json_free(&doc);
	sio_buf_free(&req);
	sio_buf_free(&ans);
	free(sids.v);
	free(in.v);
	free(except.v);
	return status;
}
