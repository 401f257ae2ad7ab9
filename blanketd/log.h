/* log.h - one-line messages to stderr (the journal, under systemd). */
#ifndef BLANKETD_LOG_H
#define BLANKETD_LOG_H

#include "config.h"

extern enum bl_log_level log_level;

void log_msg(enum bl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(BL_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(BL_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(BL_LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_level >= BL_LOG_DEBUG) log_msg(BL_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
