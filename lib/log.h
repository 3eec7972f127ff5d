/*
 * log: one line per event of note on stderr, "prog: level: message".
 * The daemon leaves files and rotation to its supervisor.
 */
#ifndef SIO_LOG_H
#define SIO_LOG_H

enum sio_log_level { SIO_LOG_ERROR, SIO_LOG_WARN, SIO_LOG_INFO, SIO_LOG_DEBUG };

void sio_log_setprog(const char *prog);
void sio_log_setlevel(int level);	/* clamped to the enum's range */
int sio_log_level(void);
void sio_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A usage error, the way every tool reports it: "prog: <message>" and
 * "Try 'prog --help'." on stderr. Returns 64 (EX_USAGE) for the caller
 * to exit with; the library itself never exits.
 */
int sio_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define sio_log_error(...) sio_log(SIO_LOG_ERROR, __VA_ARGS__)
#define sio_log_warn(...) sio_log(SIO_LOG_WARN, __VA_ARGS__)
#define sio_log_info(...) sio_log(SIO_LOG_INFO, __VA_ARGS__)
#define sio_log_debug(...) do { if (sio_log_level() >= SIO_LOG_DEBUG) sio_log(SIO_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
