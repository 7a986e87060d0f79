/*
 * log: one line per event on stderr. Under journald (stderr is the stream $JOURNAL_STREAM names:
 * its device and inode match) each line carries a <N> syslog priority prefix so `journalctl -p`
 * filters work; otherwise "netinv: level: message". The run's summary is one line too, with its
 * figures as key=value pairs; under journald it goes to the journal as one entry whose figures are
 * fields of their own (NETINV_LINKS=...), so `journalctl -o json` hands them to a machine.
 * Only collector/ logs; library modules return errors and counts.
 */
#ifndef NETINV_LOG_H
#define NETINV_LOG_H

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6,
		 LOG_LVL_DEBUG = 7 };

void log_setup(enum log_level max);
int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One figure of the summary: key (lowercase, [a-z_]) and its value as text. */
struct log_field {
	const char *key;
	char value[128];
};
/* The run's summary: message, then " [k=v k=v ...]"; under journald one journal entry with
 * MESSAGE and a NETINV_<KEY> field per figure (falling back to the stderr line). */
void log_summary(const char *message, const struct log_field *f, unsigned n);
/* Is stderr the journal's stream (JOURNAL_STREAM's device:inode)? */
int log_journald(void);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
