#include "hub.h"
#include "conn.h"
#include "ctl.h"
#include "eio.h"
#include "files.h"
#include "log.h"
#include "pkt.h"
#include "redis.h"
#include "sio.h"
#include "stats.h"
#include "tls.h"
#include "jwt.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uthash.h>

#include <systemd/sd-daemon.h>

/* Open client connections from one address (--max-connections-per-ip). */
struct sio_ipslot {
	unsigned n;
	UT_hash_handle hh;
	char ip[INET6_ADDRSTRLEN];
};

struct deferred {
	void (*fn)(void *);
	void *arg;
};

struct sio_hub {
	struct ev_loop *loop;
	struct sio_hub_config cfg;
	int lfd;
	ev_io accept_io;
	ev_timer accept_retry;		/* EMFILE: wait, then accept again */
	ev_prepare prepare;
	ev_signal sigint, sigterm;
	ev_timer shutdown_timer;
	bool stopping;

	struct sio_conn *pending;	/* connections with output to flush */
	struct sio_conn *dead;		/* closed connections to free */
	struct deferred *defer;
	size_t ndefer, capdefer;

	struct sio_eio_server *eio;	/* Socket.IO's Engine.IO endpoint */
	struct sio_eio_server *echo;	/* bare Engine.IO echo, if asked */
	struct sio_server *sio;
	struct sio_ctl *ctl;
	struct sio_redis *redis;
	char *ctl_path;
	struct sio_files *files;
	struct sio_tls *tls;		/* new connections take this context */
	struct sio_jwt *jwt;		/* CONNECT tokens checked against this */
	struct sio_ipslot *ips;		/* open connections by address */
	unsigned nclients;		/* open client connections */
	unsigned max_clients;		/* --max-connections, or from the fd limit */
	ev_tstamp refused_logged[2];	/* refusals are logged once a second per limit */
	unsigned refused_quiet[2];	/* refusals since that line */
	int congested;
	int blocked;			/* client connections with output stuck in EAGAIN */
	unsigned freed;			/* connections freed since memory was last given back */
	ev_timer trim_timer;
	struct sio_stats stats;
	ev_tstamp started;
	bool metrics;			/* /health and /metrics served */

	ev_signal sighup;
	sio_hub_reload_fn reload;
	void *reload_arg;
	struct sio_hub_config *retired;	/* configs replaced by reloads */
	size_t nretired;
};

void
sio_hub_config_defaults(struct sio_hub_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->bind = "127.0.0.1";
	cfg->port = 3000;
	cfg->path = "/socket.io/";
	cfg->ping_interval = 25000;
	cfg->ping_timeout = 20000;
	cfg->connect_timeout = 45000;
	cfg->upgrade_timeout = 10000;
	cfg->max_payload = 1000000;
	cfg->polling = true;
	cfg->websocket = true;
	cfg->max_header_bytes = 16384;
	cfg->max_headers = 100;
	cfg->max_fragments = 1024;
	cfg->http_timeout = 30000;
	cfg->max_output = 16u << 20;
	cfg->max_output_soft = 4u << 20;
	cfg->max_listener_output = 8u << 20;
	cfg->redis_max_pending = 64u << 20;
	cfg->max_output_soft_time = 20000;
	cfg->max_packets = 10000;
	cfg->max_attachments = 10;
	cfg->max_depth = 1000;
	cfg->shutdown_timeout = 5000;
	cfg->tls_handshake_timeout = 10000;
	cfg->log_level = SIO_LOG_INFO;
}

size_t
sio_hub_max_control_line(const struct sio_hub_config *cfg)
{
	/* An emit carries a payload of up to max_payload, escaped in JSON. */
	return cfg->max_control_line ? cfg->max_control_line : cfg->max_payload * 2 + 65536;
}

void
sio_hub_config_free(struct sio_hub_config *cfg)
{
	for (size_t i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->nsps);
	free(cfg->cors);
	free(cfg->allow_origins);
	memset(cfg, 0, sizeof *cfg);
}

struct sio_stats *
sio_hub_stats(struct sio_hub *hub)
{
	return &hub->stats;
}

