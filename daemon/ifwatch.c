// SPDX-License-Identifier: GPL-2.0-only
/* rtnetlink watch of links and local routes, with libmnl. */
#include "ifwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <search.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <bpfilter/cleanup.h>

/* Large enough that a burst of notifications (hundreds of interfaces appearing at once) does not
 * overrun the socket; if it does anyway, ENOBUFS triggers a re-dump. */
#define IW_RCVBUF (8 << 20)
#define IW_BUFSZ (64 << 10)
#define IW_DUMP_RETRIES 8

struct iw_link {
	uint32_t ifindex;
	uint32_t flags;
	char name[IFNAMSIZ];
	bool seen;
};

/* One route of the local table; several routes can share a prefix (same address on two
 * interfaces, local and broadcast of the same /32): the prefix is reported while any exists. */
struct iw_route {
	uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes */
	uint32_t oif;
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t type;
	bool seen;
};

/* One route of the local or main table, for addrtype's route-type tries. */
struct iw_rt {
	uint32_t table;
	uint32_t prio;
	uint32_t oif; /* first nexthop's device */
	uint8_t type;
	uint8_t tos;
	uint8_t flags; /* BFD_RTYPE_F_* */
	bool seen;
};

/* The routes of one prefix: several can share it; the one the kernel's lookup picks is
 * reported (rtype_pick). Prefixes live in a search tree (tsearch): the main table of a router
 * can hold a million of them. */
struct iw_pfx {
	uint8_t addr[16]; /* network order; IPv4 uses the first 4 bytes */
	uint8_t family;
	uint8_t plen;
	struct iw_rt *rts;
	size_t n, cap;
};

struct bfd_ifwatch {
	struct bfd_ifwatch_ops ops;
	struct bf_log log;
	struct mnl_socket *nl;
	char *buf;
	uint64_t rx_ns;
	bool resync_routes; /* the kernel may have flushed routes without telling */
	struct iw_link *links;
	size_t n_links, cap_links;
	struct iw_route *routes;
	size_t n_routes, cap_routes;
	void *pfx_root; /* tsearch tree of struct iw_pfx */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(*arr, ncap, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct iw_link *link_find(struct bfd_ifwatch *w, uint32_t ifindex)
{
	for (size_t i = 0; i < w->n_links; i++) {
		if (w->links[i].ifindex == ifindex)
			return &w->links[i];
	}
	return NULL;
}

static void link_remove(struct bfd_ifwatch *w, size_t i)
{
	uint32_t ifindex = w->links[i].ifindex;

	w->links[i] = w->links[--w->n_links];
	/* Its routes went with it, silently: re-read the local table. */
	w->resync_routes = true;
	if (w->ops.link_del)
		w->ops.link_del(w->ops.ctx, ifindex);
}

static bool same_prefix(const struct iw_route *a, const struct iw_route *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

static bool prefix_present(const struct bfd_ifwatch *w, const struct iw_route *r)
{
	for (size_t i = 0; i < w->n_routes; i++) {
		if (same_prefix(&w->routes[i], r))
			return true;
	}
	return false;
}

static void route_remove(struct bfd_ifwatch *w, size_t i)
{
	struct iw_route r = w->routes[i];

	w->routes[i] = w->routes[--w->n_routes];
	if (!prefix_present(w, &r) && w->ops.lroute_del)
		w->ops.lroute_del(w->ops.ctx, r.family, r.addr, r.plen);
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if (type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	tb[type] = a;
	return MNL_CB_OK;
}

static int handle_link(struct bfd_ifwatch *w, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = {};
	struct iw_link *l;
	const char *name;
	int r;

	/* Bridge port notifications (AF_BRIDGE) share the group: they are not links coming and
	 * going. */
	if (ifm->ifi_family != AF_UNSPEC || ifm->ifi_index <= 0)
		return 0;
	l = link_find(w, (uint32_t)ifm->ifi_index);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (l)
			link_remove(w, (size_t)(l - w->links));
		return 0;
	}

	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, tb);
	if (!tb[IFLA_IFNAME])
		return 0;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);

	if (l) {
		l->seen = true;
		if ((l->flags ^ ifm->ifi_flags) & IFF_UP)
			w->resync_routes = true;
		l->flags = ifm->ifi_flags;
		if (strncmp(l->name, name, IFNAMSIZ) != 0) {
			strncpy(l->name, name, IFNAMSIZ - 1);
			if (w->ops.link_rename)
				w->ops.link_rename(w->ops.ctx, l->ifindex, l->name);
		}
		return 0;
	}

	r = grow((void **)&w->links, &w->cap_links, w->n_links, sizeof(*w->links));
	if (r)
		return r;
	l = &w->links[w->n_links++];
	memset(l, 0, sizeof(*l));
	l->ifindex = (uint32_t)ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	l->seen = true;
	strncpy(l->name, name, IFNAMSIZ - 1);
	if (w->ops.link_add)
		w->ops.link_add(w->ops.ctx, l->ifindex, l->name, ifm->ifi_type, w->rx_ns);
	return 0;
}

static int route_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, RTA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case RTA_TABLE:
	case RTA_OIF:
	case RTA_PRIORITY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case RTA_DST:
		if (mnl_attr_get_payload_len(a) != 4 && mnl_attr_get_payload_len(a) != 16)
			return MNL_CB_OK;
		break;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct iw_pfx *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->plen != y->plen)
		return x->plen < y->plen ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void pfx_free(void *p)
{
	struct iw_pfx *x = p;

	free(x->rts);
	free(x);
}

