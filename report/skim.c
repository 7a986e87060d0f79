#include "skim.h"

#include <string.h>

enum {
	ST_VALUE,        /* a value is due */
	ST_VALUE_OR_END, /* after '[': a value or ']' */
	ST_KEY_OR_END,   /* after '{': a key or '}' */
	ST_KEY,          /* after ',' in an object */
	ST_KEYSTR,       /* inside a key */
	ST_COLON,
	ST_STR,          /* inside a string value */
	ST_NUM,
	ST_LIT,          /* inside true / false / null */
	ST_AFTER,        /* after a value inside a container: ',' or its close */
	ST_DONE,         /* the top-level value is complete */
};

enum { M_DROP = 0, M_TOP = 3 };

void skim_init(struct skim *s, const struct skim_rule *rules, unsigned n_rules, char *out, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->rules = rules;
	s->n_rules = n_rules;
	s->out = out;
	s->cap = cap;
	s->st = ST_VALUE;
	if (cap)
		out[0] = 0;
}

static void fail(struct skim *s, const char *why)
{
	if (!s->err)
		s->err = why;
}

static void put(struct skim *s, const char *p, size_t n)
{
	if (s->len + n >= s->cap) { /* one byte kept for the terminating NUL */
		fail(s, "the members netinv reads do not fit the reply buffer");
		return;
	}
	memcpy(s->out + s->len, p, n);
	s->len += n;
	s->out[s->len] = 0;
}

static int rule_of(const struct skim *s)
{
	if (!s->key_kept)
		return -1;
	for (unsigned i = 0; i < s->n_rules; i++)
		if (strlen(s->rules[i].key) == s->key_len && !memcmp(s->rules[i].key, s->key, s->key_len))
			return (int)i;
	return -1;
}

/* A value starts with byte c: decide whether it is copied, write what precedes it (separator and
 * key), and for a container push its frame. */
static void value_start(struct skim *s, char c)
{
	bool container = c == '{' || c == '[';
	struct skim_frame *pf = s->depth ? &s->stack[s->depth - 1] : NULL;
	uint8_t mode = M_DROP;
	int rule = -1;

	if (!pf) {
		mode = c == '{' ? M_TOP : SKIM_WHOLE;
	} else if (pf->mode == M_TOP) {
		rule = rule_of(s);
		if (rule >= 0) {
			/* the same member twice: parsers disagree on which one counts, so neither does */
			if (pf->items & (1u << (rule & 31))) {
				fail(s, "a member netinv reads appears twice");
				return;
			}
			pf->items |= 1u << (rule & 31);
			mode = (uint8_t)s->rules[rule].keep;
		}
	} else if (pf->mode == SKIM_WHOLE) {
		/* a key longer than key[] cannot be copied faithfully; netinv reads none such */
		mode = pf->obj && !s->key_kept ? M_DROP : SKIM_WHOLE;
		if (!pf->obj && pf->rule >= 0 && s->rules[pf->rule].max_items &&
		    pf->items++ >= s->rules[pf->rule].max_items) {
			mode = M_DROP;
			if (pf->rule < 8)
				s->dropped[pf->rule]++;
		}
	} else if (pf->mode == SKIM_SCALARS) {
		mode = container || (pf->obj && !s->key_kept) ? M_DROP : SKIM_WHOLE;
	}
	s->val_kept = mode != M_DROP;
	if (s->val_kept && pf) {
		if (pf->emitted)
			put(s, ",", 1);
		if (pf->obj) {
			put(s, "\"", 1);
			put(s, s->key, s->key_len);
			put(s, "\":", 2);
		}
		pf->emitted = 1;
	}
	if (container) {
		if (s->depth == SKIM_MAX_DEPTH) {
			fail(s, "the reply is nested deeper than 32 levels");
			return;
		}
		s->stack[s->depth++] = (struct skim_frame){ .obj = c == '{', .mode = mode, .rule = (int8_t)rule };
		s->st = c == '{' ? ST_KEY_OR_END : ST_VALUE_OR_END;
	}
	if (s->val_kept)
		put(s, &c, 1);
}

static void value_end(struct skim *s)
{
	s->st = s->depth ? ST_AFTER : ST_DONE;
}

