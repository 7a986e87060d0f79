/* The command journal: what makes a server-sent command run at most once across crashes. Round
 * trips, every truncation and every bit flip refused (and a damaged file moved aside, never
 * trusted), a run that stopped mid-command reported as interrupted, the results' size limit, and
 * the bound on remembered ids. */
#include "statefix.h"
#include "../../collector/exec/cmdlog.h"
#include "../../collector/state.h"
#include "../../report/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void fill(struct cmdlog *l)
{
	struct cmd_entry *e;

	memset(l, 0, sizeof(*l));
	e = cmdlog_add(l, "c-1", "echo");
	e->status = CMD_COMPLETED;
	e->exit_code = 3;
	e->duration_ms = 12;
	e->out = strdup("hello\n");
	e->out_len = 6;
	e->err = malloc(3);
	memcpy(e->err, "\xff\x00z", 3); /* binary, with a NUL */
	e->err_len = 3;
	e->err_trunc = true;
	e = cmdlog_add(l, "c-2", "nope");
	cmd_entry_reason(e, CMD_REFUSED, "'%s' is not in the allowlist", "nope");
	e = cmdlog_add(l, "c-3", "sleepy");
	e->status = CMD_STARTED;
}

static void test_roundtrip(void **state)
{
	struct cmdlog l, m;
	const char *why = NULL;
	char *buf;
	size_t len;

	(void)state;
	fill(&l);
	assert_int_equal(cmdlog_encode(&l, &buf, &len), 0);
	assert_int_equal(cmdlog_decode(&m, buf, len, &why), 0);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.v[0].id, "c-1");
	assert_int_equal(m.v[0].exit_code, 3);
	assert_int_equal(m.v[0].err_len, 3);
	assert_memory_equal(m.v[0].err, "\xff\x00z", 3);
	assert_true(m.v[0].err_trunc);
	assert_false(m.v[0].out_trunc);
	assert_int_equal(m.v[1].status, CMD_REFUSED);
	assert_string_equal(m.v[1].reason, "'nope' is not in the allowlist");
	assert_int_equal(m.v[2].status, CMD_STARTED);
	cmdlog_free(&m);
	free(buf);
	cmdlog_free(&l);
}

static void test_every_truncation_and_flip(void **state)
{
	struct cmdlog l, m;
	const char *why;
	char *buf;
	size_t len;

	(void)state;
	fill(&l);
	assert_int_equal(cmdlog_encode(&l, &buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		why = NULL;
		assert_int_equal(cmdlog_decode(&m, buf, n, &why), -EBADMSG);
		assert_non_null(why);
		assert_int_equal(m.n, 0);
	}
	for (size_t i = 0; i < len; i++)
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (char)(1 << b);
			assert_int_equal(cmdlog_decode(&m, buf, len, &why), -EBADMSG);
			buf[i] ^= (char)(1 << b);
		}
	free(buf);
	cmdlog_free(&l);
}

static void test_duplicate_id_refused(void **state)
{
	struct cmdlog l = {0}, m;
	const char *why = NULL;
	char *buf;
	size_t len;

	(void)state;
	cmdlog_add(&l, "same", "a")->status = CMD_REFUSED;
	cmdlog_add(&l, "same", "b")->status = CMD_REFUSED;
	assert_int_equal(cmdlog_encode(&l, &buf, &len), 0);
	assert_int_equal(cmdlog_decode(&m, buf, len, &why), -EBADMSG);
	assert_string_equal(why, "an id appears twice");
	free(buf);
	cmdlog_free(&l);
}

static void test_load_marks_interrupted(void **state)
{
	struct cmdlog l, m;
	char err[512];

	(void)state;
	fill(&l);
	assert_int_equal(cmdlog_save(&l, &sd), 0);
	cmdlog_free(&l);
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), 0);
	assert_int_equal(m.n, 3);
	/* the run that recorded c-3 stopped before its result: it is reported, never re-run */
	assert_int_equal(m.v[2].status, CMD_INTERRUPTED);
	assert_non_null(strstr(m.v[2].reason, "not run again"));
	assert_non_null(cmdlog_find(&m, "c-3"));
	assert_int_equal(cmdlog_pending_results(&m), 3);
	cmdlog_free(&m);
}