/* The prefix of key (family, plen, addr), created if asked; NULL if absent (or -ENOMEM). */
static struct iw_pfx *pfx_get(struct bfd_ifwatch *w, const struct iw_pfx *key, bool create)
{
	struct iw_pfx *p, **node;

	node = tfind(key, &w->pfx_root, pfx_cmp);
	if (node || !create)
		return node ? *node : NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->addr, key->addr, sizeof(p->addr));
	p->family = key->family;
	p->plen = key->plen;
	node = tsearch(p, &w->pfx_root, pfx_cmp);
	if (!node) {
		free(p);
		return NULL;
	}
	return p;
}

/* The route of a prefix the kernel's lookup finds first. IPv4 (__inet_dev_addr_type on the
 * local table, which shares its trie with main while no policy rule was ever added): aliases of
 * a prefix are tried by TOS (a TOS route never matches the TOS-less lookup) then priority. IPv6
 * (ip6_route_output through the default rules): the local table before main, then metric. */
static const struct iw_rt *rtype_pick(const struct iw_pfx *p)
{
	const struct iw_rt *best = NULL;

	for (size_t i = 0; i < p->n; i++) {
		const struct iw_rt *e = &p->rts[i];

		if (e->tos)
			continue;
		if (!best) {
			best = e;
			continue;
		}
		if (p->family == AF_INET6 && e->table != best->table) {
			if (e->table == RT_TABLE_LOCAL)
				best = e;
			continue;
		}
		if (e->prio < best->prio || (e->prio == best->prio && e->table == RT_TABLE_LOCAL &&
					     best->table != RT_TABLE_LOCAL))
			best = e;
	}
	return best;
}

/* Report the prefix's route (or its absence), and forget the prefix once it has no route. */
static void rtype_report(struct bfd_ifwatch *w, struct iw_pfx *p)
{
	const struct iw_rt *e = rtype_pick(p);
	struct bfd_rtype v = {};

	if (w->ops.rtype_set) {
		if (e) {
			v.type = e->type;
			v.flags = e->flags;
			v.oif = e->oif;
		}
		w->ops.rtype_set(w->ops.ctx, p->family, p->addr, p->plen, e ? &v : NULL);
	}
	if (!p->n) {
		tdelete(p, &w->pfx_root, pfx_cmp);
		pfx_free(p);
	}
}

static void rt_remove(struct iw_pfx *p, size_t i)
{
	p->rts[i] = p->rts[--p->n];
}

