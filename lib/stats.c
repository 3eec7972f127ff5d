#include "stats.h"
#include "redis.h"
#include "conn.h"
#include "ctl.h"
#include "eio.h"
#include "hub.h"
#include "sio.h"

#include <stdio.h>
#include <string.h>

static void
answer(struct sio_conn *c, int status, const char *ctype, struct sio_buf *b)
{
	sio_web_respond(c, status, ctype, "Cache-Control: no-store\r\n", b->data, b->len);
	sio_web_response_done(c);
	sio_buf_free(b);
}

struct nsp_totals {
	size_t sockets;
	struct sio_buf *b;
};

static void
count_sockets(const char *nsp, size_t sockets, size_t rooms, void *arg)
{
	struct nsp_totals *t = arg;
	(void)nsp;
	(void)rooms;
	t->sockets += sockets;
}

void
sio_stats_health(struct sio_hub *hub, struct sio_conn *c)
{
	struct sio_buf b = SIO_BUF_INIT;
	size_t polling, websocket;
	struct nsp_totals t = { 0, NULL };
	bool stopping = sio_hub_stopping(hub);

	sio_eio_count_transports(sio_hub_eio(hub), &polling, &websocket);
	sio_server_each_nsp(sio_hub_sio(hub), count_sockets, &t);
	sio_buf_printf(&b, "{\"status\":\"%s\",\"uptime_s\":%.0f,\"sessions\":%zu,\"sockets\":%zu}\n",
	    stopping ? "stopping" : "ok", sio_hub_uptime(hub), polling + websocket, t.sockets);
	/* A load balancer takes a hub that is stopping out of rotation. */
	answer(c, stopping ? 503 : 200, "application/json", &b);
}

static void
metric(struct sio_buf *b, const char *name, const char *type, const char *help)
{
	sio_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(struct sio_buf *b, const char *name, const char *help, uint64_t v)
{
	metric(b, name, "counter", help);
	sio_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
gauge(struct sio_buf *b, const char *name, const char *help, double v)
{
	metric(b, name, "gauge", help);
	sio_buf_printf(b, "%s %.0f\n", name, v);
}

/* A label value: backslash, quote and newline escaped. */
static void
label(struct sio_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sio_buf_addc(b, '\\');
		if (*v == '\n') {
			sio_buf_adds(b, "\\n");
			continue;
		}
		sio_buf_addc(b, *v);
	}
}

static void
nsp_sockets(const char *nsp, size_t sockets, size_t rooms, void *arg)
{
	struct nsp_totals *t = arg;
	(void)rooms;
	sio_buf_adds(t->b, "sio_sockets{namespace=\"");
	label(t->b, nsp);
	sio_buf_printf(t->b, "\"} %zu\n", sockets);
}

static void
nsp_rooms(const char *nsp, size_t sockets, size_t rooms, void *arg)
{
	struct nsp_totals *t = arg;
	(void)sockets;
	sio_buf_adds(t->b, "sio_rooms{namespace=\"");
	label(t->b, nsp);
	sio_buf_printf(t->b, "\"} %zu\n", rooms);
}

void
sio_stats_metrics(struct sio_hub *hub, struct sio_conn *c)
{
	const struct sio_stats *s = sio_hub_stats(hub);
	struct sio_buf b = SIO_BUF_INIT;
	size_t polling, websocket, clients, subscribers;
	struct nsp_totals t = { 0, &b };

	sio_eio_count_transports(sio_hub_eio(hub), &polling, &websocket);
	sio_ctl_counts(sio_hub_ctl(hub), &clients, &subscribers);
	metric(&b, "sio_connections", "gauge", "Engine.IO sessions by transport.");
	sio_buf_printf(&b, "sio_connections{transport=\"polling\"} %zu\n", polling);
	sio_buf_printf(&b, "sio_connections{transport=\"websocket\"} %zu\n", websocket);
	metric(&b, "sio_sockets", "gauge", "Socket.IO sockets by namespace.");
	sio_server_each_nsp(sio_hub_sio(hub), nsp_sockets, &t);
	metric(&b, "sio_rooms", "gauge", "Rooms by namespace, including each socket's own.");
	sio_server_each_nsp(sio_hub_sio(hub), nsp_rooms, &t);
	gauge(&b, "sio_control_clients", "Control-socket clients.", (double)clients);
	gauge(&b, "sio_listeners", "Control clients subscribed to events.", (double)subscribers);
	counter(&b, "sio_tcp_connections_total", "TCP connections accepted.", s->connections);
	counter(&b, "sio_refused_connections_total",
	    "TCP connections refused over --max-connections or --max-connections-per-ip.",
	    s->refused);
	counter(&b, "sio_sessions_total", "Engine.IO sessions opened.", s->sessions);
	counter(&b, "sio_events_in_total", "Events and acks received from clients.", s->events_in);
	counter(&b, "sio_packets_out_total", "Socket.IO packets sent, one per recipient.",
	    s->packets_out);
	counter(&b, "sio_bytes_in_total", "Bytes read from clients.", s->bytes_in);
	counter(&b, "sio_bytes_out_total", "Bytes written to clients.", s->bytes_out);
	counter(&b, "sio_listener_drops_total", "Events slow listeners missed.", s->listener_drops);
	counter(&b, "sio_slow_consumer_disconnects_total",
	    "Clients dropped over the output limits (--max-output, --max-output-soft).", s->slow_disconnects);
	counter(&b, "sio_volatile_drops_total", "Volatile packets skipped for lagging clients.",
	    s->volatile_drops);
	counter(&b, "sio_control_requests_total", "Control-socket requests.", s->ctl_requests);
	counter(&b, "sio_control_errors_total", "Control-socket requests refused.", s->ctl_errors);
	const struct sio_redis *redis = sio_hub_redis(hub);
	if (redis) {
		const struct sio_redis_stats *r = sio_redis_stats(redis);
		gauge(&b, "sio_redis_up", "1 while both Redis connections are up (--redis).",
		    r->up ? 1 : 0);
		gauge(&b, "sio_redis_pending_bytes", "Bytes published and not yet answered by Redis.",
		    (double)r->pending);
		counter(&b, "sio_redis_published_total", "Messages published to the cluster.",
		    r->published);
		counter(&b, "sio_redis_received_total",
		    "Broadcasts from other servers delivered here.", r->received);
		counter(&b, "sio_redis_lost_total",
		    "Messages not published: Redis away or too far behind.", r->lost);
		counter(&b, "sio_redis_reconnects_total", "Attempts to reconnect to Redis.",
		    r->reconnects);
	}
	gauge(&b, "sio_uptime_seconds", "Seconds since the hub started.", sio_hub_uptime(hub));
	answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