static void close_container(struct skim *s, char c)
{
	struct skim_frame *f = &s->stack[s->depth - 1];

	if ((c == '}') != (f->obj == 1)) {
		fail(s, "a bracket does not match");
		return;
	}
	s->depth--;
	if (f->mode != M_DROP)
		put(s, &c, 1);
	value_end(s);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Inside a string (key or value): sub 0 plain, 1 after '\', 2..5 the \u digits. Returns true at
 * the closing quote. */
static bool string_byte(struct skim *s, char c, bool value)
{
	switch (s->sub) {
	case 0:
		if (c == '"')
			return true;
		if ((unsigned char)c < 0x20)
			fail(s, "a string holds a raw control character");
		else if (c == '\\')
			s->sub = 1;
		return false;
	case 1:
		if (c == 'u') {
			s->sub = 2;
			s->uval = 0;
		} else if (strchr("\"\\/bfnrt", c) && c) {
			s->sub = 0;
		} else {
			fail(s, "a string has an invalid escape");
		}
		return false;
	default:
		if (hexval(c) < 0) {
			fail(s, "a string has an invalid \\u escape");
			return false;
		}
		s->uval = s->uval * 16 + (unsigned)hexval(c);
		if (++s->sub == 6) {
			s->sub = 0;
			/* C strings end at NUL: a kept value with one would be read cut short */
			if (value && s->val_kept && s->uval == 0)
				fail(s, "a string holds a NUL character");
		}
		return false;
	}
}

/* Number grammar (RFC 8259): sub 0 start, 1 after '-', 2 integer digits, 3 a leading 0, 4 after
 * '.', 5 fraction digits, 6 after 'e', 7 after its sign, 8 exponent digits. Returns 1 consumed,
 * 0 the number ended before c, -1 malformed. */
static int number_byte(struct skim *s, char c)
{
	bool digit = c >= '0' && c <= '9';

	switch (s->sub) {
	case 0:
		if (c == '-') {
			s->sub = 1;
			return 1;
		}
		/* fall through */
	case 1:
		if (c == '0')
			s->sub = 3;
		else if (digit)
			s->sub = 2;
		else
			return -1;
		return 1;
	case 2:
		if (digit)
			return 1;
		/* fall through */
	case 3:
		if (c == '.')
			s->sub = 4;
		else if (c == 'e' || c == 'E')
			s->sub = 6;
		else
			return 0;
		return 1;
	case 4:
		if (!digit)
			return -1;
		s->sub = 5;
		return 1;
	case 5:
		if (digit)
			return 1;
		if (c == 'e' || c == 'E') {
			s->sub = 6;
			return 1;
		}
		return 0;
	case 6:
		if (c == '+' || c == '-') {
			s->sub = 7;
			return 1;
		}
		/* fall through */
	case 7:
		if (!digit)
			return -1;
		s->sub = 8;
		return 1;
	default:
		return digit ? 1 : 0;
	}
}

static const char *const literals[] = { "true", "false", "null" };

static void byte(struct skim *s, char c)
{
again:
	switch (s->st) {
	case ST_VALUE_OR_END:
		if (c == ']') {
			close_container(s, c);
			return;
		}
		/* fall through */
	case ST_VALUE:
		if (is_ws(c))
			return;
		if (c == '{' || c == '[') {
			value_start(s, c);
		} else if (c == '"') {
			value_start(s, c);
			s->st = ST_STR;
			s->sub = 0;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			value_start(s, c);
			s->st = ST_NUM;
			s->sub = 0;
			number_byte(s, c);
		} else if (c == 't' || c == 'f' || c == 'n') {
			value_start(s, c);
			s->st = ST_LIT;
			s->uhex = c == 't' ? 0 : c == 'f' ? 1 : 2;
			s->sub = 1;
		} else {
			fail(s, "a value is malformed");
		}
		return;
	case ST_KEY_OR_END:
		if (c == '}') {
			close_container(s, c);
			return;
		}
		/* fall through */
	case ST_KEY:
		if (is_ws(c))
			return;
		if (c != '"') {
			fail(s, "an object key is not a string");
			return;
		}
		s->st = ST_KEYSTR;
		s->sub = 0;
		s->key_len = 0;
		s->key_kept = true;
		return;
	case ST_KEYSTR:
		if (string_byte(s, c, false)) {
			s->st = ST_COLON;
		} else if (s->key_len < SKIM_KEY_MAX) {
			s->key[s->key_len++] = c;
		} else {
			s->key_kept = false; /* no member netinv reads has a name this long */
		}
		return;
	case ST_COLON:
		if (is_ws(c))
			return;
		if (c != ':')
			fail(s, "an object key is not followed by ':'");
		s->st = ST_VALUE;
		return;
	case ST_STR:
		if (s->val_kept)
			put(s, &c, 1);
		if (string_byte(s, c, true))
			value_end(s);
		return;
	case ST_NUM:
		switch (number_byte(s, c)) {
		case 1:
			if (s->val_kept)
				put(s, &c, 1);
			return;
		case 0:
			if (s->sub == 2 || s->sub == 3 || s->sub == 5 || s->sub == 8) {
				value_end(s);
				goto again;
			}
			/* fall through */
		default:
			fail(s, "a number is malformed");
			return;
		}
	case ST_LIT: {
		const char *l = literals[s->uhex];

		if (c != l[s->sub]) {
			fail(s, "a literal is malformed");
			return;
		}
		if (s->val_kept)
			put(s, &c, 1);
		if (!l[++s->sub])
			value_end(s);
		return;
	}
	case ST_AFTER:
		if (is_ws(c))
			return;
		if (c == ',')
			s->st = s->stack[s->depth - 1].obj ? ST_KEY : ST_VALUE;
		else if (c == '}' || c == ']')
			close_container(s, c);
		else
			fail(s, "a ',' or a closing bracket is missing");
		return;
	default: /* ST_DONE */
		if (!is_ws(c))
			fail(s, "there is more after the JSON value");
		return;
	}
}

int skim_feed(struct skim *s, const char *p, size_t n)
{
	s->in += n;
	for (size_t i = 0; i < n && !s->err; i++)
		byte(s, p[i]);
	return s->err ? -1 : 0;
}

int skim_finish(struct skim *s)
{
	if (s->err)
		return -1;
	if (s->st == ST_NUM && (s->sub == 2 || s->sub == 3 || s->sub == 5 || s->sub == 8))
		s->st = ST_DONE;
	if (s->st != ST_DONE)
		fail(s, s->in ? "the reply ends inside its JSON value" : "the reply is empty");
	return s->err ? -1 : 0;
}