double
sio_hub_uptime(struct sio_hub *hub)
{
	return ev_now(hub->loop) - hub->started;
}

bool
sio_hub_stopping(struct sio_hub *hub)
{
	return hub->stopping;
}

struct sio_eio_server *
sio_hub_eio(struct sio_hub *hub)
{
	return hub->eio;
}

struct sio_server *
sio_hub_sio(struct sio_hub *hub)
{
	return hub->sio;
}

struct sio_jwt *
sio_hub_jwt(struct sio_hub *hub)
{
	return hub->jwt;
}

/* A verifier for the config's JWT settings, or NULL with err set when
 * they do not load (NULL with err empty: none configured). */
static struct sio_jwt *
load_jwt(const struct sio_hub_config *cfg, char *err)
{
	err[0] = '\0';
	if (!cfg->jwt_alg)
		return NULL;
	struct sio_jwt *v = sio_jwt_new(cfg->jwt_alg, cfg->jwt_key, err);
	if (v)
		sio_jwt_set_leeway(v, cfg->jwt_leeway);
	return v;
}

struct sio_redis *
sio_hub_redis(struct sio_hub *hub)
{
	return hub->redis;
}

struct sio_ctl *
sio_hub_ctl(struct sio_hub *hub)
{
	return hub->ctl;
}

struct ev_loop *
sio_hub_loop(struct sio_hub *hub)
{
	return hub->loop;
}

const struct sio_hub_config *
sio_hub_cfg(struct sio_hub *hub)
{
	return &hub->cfg;
}

void
sio_hub_schedule_flush(struct sio_hub *hub, struct sio_conn *c)
{
	if (c->write_pending || c->closed)
		return;
	c->write_pending = true;
	c->next_pending = hub->pending;
	hub->pending = c;
}

void
sio_hub_bury(struct sio_hub *hub, struct sio_conn *c)
{
	c->next_dead = hub->dead;
	hub->dead = c;
}

void
sio_hub_congestion(struct sio_hub *hub, int delta)
{
	hub->congested += delta;
	if (hub->congested == 0)
		sio_ctl_resume(hub->ctl);
}

void
sio_hub_blocked(struct sio_hub *hub, int delta)
{
	hub->blocked += delta;
}

bool
sio_hub_congested(struct sio_hub *hub)
{
	return hub->congested > 0;
}

void
sio_hub_defer(struct sio_hub *hub, void (*fn)(void *), void *arg)
{
	if (hub->ndefer == hub->capdefer) {
		hub->capdefer = hub->capdefer ? hub->capdefer * 2 : 16;
		hub->defer = sio_xrealloc(hub->defer, hub->capdefer * sizeof *hub->defer);
	}
	hub->defer[hub->ndefer++] = (struct deferred){ fn, arg };
}

/*
 * Before the loop blocks: flush every connection that got output in
 * this turn (one writev each, however many messages), then free what
 * was closed. Flushing can close connections, so it goes first.
 */
static void
prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	struct sio_hub *hub = SIO_CONTAINER_OF(w, struct sio_hub, prepare);
	(void)EV_A;
	(void)revents;

	/* Deferred work can queue output and flushing can defer work: go
	 * round until both are done, so nothing freed below is still listed. */
	while (hub->pending || hub->ndefer) {
		while (hub->pending) {
			struct sio_conn *list = hub->pending;
			hub->pending = NULL;
			while (list) {
				struct sio_conn *c = list;
				list = c->next_pending;
				c->write_pending = false;
				sio_conn_flush(c);
			}
		}
		for (size_t i = 0; i < hub->ndefer; i++)
			hub->defer[i].fn(hub->defer[i].arg);
		hub->ndefer = 0;
	}
	while (hub->dead) {
		struct sio_conn *c = hub->dead;
		hub->dead = c->next_dead;
		sio_conn_free(c);
		hub->freed++;
	}
	/*
	 * After a wave of disconnects glibc keeps the freed memory in its
	 * arenas (a hub that held 10,000 clients stayed at its peak RSS):
	 * give it back (sio_memory_release) half a second after frees begin,
	 * and again while they go on, so it never runs more than twice a
	 * second.
	 */
	if (hub->freed >= 64 && !ev_is_active(&hub->trim_timer)) {
		ev_timer_set(&hub->trim_timer, 0.5, 0.);	/* see accept_cb */
		ev_timer_start(hub->loop, &hub->trim_timer);
	}
}