static void test_damaged_moved_aside(void **state)
{
	struct cmdlog l, m;
	char err[512], p[128];
	struct stat st;
	int fd;

	(void)state;
	fill(&l);
	assert_int_equal(cmdlog_save(&l, &sd), 0);
	cmdlog_free(&l);
	snprintf(p, sizeof(p), "%s/%s", dir, CMDLOG_FILE);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 30), 1);
	close(fd);
	/* read-only (netinv status): reported, left where it is */
	assert_int_equal(cmdlog_load(&m, &sd, false, err, sizeof(err)), -1);
	assert_true(m.damaged);
	assert_int_equal(stat(p, &st), 0);
	cmdlog_free(&m);
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), -1);
	assert_true(m.damaged);
	assert_true(m.quarantined);
	assert_non_null(strstr(err, "damaged (checksum mismatch)"));
	assert_non_null(strstr(err, "3 command ids recovered and kept"));
	assert_non_null(strstr(err, "refused until an operator removes"));
	assert_null(strchr(err, '\n'));
	cmdlog_free(&m);
	snprintf(p, sizeof(p), "%s/%s.damaged", dir, CMDLOG_FILE);
	assert_int_equal(stat(p, &st), 0); /* kept for a look, not deleted */
	/* the next run: the recovered ids are there, and commands stay refused */
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), 0);
	assert_true(m.quarantined);
	assert_non_null(strstr(err, "commands are refused: the command journal was damaged"));
	assert_int_equal(m.n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(m.v[i].status, CMD_INTERRUPTED);
		assert_true(m.v[i].delivered);
	}
	cmdlog_free(&m);
	/* the operator removes the damaged file: commands again, the recovered ids never */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), 0);
	assert_false(m.quarantined);
	assert_non_null(cmdlog_find(&m, "c-1"));
	assert_non_null(cmdlog_find(&m, "c-3"));
	cmdlog_free(&m);
}

/* One byte of a journal damaged, at every offset in turn: at most once holds. Commands are refused
 * until the damaged file is removed, and afterwards no id of the journal can run again: all of
 * them are recovered but, at most, the one whose own bytes were hit. */
static void test_every_byte_damaged_fails_closed(void **state)
{
	struct cmdlog l;
	char *img, p[128], err[512], ids[8][16];
	size_t len;
	const unsigned n = 8;

	(void)state;
	memset(&l, 0, sizeof(l));
	for (unsigned i = 0; i < n; i++) {
		struct cmd_entry *e;

		snprintf(ids[i], sizeof(ids[i]), "id-%u", i * 7919);
		e = cmdlog_add(&l, ids[i], "mark");
		e->status = (uint8_t)(i % 2 ? CMD_COMPLETED : CMD_STARTED);
		e->delivered = i % 3 == 0;
		e->out = strdup("some output\n");
		e->out_len = 12;
	}
	assert_int_equal(cmdlog_encode(&l, &img, &len), 0);
	cmdlog_free(&l);
	snprintf(p, sizeof(p), "%s/%s", dir, CMDLOG_FILE);
	for (size_t off = 0; off < len; off++) {
		struct cmdlog m;
		char damaged[160];
		unsigned missing = 0;
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		img[off] ^= 0x5a;
		assert_int_equal(write(fd, img, len), (ssize_t)len);
		img[off] ^= 0x5a;
		close(fd);
		assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), -1);
		assert_true(m.quarantined);
		cmdlog_free(&m);
		/* refused on every later run while the damaged file is there */
		assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), 0);
		assert_true(m.quarantined);
		cmdlog_free(&m);
		snprintf(damaged, sizeof(damaged), "%s.damaged", p);
		assert_int_equal(unlink(damaged), 0);
		assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), 0);
		assert_false(m.quarantined);
		for (unsigned i = 0; i < n; i++) {
			const struct cmd_entry *e = cmdlog_find(&m, ids[i]);

			if (!e)
				missing++;
			else
				assert_true(e->status != CMD_STARTED);
		}
		if (missing > 1)
			fail_msg("a flip at offset %zu lost %u ids", off, missing);
		cmdlog_free(&m);
	}
	free(img);
}

/* A journal larger than the limits let one grow is damaged: moved aside, never read in. */
static void test_oversized_journal(void **state)
{
	struct cmdlog m;
	char err[512], p[128];
	struct stat st;
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/%s", dir, CMDLOG_FILE);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)CMDLOG_MAX_FILE + 1), 0); /* sparse */
	close(fd);
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), -1);
	assert_true(m.damaged);
	assert_non_null(strstr(err, "damaged (larger than 64 MiB)"));
	assert_int_equal(stat(p, &st), -1);
	cmdlog_free(&m);
}

static void test_symlinked_journal_refused(void **state)
{
	struct cmdlog m;
	char err[512], p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/%s", dir, CMDLOG_FILE);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(cmdlog_load(&m, &sd, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, CMDLOG_FILE));
	assert_false(m.damaged);
	cmdlog_free(&m);
}

struct cap {
	char *b;
	size_t n;
};

static int cap_sink(void *ctx, const void *p, size_t n)
{
	struct cap *c = ctx;

	c->b = realloc(c->b, c->n + n + 1);
	memcpy(c->b + c->n, p, n);
	c->n += n;
	c->b[c->n] = 0;
	return 0;
}