static int handle_rtype(struct bfd_ifwatch *w, const struct nlmsghdr *nlh,
			const struct nlattr *const *tb)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	unsigned int alen = rtm->rtm_family == AF_INET ? 4 : 16;
	bool del = nlh->nlmsg_type == RTM_DELROUTE;
	struct iw_pfx pkey = {}, *p;
	struct iw_rt key = {};

	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_dst_len > alen * 8 || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	key.table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (key.table != RT_TABLE_LOCAL && key.table != RT_TABLE_MAIN)
		return 0;
	pkey.family = rtm->rtm_family;
	if (tb[RTA_DST]) {
		if (mnl_attr_get_payload_len(tb[RTA_DST]) != alen)
			return 0;
		memcpy(pkey.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	}
	pkey.plen = rtm->rtm_dst_len;
	key.type = rtm->rtm_type;
	key.tos = rtm->rtm_tos;
	key.prio = tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0;
	key.oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	if (tb[RTA_GATEWAY] || tb[RTA_VIA])
		key.flags |= BFD_RTYPE_F_GATEWAY;
	if (tb[RTA_MULTIPATH] &&
	    mnl_attr_get_payload_len(tb[RTA_MULTIPATH]) >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);

		/* the first nexthop's device, as fib_info_nhc(fi, 0) */
		key.oif = (uint32_t)nh->rtnh_ifindex;
		if (nh->rtnh_len > sizeof(*nh))
			key.flags |= BFD_RTYPE_F_GATEWAY;
	}

	p = pfx_get(w, &pkey, !del);
	if (!p)
		return del ? 0 : -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		struct iw_rt *e = &p->rts[i];

		if (e->table != key.table || e->tos != key.tos || e->prio != key.prio)
			continue;
		if (del) {
			if (e->type != key.type || e->oif != key.oif)
				continue;
			rt_remove(p, i);
			rtype_report(w, p);
			return 0;
		}
		if (e->type == key.type && e->oif == key.oif) {
			e->seen = true;
			e->flags = key.flags;
			rtype_report(w, p);
			return 0;
		}
		if (nlh->nlmsg_flags & NLM_F_REPLACE) {
			/* replaced without a notification for the old route */
			rt_remove(p, i);
			break;
		}
	}
	if (del)
		return 0;
	if (p->n == p->cap) {
		/* most prefixes have one route: grow from 1, not grow()'s 16 */
		size_t ncap = p->cap ? p->cap * 2 : 1;
		struct iw_rt *v = reallocarray(p->rts, ncap, sizeof(*v));

		if (!v) {
			rtype_report(w, p);
			return -ENOMEM;
		}
		p->rts = v;
		p->cap = ncap;
	}
	key.seen = true;
	p->rts[p->n++] = key;
	rtype_report(w, p);
	return 0;
}

/* Resync helpers: visit every prefix once. */
struct pfx_walk {
	struct iw_pfx **v;
	size_t n, cap;
	bool oom;
};

static void pfx_collect(const void *node, VISIT which, void *closure)
{
	struct pfx_walk *c = closure;

	if (which != postorder && which != leaf)
		return;
	if (grow((void **)&c->v, &c->cap, c->n, sizeof(*c->v))) {
		c->oom = true;
		return;
	}
	c->v[c->n++] = *(struct iw_pfx *const *)node;
}

static int pfx_all(struct bfd_ifwatch *w, struct pfx_walk *c)
{
	memset(c, 0, sizeof(*c));
	twalk_r(w->pfx_root, pfx_collect, c);
	if (c->oom) {
		free(c->v);
		return -ENOMEM;
	}
	return 0;
}