void
sio_hub_conn_gone(struct sio_hub *hub, struct sio_conn *c)
{
	struct sio_ipslot *slot = c->ipslot;
	c->ipslot = NULL;
	hub->nclients--;
	if (--slot->n == 0) {
		HASH_DEL(hub->ips, slot);
		free(slot);
	}
}

/* --max-connections 0: what the fd limit allows, with room to spare for
 * control clients, static files and the listeners. */
static void
apply_max_clients(struct sio_hub *hub)
{
	struct rlimit rl;
	hub->max_clients = hub->cfg.max_connections;
	if (hub->max_clients == 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY)
		hub->max_clients = rl.rlim_cur > 96 ? (unsigned)rl.rlim_cur - 64 : 32;
}

/*
 * Over a limit: a plain client gets a fixed 503 before the close (a TLS
 * one only the close: answering would cost a handshake). One log line a
 * second says how many were refused and why.
 */
enum { OVER_TOTAL, OVER_PER_IP };

static void
refuse(struct sio_hub *hub, int fd, const char *ip, int limit)
{
	static const char *const why[] = { "over --max-connections", "over --max-connections-per-ip" };
	static const char msg[] =
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
	    "Too many connections\n";
	if (!hub->tls) {
		ssize_t w = write(fd, msg, sizeof msg - 1);
		(void)w;	/* best effort: the close follows either way */
		shutdown(fd, SHUT_WR);
	}
	close(fd);
	hub->stats.refused++;
	ev_tstamp now = ev_now(hub->loop);
	if (now - hub->refused_logged[limit] >= 1.0) {
		sio_log_warn("%s: connection refused: %s (%u more refused so since the last such line)",
		    ip, why[limit], hub->refused_quiet[limit]);
		hub->refused_logged[limit] = now;
		hub->refused_quiet[limit] = 0;
	} else {
		hub->refused_quiet[limit]++;
	}
}

static void
addr_ip(const struct sockaddr_storage *ss, char *ip)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, INET6_ADDRSTRLEN);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, INET6_ADDRSTRLEN);
	} else {
		strcpy(ip, "?");
	}
}

static void
accept_cb(EV_P_ ev_io *w, int revents)
{
	struct sio_hub *hub = SIO_CONTAINER_OF(w, struct sio_hub, accept_io);
	(void)revents;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(hub->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting for a moment
				 * rather than spin on a listener that stays readable. */
				sio_log_warn("accept: %s; pausing new connections", strerror(errno));
				ev_io_stop(EV_A, &hub->accept_io);
				/* Set again each time: a one-shot timer that fired
				 * keeps an offset of about 0 and would fire at once. */
				ev_timer_set(&hub->accept_retry, 0.5, 0.);
				ev_timer_start(EV_A, &hub->accept_retry);
			}
			return;
		}
		char ip[INET6_ADDRSTRLEN];
		addr_ip(&ss, ip);
		if (hub->max_clients && hub->nclients >= hub->max_clients) {
			refuse(hub, fd, ip, OVER_TOTAL);
			continue;
		}
		struct sio_ipslot *slot;
		HASH_FIND_STR(hub->ips, ip, slot);
		if (slot && hub->cfg.max_connections_per_ip &&
		    slot->n >= hub->cfg.max_connections_per_ip) {
			refuse(hub, fd, ip, OVER_PER_IP);
			continue;
		}
		if (!slot) {
			slot = sio_xcalloc(1, sizeof *slot);
			strcpy(slot->ip, ip);
			HASH_ADD_STR(hub->ips, ip, slot);
		}
		struct sio_conn *c = sio_conn_new_http(hub, fd);
		c->ipslot = slot;
		slot->n++;
		hub->nclients++;
		hub->stats.connections++;
		if (hub->tls && sio_tls_attach(hub->tls, c,
		    hub->cfg.tls_handshake_timeout / 1000.0) != SIO_OK)
			sio_conn_close(c, "out of memory for TLS");
	}
}