static cJSON *results_json(struct cmdlog *l, size_t limit, uint8_t *incl, unsigned *n)
{
	struct json_w w;
	struct cap c = {0};
	char buf[4096];
	cJSON *j;

	json_init(&w, buf, sizeof(buf), cap_sink, &c, false);
	json_obj_begin(&w);
	*n = cmdlog_write_results(&w, l, limit, incl);
	json_obj_end(&w);
	assert_int_equal(json_finish(&w), 0);
	j = cJSON_Parse(c.b);
	assert_non_null(j);
	if (limit)
		assert_true(c.n <= limit + 64);
	free(c.b);
	return j;
}

static void test_results_fit_and_deliver(void **state)
{
	struct cmdlog l = {0};
	uint8_t incl[8] = {0};
	unsigned n;
	cJSON *j, *a, *r0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		char id[16];
		struct cmd_entry *e;

		snprintf(id, sizeof(id), "b%d", i);
		e = cmdlog_add(&l, id, "big");
		e->status = CMD_COMPLETED;
		e->exit_code = 0;
		e->out_len = 20000;
		e->out = malloc(e->out_len);
		memset(e->out, 'x', e->out_len);
	}
	/* 30000 bytes: the first result fits, the second does not and waits */
	j = results_json(&l, 30000, incl, &n);
	assert_int_equal(n, 1);
	a = cJSON_GetObjectItem(j, "command_results");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	r0 = cJSON_GetArrayItem(a, 0);
	assert_string_equal(cJSON_GetObjectItem(r0, "id")->valuestring, "b0");
	assert_int_equal(strlen(cJSON_GetObjectItem(r0, "stdout")->valuestring), 20000);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r0, "stdout_truncated")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(r0, "signal")));
	cJSON_Delete(j);
	assert_int_equal(incl[0], 1);
	assert_int_equal(incl[1], 0);
	cmdlog_delivered(&l, incl);
	assert_true(l.v[0].delivered);
	assert_null(l.v[0].out);
	assert_int_equal(cmdlog_pending_results(&l), 2);
	/* a single result larger than the limit is cut to fit and says so */
	memset(incl, 0, sizeof(incl));
	j = results_json(&l, 5000, incl, &n);
	assert_int_equal(n, 1);
	r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "command_results"), 0);
	assert_string_equal(cJSON_GetObjectItem(r0, "id")->valuestring, "b1");
	assert_true(strlen(cJSON_GetObjectItem(r0, "stdout")->valuestring) < 5000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r0, "stdout_truncated")));
	cJSON_Delete(j);
	cmdlog_free(&l);
}

/* A server sending commands faster than check-ins carry the results away is held off: the journal
 * stays far below what it can hold. */
static void test_backlog(void **state)
{
	struct cmdlog l = {0};
	struct cmd_entry *e;
	uint8_t *incl;

	(void)state;
	for (int i = 0; i < CMDLOG_MAX_PENDING - 1; i++) {
		char id[16];

		snprintf(id, sizeof(id), "p%d", i);
		cmdlog_add(&l, id, "n")->status = CMD_REFUSED;
	}
	cmdlog_add(&l, "running", "n"); /* started, no result yet: not counted */
	assert_false(cmdlog_backlogged(&l));
	cmdlog_add(&l, "one-more", "n")->status = CMD_COMPLETED;
	assert_true(cmdlog_backlogged(&l));
	incl = calloc(l.n, 1);
	memset(incl, 1, 10);
	cmdlog_delivered(&l, incl);
	assert_false(cmdlog_backlogged(&l));
	free(incl);
	/* a few huge outputs count too */
	e = cmdlog_add(&l, "huge", "n");
	e->status = CMD_COMPLETED;
	e->out_len = CMDLOG_MAX_PENDING_BYTES;
	assert_true(cmdlog_backlogged(&l));
	e->out_len = 0;
	cmdlog_free(&l);
}

static void test_delivered_ids_bounded(void **state)
{
	struct cmdlog l = {0};
	uint8_t *incl;

	(void)state;
	for (int i = 0; i < CMDLOG_KEEP_IDS + 10; i++) {
		char id[16];

		snprintf(id, sizeof(id), "k%d", i);
		cmdlog_add(&l, id, "n")->status = CMD_REFUSED;
	}
	incl = calloc(l.n, 1);
	memset(incl, 1, l.n);
	cmdlog_delivered(&l, incl);
	assert_int_equal(l.n, CMDLOG_KEEP_IDS);
	assert_null(cmdlog_find(&l, "k0"));	   /* the oldest are forgotten */
	assert_non_null(cmdlog_find(&l, "k1033")); /* the newest remembered */
	free(incl);
	cmdlog_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_every_truncation_and_flip),
	    cmocka_unit_test(test_duplicate_id_refused),
	    cmocka_unit_test_setup_teardown(test_load_marks_interrupted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_moved_aside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_byte_damaged_fails_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlinked_journal_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_journal, setup, teardown),
	    cmocka_unit_test(test_results_fit_and_deliver),
	    cmocka_unit_test(test_backlog),
	    cmocka_unit_test(test_delivered_ids_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
