/* sio-hub: the Socket.IO daemon. Options, then the hub in lib/. */
#include "hub.h"
#include "log.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"usage: sio-hub [options]\n"
"\n"
"Serve Socket.IO v5 / Engine.IO v4 clients and a local control socket.\n"
"\n"
"  -b, --bind ADDR            address to listen on (default 127.0.0.1)\n"
"  -p, --port PORT            TCP port (default 3000)\n"
"      --path PATH            Engine.IO path of Socket.IO (default /socket.io/)\n"
"  -n, --nsp NSP              also accept namespace NSP (repeatable; / always)\n"
"      --any-nsp              accept every namespace a client asks for\n"
"      --relay[=MODE]         re-broadcast client events: all (default) to the\n"
"                             other sockets of the namespace, rooms to the other\n"
"                             sockets of the rooms the sender is in\n"
"      --ping-interval MS     heartbeat interval (default 25000)\n"
"      --ping-timeout MS      heartbeat timeout (default 20000)\n"
"      --connect-timeout MS   close clients that join no namespace (default 45000)\n"
"      --upgrade-timeout MS   give up an unfinished upgrade (default 10000)\n"
"      --max-payload BYTES    largest message or POST body (default 1000000)\n"
"      --transports LIST      polling,websocket (default both)\n"
"      --cors ORIGIN          allow cross-origin requests from ORIGIN (repeatable; * for any)\n"
"      --engine-echo PATH     also serve a bare Engine.IO echo endpoint at PATH\n"
"      --static DIR           serve the files under DIR at / (no listings)\n"
"  -S, --socket PATH          control socket (default $SIO_SOCKET, else\n"
"                             $XDG_RUNTIME_DIR/sio/hub.sock, else /tmp/sio-$UID/hub.sock)\n"
"      --no-control           serve no control socket\n"
"      --max-header-bytes N   largest HTTP request head (default 16384)\n"
"      --http-timeout MS      idle keep-alive and slow request limit (default 30000)\n"
"      --max-output BYTES     output queued per client before it is dropped (default 16777216)\n"
"  -v, --verbose              log more (repeatable)\n"
"  -q, --quiet                log errors only\n"
"  -h, --help                 show this help\n"
"  -V, --version              show the version\n"
"\n"
"Exit status: 0 after a clean shutdown (SIGINT, SIGTERM), 64 usage error,\n"
"69 cannot listen, 70 internal error.\n";

enum {
	OPT_PATH = 256, OPT_ANY_NSP, OPT_RELAY, OPT_PING_INTERVAL, OPT_PING_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_UPGRADE_TIMEOUT, OPT_MAX_PAYLOAD, OPT_TRANSPORTS,
	OPT_CORS, OPT_ENGINE_ECHO, OPT_NO_CONTROL, OPT_STATIC, OPT_MAX_HEADER, OPT_HTTP_TIMEOUT, OPT_MAX_OUTPUT,
};

static const struct option longopts[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "port", required_argument, NULL, 'p' },
	{ "path", required_argument, NULL, OPT_PATH },
	{ "nsp", required_argument, NULL, 'n' },
	{ "any-nsp", no_argument, NULL, OPT_ANY_NSP },
	{ "relay", optional_argument, NULL, OPT_RELAY },
	{ "ping-interval", required_argument, NULL, OPT_PING_INTERVAL },
	{ "ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "upgrade-timeout", required_argument, NULL, OPT_UPGRADE_TIMEOUT },
	{ "max-payload", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "transports", required_argument, NULL, OPT_TRANSPORTS },
	{ "cors", required_argument, NULL, OPT_CORS },
	{ "engine-echo", required_argument, NULL, OPT_ENGINE_ECHO },
	{ "static", required_argument, NULL, OPT_STATIC },
	{ "socket", required_argument, NULL, 'S' },
	{ "no-control", no_argument, NULL, OPT_NO_CONTROL },
	{ "max-header-bytes", required_argument, NULL, OPT_MAX_HEADER },
	{ "http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT },
	{ "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sio-hub: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'sio-hub --help'.\n");
	exit(64);
}

static long
number(const char *opt, const char *arg, long min, long max)
{
	long v;
	if (!sio_parse_long(arg, min, max, &v)) {
		fprintf(stderr, "sio-hub: %s: '%s' is not a number from %ld to %ld\n"
		    "Try 'sio-hub --help'.\n", opt, arg, min, max);
		exit(64);
	}
	return v;
}

static void
append(const char ***v, size_t *n, const char *s)
{
	*v = sio_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = s;
}

static void
parse_transports(struct sio_hub_config *cfg, const char *arg)
{
	char *copy = sio_xstrdup(arg), *save = NULL;
	cfg->polling = cfg->websocket = false;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "polling") == 0)
			cfg->polling = true;
		else if (strcmp(t, "websocket") == 0)
			cfg->websocket = true;
		else
			usage_error("--transports: unknown transport '%s' (polling, websocket)", t);
	}
	free(copy);
	if (!cfg->polling && !cfg->websocket)
		usage_error("--transports: %s names no transport", arg);
}

