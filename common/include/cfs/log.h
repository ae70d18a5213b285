/* Logging: one line per event, key=value fields, to stderr.
 *
 *   cfs_log_warn("osd read failed", "osd=%u chunk=%lx rc=%d", id, c, rc);
 *
 * prints
 *
 *   ts=2026-11-24T10:00:00.123Z level=warn daemon=osd msg="osd read failed" osd=3 ...
 */
#ifndef CFS_LOG_H
#define CFS_LOG_H

enum cfs_log_level {
	CFS_LOG_DEBUG,
	CFS_LOG_INFO,
	CFS_LOG_WARN,
	CFS_LOG_ERROR,
};

/* Set once from main() before threads start. */
void cfs_log_init(const char *daemon, enum cfs_log_level level);
/* Parse "debug", "info", "warn" or "error"; -EINVAL otherwise. */
int cfs_log_parse_level(const char *s, enum cfs_log_level *out);

void cfs_log(enum cfs_log_level level, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define cfs_log_debug(msg, ...) cfs_log(CFS_LOG_DEBUG, msg, __VA_ARGS__)
#define cfs_log_info(msg, ...) cfs_log(CFS_LOG_INFO, msg, __VA_ARGS__)
#define cfs_log_warn(msg, ...) cfs_log(CFS_LOG_WARN, msg, __VA_ARGS__)
#define cfs_log_error(msg, ...) cfs_log(CFS_LOG_ERROR, msg, __VA_ARGS__)

#endif
