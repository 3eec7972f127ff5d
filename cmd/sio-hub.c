/* sio-hub: the Socket.IO daemon. Options, then the hub in lib/. */
#include "conf.h"
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
"                             sockets of the rooms the sender is in, off\n"
"      --ping-interval MS     heartbeat interval (default 25000)\n"
"      --ping-timeout MS      heartbeat timeout (default 20000)\n"
"      --connect-timeout MS   close clients that join no namespace (default 45000)\n"
"      --upgrade-timeout MS   give up an unfinished upgrade (default 10000)\n"
"      --max-payload BYTES    largest message or POST body (default 1000000)\n"
"      --transports LIST      polling,websocket (default both)\n"
"      --cors ORIGIN          allow cross-origin requests from ORIGIN (repeatable; * for any)\n"
"      --allow-origin ORIGIN  refuse (403) handshakes whose Origin header is not\n"
"                             one of these (repeatable; default: any)\n"
"      --jwt-alg ALG          CONNECT needs {\"token\": JWT} signed with ALG: HS256,\n"
"                             RS256 or ES256 (the token's sub and rooms are used)\n"
"      --jwt-key FILE         the HS256 secret, or the RS256/ES256 public key (PEM)\n"
"      --jwt-leeway SECONDS   clock skew allowed for exp and nbf (default 0)\n"
"      --engine-echo PATH     also serve a bare Engine.IO echo endpoint at PATH\n"
"      --static DIR           serve the files under DIR at / (no listings)\n"
"  -S, --socket PATH          control socket (default $SIO_SOCKET, else\n"
"                             $XDG_RUNTIME_DIR/sio/hub.sock, else /tmp/sio-$UID/hub.sock)\n"
"      --no-control           serve no control socket\n"
"      --control-group GROUP  let members of GROUP use the control socket too\n"
"      --redis URL            join the cluster of hubs and Node servers on this\n"
"                             Redis: redis://[:password@]host[:port] or a socket path\n"
"      --redis-key PREFIX     the cluster's channel prefix (default socket.io)\n"
"      --redis-max-pending BYTES  published bytes Redis has not answered\n"
"                             before broadcasts to the cluster are dropped\n"
"                             and counted (default 67108864)\n";
/* Two strings: C11 compilers need only take 4095 bytes in one literal. */
static const char usage_limits[] =
"      --max-header-bytes N   largest HTTP request head (default 16384)\n"
"      --max-headers N        header lines in one HTTP request (default 100)\n"
"      --max-fragments N      frames in one WebSocket message (default 1024)\n"
"      --http-timeout MS      idle keep-alive and slow request limit (default 30000)\n"
"      --shutdown-timeout MS  on SIGTERM, time to write out what is queued (default 5000)\n"
"      --max-output BYTES     output queued per client before it is dropped (default 16777216)\n"
"      --max-output-soft BYTES  ... or held above BYTES (default 4194304; 0: off)\n"
"      --max-output-soft-time MS  for longer than MS (default 20000)\n"
"      --max-connections N    open client connections (default: the fd limit less 64)\n"
"      --max-connections-per-ip N  from one address (default 0: no limit)\n"
"      --max-packets N        packets in one polling payload (default 10000)\n"
"      --max-attachments N    binary attachments in one packet (default 10, at most 10)\n"
"      --max-depth N          JSON nesting in a client's packet (default 1000)\n"
"      --max-control-line BYTES  longest control-socket line (default: twice\n"
"                             --max-payload plus 65536)\n"
"      --max-listener-output BYTES  unread output before a listener misses\n"
"                             events, counted (default 8388608)\n"
"      --tls-cert FILE        serve https and wss with this PEM certificate chain\n"
"      --tls-key FILE         and this PEM private key (both reloaded on SIGHUP)\n"
"      --tls-handshake-timeout MS  close peers that have not finished the TLS\n"
"                             handshake by then (default 10000)\n"
"      --metrics MODE         GET /health and /metrics: auto (default: when bound to\n"
"                             loopback), on, off\n"
"  -c, --config FILE          settings file (default /etc/sio/hub.conf if present):\n"
"                             lines of 'name value' with the long option names;\n"
"                             flags given here win\n"
"      --check-config         check the settings and files, then exit\n"
"  -v, --verbose              log more (repeatable)\n"
"  -q, --quiet                log errors only\n"
"  -h, --help                 show this help\n"
"  -V, --version              show the version\n"
"\n"
"SIGHUP re-reads the settings: all but the address, port, paths and control\n"
"socket change at once.\n"
"\n"
"Exit status: 0 after a clean shutdown (SIGINT, SIGTERM), 64 usage error,\n"
"69 cannot listen, 70 internal error, 78 bad settings file.\n";

