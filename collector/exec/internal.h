/*
 * exec/internal.h: what the runner's files share and nothing else sees.
 */
#ifndef NETINV_EXEC_INTERNAL_H
#define NETINV_EXEC_INTERNAL_H

#include <stdbool.h>
#include <sys/stat.h>

/* Owned by root and writable by nobody else: the only kind of file that may open a gate. */
bool exec_root_only(const struct stat *st);

#endif
