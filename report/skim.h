/*
 * skim: reads a server reply as it arrives and keeps only the members netinv uses, in a
 * caller-owned buffer of fixed size, while checking that the whole reply is well-formed JSON.
 *
 * Why: a Graphēon server echoes every address of an accepted report three times in its reply
 * (summary.ip_addresses_seen, checkin.summary, agent.last_ip_addresses; shared/PROTOCOL.md), so the
 * reply grows with what was sent. Buffering it whole ties memory to the reply's size; capping the
 * buffer made busy hosts fail on every check-in the server had in fact stored. The skimmer's memory
 * is the output buffer plus a small stack, whatever the reply's size; what it drops is still
 * validated byte by byte, so a reply that is not JSON is never half-read as if it were.
 *
 * Rules name the top-level members to keep: SKIM_WHOLE copies the value; SKIM_SCALARS copies an
 * object's scalar members and drops its nested arrays and objects (agent, checkin); a non-zero
 * max_items keeps only the first items of an array and counts the rest in `dropped`. Members no rule
 * names are dropped. The output is compact JSON for cJSON_ParseWithLength. A top-level value that is
 * not an object is kept whole (the caller then says "not a JSON object").
 */
#ifndef NETINV_SKIM_H
#define NETINV_SKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKIM_MAX_DEPTH 32
#define SKIM_KEY_MAX 64

enum skim_keep { SKIM_WHOLE = 1, SKIM_SCALARS };

struct skim_rule {
	const char *key;
	enum skim_keep keep;
	unsigned max_items;     /* arrays: items kept, 0 = all */
};

struct skim {
	/* set by skim_init */
	const struct skim_rule *rules;
	unsigned n_rules;
	char *out;
	size_t cap, len;
	/* results */
	const char *err;        /* NULL, or what is wrong with the reply (static text) */
	uint64_t in;            /* bytes fed */
	unsigned dropped[8];    /* per rule (first 8): array items over max_items */
	/* lexer state */
	int st, sub;
	unsigned depth;
	struct skim_frame {
		uint8_t obj;        /* object, else array */
		uint8_t mode;       /* 0 drop, SKIM_WHOLE, SKIM_SCALARS, or 3: the top-level object */
		uint8_t emitted;    /* something was written inside */
		int8_t rule;        /* top-level member's rule index, -1 none */
		unsigned items;     /* arrays: items seen; the top-level object: a bit per rule seen */
	} stack[SKIM_MAX_DEPTH];
	bool val_kept;          /* the value being read is copied */
	bool key_kept;          /* the key being read fits key[] */
	unsigned key_len, uhex, uval;
	char key[SKIM_KEY_MAX];
};

void skim_init(struct skim *s, const struct skim_rule *rules, unsigned n_rules, char *out, size_t cap);
/* Feed the next bytes. 0, or -1 once the reply is known to be malformed or too large (s->err says
 * which); further bytes are then only counted. */
int skim_feed(struct skim *s, const char *p, size_t n);
/* The reply ended: 0 when it was one complete JSON value, -1 otherwise (s->err). */
int skim_finish(struct skim *s);

#endif