#define DEFAULT_CONF "/etc/sio/hub.conf"

struct run {
	int argc;
	char **argv;
	const char *conf;
	bool conf_given, check, help, version;
};

/* Long-only options are found by name (longopts[idx].name), not by value. */
enum { OPT_LONG = 256, OPT_CHECK };

static const struct option longopts[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "port", required_argument, NULL, 'p' },
	{ "path", required_argument, NULL, OPT_LONG },
	{ "nsp", required_argument, NULL, 'n' },
	{ "any-nsp", no_argument, NULL, OPT_LONG },
	{ "relay", optional_argument, NULL, OPT_LONG },
	{ "ping-interval", required_argument, NULL, OPT_LONG },
	{ "ping-timeout", required_argument, NULL, OPT_LONG },
	{ "connect-timeout", required_argument, NULL, OPT_LONG },
	{ "upgrade-timeout", required_argument, NULL, OPT_LONG },
	{ "max-payload", required_argument, NULL, OPT_LONG },
	{ "transports", required_argument, NULL, OPT_LONG },
	{ "cors", required_argument, NULL, OPT_LONG },
	{ "engine-echo", required_argument, NULL, OPT_LONG },
	{ "static", required_argument, NULL, OPT_LONG },
	{ "socket", required_argument, NULL, 'S' },
	{ "no-control", no_argument, NULL, OPT_LONG },
	{ "max-header-bytes", required_argument, NULL, OPT_LONG },
	{ "max-headers", required_argument, NULL, OPT_LONG },
	{ "max-fragments", required_argument, NULL, OPT_LONG },
	{ "http-timeout", required_argument, NULL, OPT_LONG },
	{ "shutdown-timeout", required_argument, NULL, OPT_LONG },
	{ "max-output", required_argument, NULL, OPT_LONG },
	{ "max-output-soft", required_argument, NULL, OPT_LONG },
	{ "max-output-soft-time", required_argument, NULL, OPT_LONG },
	{ "max-connections", required_argument, NULL, OPT_LONG },
	{ "max-connections-per-ip", required_argument, NULL, OPT_LONG },
	{ "max-packets", required_argument, NULL, OPT_LONG },
	{ "max-attachments", required_argument, NULL, OPT_LONG },
	{ "max-depth", required_argument, NULL, OPT_LONG },
	{ "max-control-line", required_argument, NULL, OPT_LONG },
	{ "max-listener-output", required_argument, NULL, OPT_LONG },
	{ "allow-origin", required_argument, NULL, OPT_LONG },
	{ "control-group", required_argument, NULL, OPT_LONG },
	{ "jwt-alg", required_argument, NULL, OPT_LONG },
	{ "jwt-key", required_argument, NULL, OPT_LONG },
	{ "jwt-leeway", required_argument, NULL, OPT_LONG },
	{ "tls-cert", required_argument, NULL, OPT_LONG },
	{ "tls-key", required_argument, NULL, OPT_LONG },
	{ "tls-handshake-timeout", required_argument, NULL, OPT_LONG },
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, OPT_CHECK },
	{ "metrics", required_argument, NULL, OPT_LONG },
	{ "redis", required_argument, NULL, OPT_LONG },
	{ "redis-key", required_argument, NULL, OPT_LONG },
	{ "redis-max-pending", required_argument, NULL, OPT_LONG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Short options' long names, for sio_conf_set. */
static const char *
long_name(int c, int idx)
{
	switch (c) {
	case 'b': return "bind";
	case 'p': return "port";
	case 'n': return "nsp";
	case 'S': return "socket";
	case 'v': return "verbose";
	case 'q': return "quiet";
	}
	return idx >= 0 ? longopts[idx].name : NULL;
}

/*
 * Applies the command line to cfg. Returns SIO_OK, or an error with
 * a message in err. help/version/config/check are noted, not applied.
 */
static int
apply_argv(struct sio_hub_config *cfg, int argc, char **argv, struct run *run, char *err)
{
	int c, idx = -1;

	optind = 0;	/* GNU getopt: start over (reloads parse argv again) */
	while ((c = getopt_long(argc, argv, "b:p:n:S:c:vqhV", longopts, &idx)) != -1) {
		switch (c) {
		case 'h': run->help = true; break;
		case 'V': run->version = true; break;
		case 'c': run->conf = optarg; run->conf_given = true; break;
		case OPT_CHECK: run->check = true; break;
		case '?':
			snprintf(err, SIO_ERRLEN, "bad option (see above)");
			return SIO_EINVAL;
		default: {
			const char *name = long_name(c, idx);
			if (!name || sio_conf_set(cfg, name, optarg, err) != SIO_OK)
				return SIO_EINVAL;
		}
		}
		idx = -1;
	}
	if (optind < argc) {
		snprintf(err, SIO_ERRLEN, "unexpected argument '%s'", argv[optind]);
		return SIO_EINVAL;
	}
	return SIO_OK;
}

/* defaults, then the config file, then the flags: the flags win. */
static int
build_config(struct sio_hub_config *cfg, struct run *run, char *err)
{
	char msg[SIO_ERRLEN];

	sio_hub_config_defaults(cfg);
	int rc = sio_conf_load(cfg, run->conf, msg);
	if (rc == SIO_ENOTFOUND && !run->conf_given)
		rc = SIO_OK;	/* the default file is optional */
	if (rc != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "%s", msg);
		sio_hub_config_free(cfg);
		return 78;
	}
	opterr = 0;	/* the flags were checked at start; no second report */
	if (apply_argv(cfg, run->argc, run->argv, run, msg) != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "%s", msg);
		sio_hub_config_free(cfg);
		return 64;
	}
	if (sio_conf_check(cfg, msg) != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "%s", msg);
		sio_hub_config_free(cfg);
		return 78;
	}
	return SIO_OK;
}

