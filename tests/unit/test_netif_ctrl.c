/*
 * test_netif_ctrl.c - unit tests of the netif parser (libblanket/netif.c):
 * the control ring and hashing.  The hash algorithm, flags, key and
 * mapping requests as netback answers them (hash.c), the unsupported
 * ones, the response layout; Toeplitz against Microsoft's RSS vectors.
 * The ring page is netif_harness.c's.
 */
#include <arpa/inet.h>
#include <string.h>

#include "netif_harness.h"

/* ---- control ring ---- */

static unsigned char *ctrl_at(struct ctx *c, RING_IDX i)
{
	return c->ring + HDR + (size_t)(i & (netif_ctrl_ring_size(1) - 1)) * CTE;
}

/* id @0, type @2, data[0..2] @4, @8, @12 */
static uint32_t ctrl(struct ctx *c, const struct netif_hash *h, RING_IDX i, uint16_t type,
		     uint32_t d0, uint32_t d1, uint32_t d2, struct netif_ctrl_req *req)
{
	unsigned char *e = ctrl_at(c, i);

	put16(e, (uint16_t)(0x100 + type));
	put16(e + 2, type);
	put32(e + 4, d0);
	put32(e + 8, d1);
	put32(e + 12, d2);
	return netif_ctrl_copy_request(c->ring, netif_ctrl_ring_size(1), i, h, req);
}