static void
trim_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_hub *hub = SIO_CONTAINER_OF(w, struct sio_hub, trim_timer);
	(void)EV_A;
	(void)revents;
	hub->freed = 0;
	sio_memory_release();
}

static void
accept_retry_cb(EV_P_ ev_timer *w, int revents)
{
	struct sio_hub *hub = SIO_CONTAINER_OF(w, struct sio_hub, accept_retry);
	(void)revents;
	if (!hub->stopping)
		ev_io_start(EV_A, &hub->accept_io);
}

static bool
path_matches(const char *reqpath, const char *prefix)
{
	size_t n = strlen(prefix);
	/* "/socket.io/" also takes "/socket.io" (no trailing slash). */
	if (strncmp(reqpath, prefix, n) == 0)
		return true;
	return n > 1 && prefix[n - 1] == '/' && strlen(reqpath) == n - 1 &&
	    strncmp(reqpath, prefix, n - 1) == 0;
}

void
sio_hub_dispatch(struct sio_hub *hub, struct sio_conn *c)
{
	const char *path = c->req.path ? c->req.path : "/";

	char sid[32];
	/* While stopping, sessions may still fetch their last packets; only
	 * new sessions are refused. */
	if (hub->stopping && !sio_web_query(&c->req, "sid", sid, sizeof sid)) {
		sio_web_respond(c, 503, "text/plain", NULL, "Shutting down", 13);
		c->req.keep_alive = false;
		sio_web_response_done(c);
		return;
	}
	if (hub->metrics && c->req.method == HTTP_GET && strcmp(path, "/health") == 0) {
		sio_stats_health(hub, c);
		return;
	}
	if (hub->metrics && c->req.method == HTTP_GET && strcmp(path, "/metrics") == 0) {
		sio_stats_metrics(hub, c);
		return;
	}
	if (hub->echo && path_matches(path, sio_eio_server_path(hub->echo))) {
		sio_eio_handle(hub->echo, c);
		return;
	}
	if (path_matches(path, sio_eio_server_path(hub->eio))) {
		sio_eio_handle(hub->eio, c);
		return;
	}
	if (hub->files && !c->req.too_large) {
		sio_files_serve(hub->files, c);
		return;
	}
	if (c->req.too_large) {
		sio_web_respond(c, 413, "text/plain", NULL, "Payload Too Large", 17);
	} else {
		sio_web_respond(c, 404, "text/plain", NULL, "Not Found", 9);
	}
	sio_web_response_done(c);
}

/* ---- the bare Engine.IO echo endpoint (conformance suite) ------------- */

static void
echo_message(struct sio_eio_session *s, bool binary, const uint8_t *p, size_t n,
    void *user)
{
	(void)user;
	if (binary)
		sio_eio_send(s, sio_pkt_from(true, p, n));
	else
		sio_eio_send(s, sio_pkt_text('4', p, n));
}

static const struct sio_eio_handler echo_handler = {
	.on_message = echo_message,
};

/* ---- lifecycle ----------------------------------------------------------- */

static void
shutdown_timeout_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	struct sio_hub *hub = w->data;
	sio_log_warn("shutdown: --shutdown-timeout passed; exiting with output unsent to "
	    "%d connection(s) and %zu session(s) still closing", hub->blocked,
	    sio_eio_count(hub->eio));
	ev_break(EV_A, EVBREAK_ALL);
}

static void
finish_shutdown(struct sio_hub *hub)
{
	/* Done when every connection has written its last bytes, also those
	 * a slow client is still taking (the shutdown timer bounds that). */
	if (hub->pending == NULL && sio_eio_count(hub->eio) == 0 && hub->blocked == 0)
		ev_break(hub->loop, EVBREAK_ALL);
}

static void
shutdown_check_cb(EV_P_ ev_prepare *w, int revents)
{
	(void)EV_A;
	(void)revents;
	finish_shutdown(w->data);
}

static ev_prepare shutdown_prepare;