static int handle_route(struct bfd_ifwatch *w, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct iw_route key = {};
	uint32_t table;
	bool had;
	int r;

	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	r = handle_rtype(w, nlh, tb);
	if (r)
		return r;
	/* What ip_route_input/ip6_route_input deliver locally: IPv4 local and broadcast routes,
	 * IPv6 local and anycast routes (IPv6 multicast is decided by the dispatcher). */
	if (rtm->rtm_family == AF_INET) {
		if (rtm->rtm_dst_len > 32 ||
		    (rtm->rtm_type != RTN_LOCAL && rtm->rtm_type != RTN_BROADCAST))
			return 0;
	} else if (rtm->rtm_family == AF_INET6) {
		if (rtm->rtm_dst_len > 128 ||
		    (rtm->rtm_type != RTN_LOCAL && rtm->rtm_type != RTN_ANYCAST))
			return 0;
	} else {
		return 0;
	}
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != RT_TABLE_LOCAL)
		return 0;

	key.family = rtm->rtm_family;
	if (tb[RTA_DST]) {
		uint16_t alen = mnl_attr_get_payload_len(tb[RTA_DST]);

		if (alen != (key.family == AF_INET ? 4 : 16))
			return 0;
		memcpy(key.addr, mnl_attr_get_payload(tb[RTA_DST]), alen);
	}
	key.plen = rtm->rtm_dst_len;
	key.type = rtm->rtm_type;
	key.oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;

	for (size_t i = 0; i < w->n_routes; i++) {
		struct iw_route *e = &w->routes[i];

		if (!same_prefix(e, &key) || e->type != key.type || e->oif != key.oif)
			continue;
		if (nlh->nlmsg_type == RTM_DELROUTE)
			route_remove(w, i);
		else
			e->seen = true;
		return 0;
	}
	if (nlh->nlmsg_type == RTM_DELROUTE)
		return 0;

	had = prefix_present(w, &key);
	r = grow((void **)&w->routes, &w->cap_routes, w->n_routes, sizeof(*w->routes));
	if (r)
		return r;
	key.seen = true;
	w->routes[w->n_routes++] = key;
	if (!had && w->ops.lroute_add)
		w->ops.lroute_add(w->ops.ctx, key.family, key.addr, key.plen);
	return 0;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct bfd_ifwatch *w = data;
	int r = 0;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct ifinfomsg))
			r = handle_link(w, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct rtmsg))
			r = handle_route(w, nlh);
		break;
	case RTM_DELADDR:
		/* Its local and broadcast routes go too; some of them without a notification. */
		w->resync_routes = true;
		break;
	default:
		break;
	}
	if (r) {
		bf_logf(&w->log, BF_LOG_ERR, "rtnetlink: %s", strerror(-r));
		errno = -r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* One dump request on its own socket, so that notifications never interleave with it. */
static int dump_once(struct bfd_ifwatch *w, uint16_t type, uint8_t family)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	uint32_t portid;
	ssize_t n;
	int r = 0;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);

	nlh = mnl_nlmsg_put_header(w->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	if (type == RTM_GETLINK) {
		struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

		ifm->ifi_family = AF_UNSPEC;
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

		rtm->rtm_family = family;
		rtm->rtm_table = RT_TABLE_LOCAL;
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}

	for (;;) {
		n = mnl_socket_recvfrom(nl, w->buf, IW_BUFSZ);
		if (n < 0) {
			r = -errno;
			break;
		}
		w->rx_ns = now_ns();
		n = mnl_cb_run(w->buf, (size_t)n, seq, portid, msg_cb, w);
		if (n == MNL_CB_STOP)
			break;
		if (n < 0) {
			/* EINTR: NLM_F_DUMP_INTR, the table changed during the dump. */
			r = -errno;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}

static int dump(struct bfd_ifwatch *w, uint16_t type, uint8_t family)
{
	int r = -EINTR;

	for (int i = 0; i < IW_DUMP_RETRIES && r == -EINTR; i++)
		r = dump_once(w, type, family);
	if (r)
		bf_logf(&w->log, BF_LOG_ERR, "rtnetlink: dumping %s failed: %s",
			type == RTM_GETLINK ? "links" : "local routes", strerror(-r));
	return r;
}

static int resync_routes(struct bfd_ifwatch *w)
{
	struct pfx_walk all;
	int r;

	w->resync_routes = false;
	for (size_t i = 0; i < w->n_routes; i++)
		w->routes[i].seen = false;
	r = pfx_all(w, &all);
	if (r)
		return r;
	for (size_t i = 0; i < all.n; i++) {
		for (size_t j = 0; j < all.v[i]->n; j++)
			all.v[i]->rts[j].seen = false;
	}
	free(all.v);
	r = dump(w, RTM_GETROUTE, AF_INET);
	if (!r)
		r = dump(w, RTM_GETROUTE, AF_INET6);
	if (r)
		return r;
	for (size_t i = w->n_routes; i-- > 0;) {
		if (!w->routes[i].seen)
			route_remove(w, i);
	}
	r = pfx_all(w, &all);
	if (r)
		return r;
	for (size_t i = 0; i < all.n; i++) {
		struct iw_pfx *p = all.v[i];
		size_t n = p->n;

		for (size_t j = p->n; j-- > 0;) {
			if (!p->rts[j].seen)
				rt_remove(p, j);
		}
		if (p->n != n)
			rtype_report(w, p);
	}
	free(all.v);
	return 0;
}

int bfd_ifwatch_resync(struct bfd_ifwatch *w)
{
	int r;

	for (size_t i = 0; i < w->n_links; i++)
		w->links[i].seen = false;
	r = dump(w, RTM_GETLINK, AF_UNSPEC);
	if (r)
		return r;
	for (size_t i = w->n_links; i-- > 0;) {
		if (!w->links[i].seen)
			link_remove(w, i);
	}
	return resync_routes(w);
}

int bfd_ifwatch_new(const struct bfd_ifwatch_ops *ops, const struct bf_log *log,
		    struct bfd_ifwatch **out)
{
	struct bfd_ifwatch *w;
	int size = IW_RCVBUF;
	int fd, flags, r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ops = *ops;
	if (log)
		w->log = *log;
	w->buf = malloc(IW_BUFSZ);
	if (!w->buf) {
		r = -ENOMEM;
		goto err;
	}
	w->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!w->nl) {
		r = -errno;
		goto err;
	}
	fd = mnl_socket_get_fd(w->nl);
	/* FORCE goes past rmem_max (we run as root); plain SO_RCVBUF is the fallback. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		bf_logf(log, BF_LOG_WARN, "rtnetlink: cannot enlarge the receive buffer: %s",
			strerror(errno));
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		goto err;
	}
	/* Subscribe before dumping: nothing that changes after the dump can be missed. */
	if (mnl_socket_bind(w->nl,
			    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
				    RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE,
			    MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto err;
	}
	r = bfd_ifwatch_resync(w);
	if (r)
		goto err;
	*out = w;
	return 0;
err:
	bf_logf(log, BF_LOG_ERR, "rtnetlink watch: %s", strerror(-r));
	bfd_ifwatch_free(w);
	return r;
}

void bfd_ifwatch_free(struct bfd_ifwatch *w)
{
	if (!w)
		return;
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w->buf);
	free(w->links);
	free(w->routes);
	tdestroy(w->pfx_root, pfx_free);
	free(w);
}

int bfd_ifwatch_fd(const struct bfd_ifwatch *w)
{
	return mnl_socket_get_fd(w->nl);
}

int bfd_ifwatch_process(struct bfd_ifwatch *w)
{
	bool lost = false;
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(w->nl, w->buf, IW_BUFSZ);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Notifications were dropped: only a fresh dump tells what changed.
				 */
				lost = true;
				continue;
			}
			return -errno;
		}
		w->rx_ns = now_ns();
		if (mnl_cb_run(w->buf, (size_t)n, 0, 0, msg_cb, w) < 0)
			bf_logf(&w->log, BF_LOG_WARN, "rtnetlink: bad notification: %s",
				strerror(errno));
	}
	if (lost) {
		bf_logf(&w->log, BF_LOG_INFO,
			"rtnetlink: notifications lost, re-reading links and "
			"routes");
		return bfd_ifwatch_resync(w);
	}
	if (w->resync_routes)
		return resync_routes(w);
	return 0;
}
