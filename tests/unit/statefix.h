/* A cmocka fixture for tests of files in the state directory: a scratch directory opened as the
 * state directory (exclusive lock) before each test, closed and removed after it. */
#ifndef NETINV_STATEFIX_H
#define NETINV_STATEFIX_H

#include "testutil.h"
#include "../../collector/state.h"

static char dir[64];
static struct state_dir sd;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (scratch_make(dir, sizeof(dir), "state") < 0)
		return -1;
	return state_open(&sd, dir, true, true, err, sizeof(err)) == STATE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	state_close(&sd);
	return scratch_remove(dir);
}

#endif