void
sio_hub_stop(struct sio_hub *hub)
{
	if (hub->stopping)
		return;
	hub->stopping = true;
	sio_log_info("shutting down");
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	/* The listener stays open until the end: a long-polling client
	 * fetches what was queued for it on a new connection, while new
	 * sessions are answered 503 (sio_hub_dispatch). */
	sio_eio_close_all(hub->eio, "server shutting down");
	if (hub->echo)
		sio_eio_close_all(hub->echo, "server shutting down");
	ev_timer_init(&hub->shutdown_timer, shutdown_timeout_cb,
	    hub->cfg.shutdown_timeout / 1000.0, 0.);
	hub->shutdown_timer.data = hub;
	ev_timer_start(hub->loop, &hub->shutdown_timer);
	/* Runs after the flush watcher: exits once output is written. */
	ev_prepare_init(&shutdown_prepare, shutdown_check_cb);
	shutdown_prepare.data = hub;
	ev_set_priority(&shutdown_prepare, EV_MINPRI);
	ev_prepare_start(hub->loop, &shutdown_prepare);
}

static void
signal_cb(EV_P_ ev_signal *w, int revents)
{
	(void)EV_A;
	(void)revents;
	sio_hub_stop(w->data);
}

void
sio_hub_on_reload(struct sio_hub *hub, sio_hub_reload_fn fn, void *arg)
{
	hub->reload = fn;
	hub->reload_arg = arg;
}

static bool
differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static bool
is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strcmp(addr, "localhost");
}

static void
apply_metrics(struct sio_hub *hub)
{
	hub->metrics = hub->cfg.metrics == SIO_METRICS_ON ||
	    (hub->cfg.metrics == SIO_METRICS_AUTO && is_loopback(hub->cfg.bind));
}

/*
 * SIGHUP: a fresh config from the reload function. What is read at each
 * use (timeouts, limits, CORS, relay, the log level, the static files,
 * new namespaces) changes now; what was bound at start (address, port,
 * paths, the control socket) stays, with a warning.
 */
static void
reload(struct sio_hub *hub)
{
	struct sio_hub_config fresh;
	char err[SIO_ERRLEN] = "";

	if (!hub->reload) {
		sio_log_warn("SIGHUP: nothing to reload");
		return;
	}
	sd_notify(0, "RELOADING=1");
	if (hub->reload(&fresh, err, hub->reload_arg) != SIO_OK) {
		sio_log_error("SIGHUP: %s; keeping the running settings", err);
		sd_notify(0, "READY=1");
		return;
	}
	struct sio_hub_config *old = &hub->cfg;
	if (differ(fresh.bind, old->bind) || (fresh.port != old->port && fresh.port != 0) ||
	    differ(fresh.path, old->path) || differ(fresh.engine_echo, old->engine_echo) ||
	    differ(fresh.ctl_path, old->ctl_path) || fresh.no_ctl != old->no_ctl ||
	    (fresh.tls_cert == NULL) != (hub->tls == NULL) ||
	    differ(fresh.redis_url, old->redis_url) || differ(fresh.redis_key, old->redis_key))
		sio_log_warn("SIGHUP: bind, port, path, engine-echo, the control socket, "
		    "redis, redis-key and turning TLS on or off change only with a restart");
	struct sio_files *files = NULL;
	if (fresh.static_dir && !(files = sio_files_new(fresh.static_dir, err))) {
		sio_log_error("SIGHUP: %s; keeping the running settings", err);
		sio_hub_config_free(&fresh);
		return;
	}
	struct sio_tls *tls = NULL;
	if (fresh.tls_cert && hub->tls &&
	    !(tls = sio_tls_new(fresh.tls_cert, fresh.tls_key, err))) {
		sio_log_error("SIGHUP: %s; keeping the running settings", err);
		sio_files_free(files);
		sio_hub_config_free(&fresh);
		return;
	}
	struct sio_jwt *jwt = load_jwt(&fresh, err);
	if (!jwt && err[0]) {
		sio_log_error("SIGHUP: %s; keeping the running settings", err);
		sio_tls_free(tls);
		sio_files_free(files);
		sio_hub_config_free(&fresh);
		return;
	}
	/* Rotated or dropped keys take effect for the next CONNECT. */
	sio_jwt_free(hub->jwt);
	hub->jwt = jwt;
	if (tls) {
		/* Live connections keep the context they were accepted with. */
		sio_tls_free(hub->tls);
		hub->tls = tls;
		sio_log_info("SIGHUP: TLS certificate and key reloaded");
	}
	sio_files_free(hub->files);
	hub->files = files;
	for (size_t i = 0; i < fresh.nnsps; i++)
		sio_server_add_nsp(hub->sio, fresh.nsps[i]);
	/* The bound ones stay; the old config lives on for their strings. */
	fresh.bind = old->bind;
	fresh.port = old->port;
	fresh.path = old->path;
	fresh.engine_echo = old->engine_echo;
	fresh.ctl_path = old->ctl_path;
	fresh.no_ctl = old->no_ctl;
	fresh.redis_url = old->redis_url;
	fresh.redis_key = old->redis_key;
	if (!hub->tls) {
		fresh.tls_cert = NULL;
		fresh.tls_key = NULL;
	}
	hub->retired = sio_xrealloc(hub->retired, (hub->nretired + 1) * sizeof *hub->retired);
	hub->retired[hub->nretired++] = *old;
	hub->cfg = fresh;
	sio_log_setlevel(fresh.log_level);
	apply_metrics(hub);
	apply_max_clients(hub);
	sio_log_info("SIGHUP: settings reloaded");
	sd_notify(0, "READY=1\nSTATUS=settings reloaded");
}