static int
reload(struct sio_hub_config *out, char *err, void *arg)
{
	return build_config(out, arg, err) == SIO_OK ? SIO_OK : SIO_EINVAL;
}

int
main(int argc, char **argv)
{
	struct sio_hub_config cfg;
	struct run run = { argc, argv, DEFAULT_CONF, false, false, false, false };
	char err[SIO_ERRLEN] = "";

	sio_log_setprog("sio-hub");
	sio_hub_config_defaults(&cfg);
	/* First pass: the options themselves, and where the config file is. */
	if (apply_argv(&cfg, argc, argv, &run, err) != SIO_OK) {
		return sio_usage_error("%s", err);
	}
	sio_hub_config_free(&cfg);
	if (run.help) {
		fputs(usage_text, stdout);
		fputs(usage_limits, stdout);
		return 0;
	}
	if (run.version) {
		printf("sio-hub %s\n", SIO_VERSION);
		return 0;
	}
	int rc = build_config(&cfg, &run, err);
	if (rc != SIO_OK) {
		fprintf(stderr, "sio-hub: %s\n", err);
		return rc;
	}
	if (run.check) {
		rc = sio_hub_check_config(&cfg, err);
		if (rc != SIO_OK)
			fprintf(stderr, "sio-hub: %s\n", err);
		else
			printf("sio-hub: configuration OK\n");
		sio_hub_config_free(&cfg);
		return rc == SIO_OK ? 0 : 78;
	}
	sio_log_setlevel(cfg.log_level);

	struct sio_hub *hub = sio_hub_new(&cfg, err);
	if (!hub) {
		sio_log_error("%s", err);
		sio_hub_config_free(&cfg);
		return 69;
	}
	sio_hub_on_reload(hub, reload, &run);
	rc = sio_hub_run(hub);
	sio_hub_free(hub);
	return rc;
}
