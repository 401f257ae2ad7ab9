/* log.c - see log.h.  The "<N>" prefixes are sd-daemon(3) priorities, which
 * journald turns into levels; on a terminal they are harmless. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

enum bl_log_level log_level = BL_LOG_INFO;

void log_msg(enum bl_log_level lvl, const char *fmt, ...)
{
	static const char *const prio[] = { "<3>", "<4>", "<6>", "<7>" };
	va_list ap;

	if (lvl > log_level)
		return;
	fputs(prio[lvl], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