static void
sighup_cb(EV_P_ ev_signal *w, int revents)
{
	(void)EV_A;
	(void)revents;
	reload(w->data);
}

struct sio_hub *
sio_hub_new(const struct sio_hub_config *cfg, char *err)
{
	struct sio_hub *hub = sio_xcalloc(1, sizeof *hub);

	hub->cfg = *cfg;
	hub->loop = EV_DEFAULT;
	signal(SIGPIPE, SIG_IGN);
	hub->lfd = sio_net_listen_tcp(cfg->bind, cfg->port, err);
	if (hub->lfd < 0) {
		free(hub);
		return NULL;
	}
	if (cfg->port == 0) {
		/* Port 0: the kernel chose; say which. */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(hub->lfd, (struct sockaddr *)&ss, &sl) == 0)
			hub->cfg.port = ntohs(ss.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port);
	}
	/* Each step may fail; what the earlier ones made is undone at fail. */
	if (cfg->static_dir && !(hub->files = sio_files_new(cfg->static_dir, err)))
		goto fail;
	if (cfg->tls_cert && !(hub->tls = sio_tls_new(cfg->tls_cert, cfg->tls_key, err)))
		goto fail;
	hub->jwt = load_jwt(cfg, err);
	if (!hub->jwt && err[0])
		goto fail;
	if (sio_crypto_warm() != SIO_OK) {
		snprintf(err, SIO_ERRLEN, "the system's randomness failed: %s", strerror(errno));
		goto fail;
	}
	if (!(hub->sio = sio_server_new(hub, err)))
		goto fail;
	if (!cfg->no_ctl) {
		hub->ctl_path = sio_ctl_path(cfg->ctl_path);
		if (!(hub->ctl = sio_ctl_new(hub, hub->sio, hub->ctl_path, err)))
			goto fail;
	}
	if (cfg->redis_url &&
	    !(hub->redis = sio_redis_new(hub, hub->sio, cfg->redis_url, cfg->redis_key, err)))
		goto fail;
	if (hub->redis && hub->ctl)
		sio_redis_on_line(hub->redis, sio_ctl_cluster_line, hub->ctl);
	hub->eio = sio_eio_server_new(hub, cfg->path, &sio_server_eio_handler, hub->sio);
	if (cfg->engine_echo)
		hub->echo = sio_eio_server_new(hub, cfg->engine_echo, &echo_handler, NULL);

	ev_io_init(&hub->accept_io, accept_cb, hub->lfd, EV_READ);
	ev_io_start(hub->loop, &hub->accept_io);
	ev_timer_init(&hub->accept_retry, accept_retry_cb, 0.5, 0.);
	ev_timer_init(&hub->trim_timer, trim_cb, 0.5, 0.);
	ev_prepare_init(&hub->prepare, prepare_cb);
	ev_set_priority(&hub->prepare, EV_MAXPRI);
	ev_prepare_start(hub->loop, &hub->prepare);
	ev_signal_init(&hub->sigint, signal_cb, SIGINT);
	ev_signal_init(&hub->sigterm, signal_cb, SIGTERM);
	hub->sigint.data = hub->sigterm.data = hub;
	ev_signal_start(hub->loop, &hub->sigint);
	ev_signal_start(hub->loop, &hub->sigterm);
	ev_signal_init(&hub->sighup, sighup_cb, SIGHUP);
	hub->sighup.data = hub;
	ev_signal_start(hub->loop, &hub->sighup);
	hub->started = ev_now(hub->loop);
	apply_metrics(hub);
	apply_max_clients(hub);
	return hub;