int
main(int argc, char **argv)
{
	struct sio_hub_config cfg;
	char err[SIO_ERRLEN] = "";
	int verbosity = SIO_LOG_INFO, c;

	sio_log_setprog("sio-hub");
	sio_hub_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "b:p:n:S:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': cfg.bind = optarg; break;
		case 'p': cfg.port = (int)number("--port", optarg, 0, 65535); break;
		case OPT_PATH:
			if (optarg[0] != '/')
				usage_error("--path: '%s' must start with '/'", optarg);
			cfg.path = optarg;
			break;
		case 'n': append(&cfg.nsps, &cfg.nnsps, optarg); break;
		case OPT_ANY_NSP: cfg.any_nsp = true; break;
		case OPT_RELAY:
			if (!optarg || strcmp(optarg, "all") == 0)
				cfg.relay = SIO_RELAY_ALL;
			else if (strcmp(optarg, "rooms") == 0)
				cfg.relay = SIO_RELAY_ROOMS;
			else
				usage_error("--relay: unknown mode '%s' (all, rooms)", optarg);
			break;
		case OPT_PING_INTERVAL:
			cfg.ping_interval = (int)number("--ping-interval", optarg, 1, 3600000);
			break;
		case OPT_PING_TIMEOUT:
			cfg.ping_timeout = (int)number("--ping-timeout", optarg, 1, 3600000);
			break;
		case OPT_CONNECT_TIMEOUT:
			cfg.connect_timeout = (int)number("--connect-timeout", optarg, 1, 3600000);
			break;
		case OPT_UPGRADE_TIMEOUT:
			cfg.upgrade_timeout = (int)number("--upgrade-timeout", optarg, 1, 3600000);
			break;
		case OPT_MAX_PAYLOAD:
			cfg.max_payload = (size_t)number("--max-payload", optarg, 16, 1L << 30);
			break;
		case OPT_TRANSPORTS: parse_transports(&cfg, optarg); break;
		case OPT_CORS: append(&cfg.cors, &cfg.ncors, optarg); break;
		case OPT_ENGINE_ECHO:
			if (optarg[0] != '/')
				usage_error("--engine-echo: '%s' must start with '/'", optarg);
			cfg.engine_echo = optarg;
			break;
		case 'S': cfg.ctl_path = optarg; break;
		case OPT_STATIC: cfg.static_dir = optarg; break;
		case OPT_NO_CONTROL: cfg.no_ctl = true; break;
		case OPT_MAX_HEADER:
			cfg.max_header_bytes = (size_t)number("--max-header-bytes", optarg, 256, 1L << 24);
			break;
		case OPT_HTTP_TIMEOUT:
			cfg.http_timeout = (int)number("--http-timeout", optarg, 1, 3600000);
			break;
		case OPT_MAX_OUTPUT:
			cfg.max_output = (size_t)number("--max-output", optarg, 1024, 1L << 34);
			break;
		case 'v': verbosity++; break;
		case 'q': verbosity = SIO_LOG_ERROR; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("sio-hub %s\n", SIO_VERSION); return 0;
		default: fputs("Try 'sio-hub --help'.\n", stderr); return 64;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	sio_log_setlevel(verbosity);

	struct sio_hub *hub = sio_hub_new(&cfg, err);
	if (!hub) {
		sio_log_error("%s", err);
		return 69;
	}
	int rc = sio_hub_run(hub);
	sio_hub_free(hub);
	free(cfg.nsps);
	free(cfg.cors);
	return rc;
}