static void test_ctrl_hash_algorithm(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;

	memset(&h, 0, sizeof(h));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.id, 0x107);
	assert_int_equal(req.type, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);

	assert_int_equal(ctrl(c, &h, 1, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(ctrl(c, &h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.alg, XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
}

static void test_ctrl_hash_flags(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;

	memset(&h, 0, sizeof(h));
	/* No algorithm yet: nothing to get, nothing to set. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);

	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(req.rsp_data, 0xf);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
			      XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | XEN_NETIF_CTRL_HASH_TYPE_IPV6,
			      0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.flags, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | XEN_NETIF_CTRL_HASH_TYPE_IPV6);
	/* Zero turns hashing off. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
}

static void test_ctrl_hash_key(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	uint8_t key[NETIF_HASH_KEY_SIZE], zero[NETIF_HASH_KEY_SIZE] = { 0 };

	memset(&h, 0, sizeof(h));
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 41, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 0xffffffff, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	/* A refused request cannot be applied by mistake (it would clear the key). */
	memset(h.key, 0x11, sizeof(h.key));
	assert_int_equal(req.action, NETIF_CTRL_ANSWER);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(h.key[39], 0x11);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 40, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_COPY_KEY);
	assert_int_equal(req.gref, 33);
	assert_int_equal(req.len, 40);
	/* The caller must hand over exactly the bytes asked for. */
	assert_int_equal(netif_hash_apply(&h, &req, key, 39, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(netif_hash_apply(&h, &req, key, 40, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, key, 40);

	/* A short key: the rest is zero. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 4, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(netif_hash_apply(&h, &req, key, 4, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, key, 4);
	assert_memory_equal(h.key + 4, zero, 36);

	/* Size 0 clears it, without a grant copy. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 33, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_memory_equal(h.key, zero, 40);
}

static void test_ctrl_hash_mapping(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	uint32_t map[NETIF_HASH_MAPPING_SIZE];
	unsigned k;

	memset(&h, 0, sizeof(h));
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.rsp_data, NETIF_HASH_MAPPING_SIZE);

	/* Size bounds. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	/* No table yet: any non-empty mapping is out of range. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 1, 0, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 128, 0, 0, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	h.mapping[5] = 3;
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.size, 128);
	assert_int_equal(h.mapping[5], 0); /* a new table is zeroed */

	/* Offsets: within the table, no wrap-around. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 29, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 2, 0xffffffff, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 0xffffffff, 2, &req),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 28, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_COPY_MAPPING);
	assert_int_equal(req.gref, 9);
	assert_int_equal(req.len, 100);
	assert_int_equal(req.off, 28);

	/* Every entry must name a queue; a bad one rejects the whole table. */
	for (k = 0; k < 100; k++)
		map[k] = k % 4;
	map[99] = 4;
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	for (k = 0; k < 128; k++)
		assert_int_equal(h.mapping[k], 0);
	map[99] = 3;
	assert_int_equal(netif_hash_apply(&h, &req, map, 396, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.mapping[27], 0);
	assert_int_equal(h.mapping[28], 0);
	assert_int_equal(h.mapping[29], 1);
	assert_int_equal(h.mapping[127], 3);

	/* An empty sub-table changes nothing. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 0, 128, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(req.action, NETIF_CTRL_APPLY);
	assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(h.mapping[127], 3);

	/* Shrinking the table invalidates sub-tables beyond it. */
	assert_int_equal(ctrl(c, &h, 0, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 100, 28, &req),
			 XEN_NETIF_CTRL_STATUS_SUCCESS);
	h.size = 64;
	assert_int_equal(netif_hash_apply(&h, &req, map, 400, 4),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);

	/* Queue selection through the table, or modulo without one. */
	h.size = 128;
	assert_int_equal(netif_hash_queue(&h, 29 + 128 * 5, 4), 1);
	h.size = 0;
	assert_int_equal(netif_hash_queue(&h, 11, 4), 3);
	assert_int_equal(netif_hash_queue(&h, 11, 0), 0);
}

static void test_ctrl_unsupported_and_layout(void **state)
{
	struct ctx *c = *state;
	struct netif_hash h;
	struct netif_ctrl_req req;
	static const uint16_t types[] = {
		XEN_NETIF_CTRL_TYPE_INVALID, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
		XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
		11, 0xffff,
	};
	unsigned k, size = netif_ctrl_ring_size(1);
	unsigned char *e;

	memset(&h, 0, sizeof(h));
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		assert_int_equal(ctrl(c, &h, 130, types[k], 1, 2, 3, &req),
				 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
		assert_int_equal(req.action, NETIF_CTRL_ANSWER);
		assert_int_equal(req.type, types[k]);
		assert_int_equal(req.id, (uint16_t)(0x100 + types[k]));
		assert_int_equal(req.data[0], 1);
		assert_int_equal(req.data[2], 3);
		/* Refused: there is nothing to apply. */
		assert_int_equal(netif_hash_apply(&h, &req, NULL, 0, 1),
				 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	}

	/* Response: id @0, type @2, status @4, data @8; 12 of the 16 bytes. */
	memset(c->ring, FILL, PAGE);
	netif_ctrl_rsp(c->ring, size, size + 3, 0xabcd, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
		       XEN_NETIF_CTRL_STATUS_SUCCESS, 0xf);
	e = ctrl_at(c, 3);
	assert_int_equal(get16(e), 0xabcd);
	assert_int_equal(get16(e + 2), XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS);
	assert_int_equal(get32(e + 4), XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(get32(e + 8), 0xf);
	assert_int_equal(e[12], FILL);

#if defined(__x86_64__) && defined(__linux__)
	{
		struct trace t;

		ctrl(c, &h, 5, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 1, 0, &req);
		trace_start(&t, c->ring);
		netif_ctrl_copy_request(c->ring, size, 5, &h, &req);
		trace_stop(&t);
		check_trace(CTE, size, 5, 1);
	}
#endif
}

/* ---- Toeplitz ---- */

/* Microsoft's RSS verification key and vectors ("Verifying the RSS Hash
 * Calculation"); the buffer is netif.h's: src addr, dst addr, src port,
 * dst port. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct vector {
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t ip, ip_tcp;
};

static const struct vector v4[] = {
	{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
	{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};
static const struct vector v6[] = {
	{ "3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ "3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ "3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024,
	  0x4b61e985, 0x02d1feef },
};

static void make_flow(struct netif_flow *f, bool ipv6, bool tcp, const struct vector *v)
{
	uint16_t sp = htons(v->sport), dp = htons(v->dport);

	memset(f, 0, sizeof(*f));
	f->ipv6 = ipv6;
	f->tcp = tcp;
	assert_int_equal(inet_pton(ipv6 ? AF_INET6 : AF_INET, v->src, f->saddr), 1);
	assert_int_equal(inet_pton(ipv6 ? AF_INET6 : AF_INET, v->dst, f->daddr), 1);
	memcpy(f->sport, &sp, 2);
	memcpy(f->dport, &dp, 2);
}

static void test_toeplitz_vectors(void **state)
{
	struct netif_hash h;
	struct netif_flow f;
	uint32_t val;
	unsigned k;

	(void)state;
	memset(&h, 0, sizeof(h));
	memcpy(h.key, ms_key, sizeof(ms_key));
	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	h.flags = NETIF_HASH_TYPES_ALL;

	for (k = 0; k < sizeof(v4) / sizeof(v4[0]); k++) {
		uint8_t buf[12];

		make_flow(&f, false, true, &v4[k]);
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
		assert_int_equal(val, v4[k].ip_tcp);
		f.tcp = false;
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
		assert_int_equal(val, v4[k].ip);
		/* The same through netif_toeplitz on the buffer. */
		memcpy(buf, f.saddr, 4);
		memcpy(buf + 4, f.daddr, 4);
		memcpy(buf + 8, f.sport, 2);
		memcpy(buf + 10, f.dport, 2);
		assert_int_equal(netif_toeplitz(ms_key, 40, buf, 12), v4[k].ip_tcp);
		assert_int_equal(netif_toeplitz(ms_key, 40, buf, 8), v4[k].ip);
	}
	for (k = 0; k < sizeof(v6) / sizeof(v6[0]); k++) {
		make_flow(&f, true, true, &v6[k]);
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
		assert_int_equal(val, v6[k].ip_tcp);
		f.tcp = false;
		assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV6);
		assert_int_equal(val, v6[k].ip);
	}
}

static void test_toeplitz_edges(void **state)
{
	uint8_t buf[36], key[40];
	struct netif_hash h;
	struct netif_flow f;
	uint32_t val;
	unsigned k;

	(void)state;
	for (k = 0; k < sizeof(buf); k++)
		buf[k] = (uint8_t)(k * 37 + 1);
	/* Nothing hashed, or a zero key: zero. */
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 0), 0);
	memset(key, 0, sizeof(key));
	assert_int_equal(netif_toeplitz(key, 40, buf, 36), 0);
	/* Key bytes past keylen count as zero. */
	memcpy(key, ms_key, 10);
	assert_int_equal(netif_toeplitz(ms_key, 10, buf, 36), netif_toeplitz(key, 40, buf, 36));
	assert_int_equal(netif_toeplitz(ms_key, 0, buf, 36), 0);
	/* One set bit picks the 32 key bits at its position. */
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 1), 0x6d5a56da);
	buf[0] = 0x01;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 1), 0xad2b6d12);
	buf[0] = 0;
	buf[1] = 0x80;
	assert_int_equal(netif_toeplitz(ms_key, 40, buf, 2), 0x5a56da25);

	/* The most specific type enabled; none without an algorithm. */
	memset(&h, 0, sizeof(h));
	memcpy(h.key, ms_key, sizeof(ms_key));
	make_flow(&f, false, true, &v4[0]);
	h.flags = NETIF_HASH_TYPES_ALL;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
	assert_int_equal(val, 0);
	h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	assert_int_equal(netif_hash_flow(&h, &f, &val), _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
	assert_int_equal(val, v4[0].ip);
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	f.tcp = false;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	assert_int_equal(netif_hash_flow(&h, &f, &val), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TX_TEST(test_ctrl_hash_algorithm),
		TX_TEST(test_ctrl_hash_flags),
		TX_TEST(test_ctrl_hash_key),
		TX_TEST(test_ctrl_hash_mapping),
		TX_TEST(test_ctrl_unsupported_and_layout),
		cmocka_unit_test(test_toeplitz_vectors),
		cmocka_unit_test(test_toeplitz_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