fail:
	sio_ctl_free(hub->ctl);
	free(hub->ctl_path);
	sio_server_free(hub->sio);
	sio_jwt_free(hub->jwt);
	sio_tls_free(hub->tls);
	sio_files_free(hub->files);
	close(hub->lfd);
	free(hub);
	return NULL;
}

int
sio_hub_check_config(const struct sio_hub_config *cfg, char *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;

	int rc = getaddrinfo(cfg->bind, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, SIO_ERRLEN, "bind: cannot resolve %s: %s", cfg->bind, gai_strerror(rc));
		return SIO_EINVAL;
	}
	freeaddrinfo(res);
	if (cfg->static_dir) {
		struct sio_files *f = sio_files_new(cfg->static_dir, err);
		if (!f)
			return SIO_EINVAL;
		sio_files_free(f);
	}
	if (cfg->tls_cert) {
		struct sio_tls *t = sio_tls_new(cfg->tls_cert, cfg->tls_key, err);
		if (!t)
			return SIO_EINVAL;
		sio_tls_free(t);
	}
	struct sio_jwt *v = load_jwt(cfg, err);
	if (!v && err[0])
		return SIO_EINVAL;
	sio_jwt_free(v);
	return SIO_OK;
}

int
sio_hub_run(struct sio_hub *hub)
{
	sio_log_info("listening on %s://%s%s%s:%d%s", hub->tls ? "https" : "http", strchr(hub->cfg.bind, ':') ? "[" : "",
	    hub->cfg.bind, strchr(hub->cfg.bind, ':') ? "]" : "", hub->cfg.port, hub->cfg.path);
	if (hub->ctl)
		sio_log_info("control socket %s", hub->ctl_path);
	/* Under systemd (Type=notify): ready once listening; a no-op elsewhere. */
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s:%d%s\nMAINPID=%lu", hub->cfg.bind,
	    hub->cfg.port, hub->cfg.path, (unsigned long)getpid());
	ev_run(hub->loop, 0);
	return 0;
}

void
sio_hub_free(struct sio_hub *hub)
{
	if (!hub)
		return;
	sio_redis_free(hub->redis);
	hub->redis = NULL;	/* ctl_free asks for it */
	sio_ctl_free(hub->ctl);
	free(hub->ctl_path);
	sio_files_free(hub->files);
	sio_tls_free(hub->tls);
	sio_jwt_free(hub->jwt);
	sio_eio_server_free(hub->echo);
	sio_eio_server_free(hub->eio);
	sio_server_free(hub->sio);
	/* Run the reaper once more for what the last turn closed. */
	prepare_cb(hub->loop, &hub->prepare, 0);
	if (hub->lfd >= 0)
		close(hub->lfd);
	free(hub->defer);
	struct sio_ipslot *slot, *tmp;
	HASH_ITER(hh, hub->ips, slot, tmp) {
		HASH_DEL(hub->ips, slot);
		free(slot);
	}
	for (size_t i = 0; i < hub->nretired; i++)
		sio_hub_config_free(&hub->retired[i]);
	free(hub->retired);
	sio_hub_config_free(&hub->cfg);
	free(hub);
}
