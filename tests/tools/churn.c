/* Test helper: route churn at a steady rate, with a record of what existed when.
 *
 *   churn LOG RATE SECONDS PREFIXES [6]
 *
 * In the current network namespace, toggles routes among PREFIXES host routes (10.200.x.y/32 via
 * 10.0.0.3, or 2001:db8:200::x/128 via fe80::3 on the route's device for family 6): a random
 * prefix is added when absent and deleted when present, RATE times a second for SECONDS (or until
 * SIGTERM). Every change waits for the kernel's acknowledgement, so the log's order is the order the
 * kernel applied them. LOG gets one line per change, written at exit: "<prefix index>
 * <CLOCK_MONOTONIC seconds at the acknowledgement>", after a first line "start <seconds>". All
 * prefixes start absent; ones left from an earlier run are removed first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_attr(struct nlmsghdr *h, uint16_t type, const void *data, uint16_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* 0, or the kernel's negative errno */
static int change(int fd, int family, uint32_t oif, unsigned int idx, int add, uint32_t seq)
{
	union {
		struct nlmsghdr h;
		char b[256];
	} req, ans;
	struct rtmsg *rtm;
	uint8_t dst[16] = { 0 }, gw[16] = { 0 };
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(*rtm));
	req.h.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	req.h.nlmsg_seq = seq;
	rtm = NLMSG_DATA(&req.h);
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (family == AF_INET) {
		rtm->rtm_dst_len = 32;
		dst[0] = 10, dst[1] = 200, dst[2] = (uint8_t)(idx >> 8), dst[3] = (uint8_t)idx;
		gw[0] = 10, gw[1] = 0, gw[2] = 0, gw[3] = 3;
		add_attr(&req.h, RTA_DST, dst, 4);
		add_attr(&req.h, RTA_GATEWAY, gw, 4);
	} else {
		rtm->rtm_dst_len = 128;
		inet_pton(AF_INET6, "2001:db8:200::", dst);
		dst[14] = (uint8_t)(idx >> 8), dst[15] = (uint8_t)idx;
		inet_pton(AF_INET6, "fe80::3", gw);
		add_attr(&req.h, RTA_DST, dst, 16);
		add_attr(&req.h, RTA_GATEWAY, gw, 16);
		add_attr(&req.h, RTA_OIF, &oif, 4);
	}
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, &ans, sizeof(ans), 0);
		if (n < 0)
			return -errno;
		if ((size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) && ans.h.nlmsg_type == NLMSG_ERROR &&
		    ans.h.nlmsg_seq == seq)
			return ((struct nlmsgerr *)NLMSG_DATA(&ans.h))->error;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timespec next;
	unsigned int prefixes;
	double rate, seconds, t0;
	uint8_t *present;
	uint32_t *log_idx, oif = 0;
	double *log_t;
	size_t nlog = 0, maxlog;
	int fd, family = AF_INET;
	FILE *f;

	if (argc < 5) {
		fprintf(stderr, "usage: churn LOG RATE SECONDS PREFIXES [6]\n");
		return 2;
	}
	rate = atof(argv[2]);
	seconds = atof(argv[3]);
	prefixes = (unsigned int)atoi(argv[4]);
	if (argc > 5 && !strcmp(argv[5], "6"))
		family = AF_INET6;
	if (rate <= 0 || seconds <= 0 || prefixes < 1 || prefixes > 65536) {
		fprintf(stderr, "churn: bad rate, duration or prefix count\n");
		return 2;
	}
	if (family == AF_INET6 && !(oif = if_nametoindex("c0"))) {
		fprintf(stderr, "churn: no device c0\n");
		return 2;
	}
	maxlog = (size_t)(rate * seconds) + 16;
	present = calloc(prefixes, 1);
	log_idx = calloc(maxlog, sizeof(*log_idx));
	log_t = calloc(maxlog, sizeof(*log_t));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!present || !log_idx || !log_t || fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("churn");
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	for (unsigned int i = 0; i < prefixes; i++)
		change(fd, family, oif, i, 0, i + 1); /* leftovers: -ESRCH for the absent */
	srandom((unsigned int)getpid());
	t0 = now();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint32_t seq = 1u << 20; !stop && nlog < maxlog && now() - t0 < seconds; seq++) {
		unsigned int i = (unsigned int)random() % prefixes;
		int r = change(fd, family, oif, i, !present[i], seq);

		if (r < 0) {
			fprintf(stderr, "churn: %s of prefix %u: %s\n", present[i] ? "delete" : "add", i, strerror(-r));
			return 1;
		}
		present[i] ^= 1;
		log_idx[nlog] = i;
		log_t[nlog++] = now();
		/* the next change at its own time, whatever this one cost (bursts catch up) */
		next.tv_nsec += (long)(1e9 / rate);
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "start %.6f\n", t0);
	for (size_t k = 0; k < nlog; k++)
		fprintf(f, "%u %.6f\n", log_idx[k], log_t[k]);
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	for (unsigned int i = 0; i < prefixes; i++)
		if (present[i])
			change(fd, family, oif, i, 0, i + 1);
	close(fd);
	free(present);
	free(log_idx);
	free(log_t);
	return 0;
}
