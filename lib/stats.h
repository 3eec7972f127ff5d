/*
 * stats: the hub's counters, and /health and /metrics (Prometheus text
 * format 0.0.4) built from them and from the gauges each module reports.
 * Counters are plain integers bumped where things happen: one thread.
 */
#ifndef SIO_STATS_H
#define SIO_STATS_H

#include <stdint.h>

struct sio_hub;
struct sio_conn;

struct sio_stats {
	uint64_t connections;		/* TCP connections accepted */
	uint64_t refused;		/* closed at once: over a connection limit */
	uint64_t sessions;		/* Engine.IO sessions opened */
	uint64_t events_in;		/* events and acks received from clients */
	uint64_t packets_out;		/* Socket.IO packets queued to sockets, per recipient */
	uint64_t bytes_in;		/* read from client connections */
	uint64_t bytes_out;		/* written to client connections */
	uint64_t listener_drops;	/* events a slow listener missed */
	uint64_t slow_disconnects;	/* clients dropped over the output limit */
	uint64_t volatile_drops;	/* volatile packets skipped for a lagging client */
	uint64_t ctl_requests;		/* control-socket request lines */
	uint64_t ctl_errors;		/* of which answered with an error */
};

struct sio_stats *sio_hub_stats(struct sio_hub *hub);

/* Answers GET /health or GET /metrics on c. */
void sio_stats_health(struct sio_hub *hub, struct sio_conn *c);
void sio_stats_metrics(struct sio_hub *hub, struct sio_conn *c);

#endif
