/*
 * test_switch.c - the vif switch alone: learning, ageing, flooding,
 * multicast filters, the source-MAC check, a full MAC table, and the header
 * parser that gives checksum offsets and flows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "switch.h"

struct tport {
	struct sw_port p;
	unsigned got;
	struct sw_buf *last;
};

static void t_deliver(struct sw_port *p, struct sw_buf *b)
{
	struct tport *t = (struct tport *)p;

	t->got++;
	t->last = b;
}

static const struct sw_port_ops t_ops = { .deliver = t_deliver };

static void released(struct sw_buf *b)
{
	(void)b;
}

static void port_init(struct tport *t, const char *name, uint8_t last)
{
	memset(t, 0, sizeof(*t));
	t->p.ops = &t_ops;
	snprintf(t->p.name, sizeof(t->p.name), "%s", name);
	memcpy(t->p.mac, (uint8_t[]){ 0x00, 0x16, 0x3e, 0, 0, last }, 6);
}

/* A frame dst <- src, held by the test. */
static struct sw_buf *frame(struct sw_buf *b, const uint8_t *dst, const uint8_t *src)
{
	static uint8_t data[64];

	memset(b, 0, sizeof(*b));
	memcpy(data, dst, 6);
	memcpy(data + 6, src, 6);
	data[12] = 0x08;
	b->refs = 1;
	b->release = released;
	b->len = sizeof(data);
	b->nr_frags = 1;
	b->frag[0] = (struct sw_frag){ .addr = data, .domid = SW_LOCAL, .len = sizeof(data) };
	sw_buf_take_hdr(b);
	return b;
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MC[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

struct fix {
	struct sw *s;
	struct tport a, b, c;
};

static void fix_init(struct fix *f, unsigned size, double ageing)
{
	f->s = sw_create(size, ageing);
	assert_non_null(f->s);
	port_init(&f->a, "a", 1);
	port_init(&f->b, "b", 2);
	port_init(&f->c, "c", 3);
	sw_port_add(f->s, &f->a.p);
	sw_port_add(f->s, &f->b.p);
	sw_port_add(f->s, &f->c.p);
}

static void counts(struct fix *f, unsigned a, unsigned b, unsigned c)
{
	assert_int_equal(f->a.got, a);
	assert_int_equal(f->b.got, b);
	assert_int_equal(f->c.got, c);
}

static void test_learning_and_flooding(void **state)
{
	struct fix f;
	struct sw_buf b;

	(void)state;
	fix_init(&f, 64, 300);
	/* Unknown destination: everyone but the sender. */
	sw_input(f.s, &f.a.p, frame(&b, f.b.p.mac, f.a.p.mac));
	counts(&f, 0, 1, 1);
	assert_int_equal(f.a.p.stats.flooded, 1);
	assert_ptr_equal(sw_fdb_lookup(f.s, f.a.p.mac), &f.a.p);
	/* The answer goes only where a was learnt. */
	sw_input(f.s, &f.b.p, frame(&b, f.a.p.mac, f.b.p.mac));
	counts(&f, 1, 1, 1);
	sw_input(f.s, &f.a.p, frame(&b, f.b.p.mac, f.a.p.mac));
	counts(&f, 1, 2, 1);
	/* Broadcast: all but the sender, and never learnt as a source. */
	sw_input(f.s, &f.c.p, frame(&b, BCAST, f.c.p.mac));
	counts(&f, 2, 3, 1);
	sw_input(f.s, &f.c.p, frame(&b, f.a.p.mac, BCAST));
	assert_null(sw_fdb_lookup(f.s, BCAST));
	/* Traffic for a MAC on the sender's own port is not sent back. */
	sw_input(f.s, &f.a.p, frame(&b, f.a.p.mac, f.a.p.mac));
	counts(&f, 3, 3, 1);
	/* A MAC moving to another port follows it. */
	sw_input(f.s, &f.c.p, frame(&b, BCAST, f.a.p.mac));
	assert_ptr_equal(sw_fdb_lookup(f.s, f.a.p.mac), &f.c.p);
	assert_int_equal(f.s->moved, 1);
	/* Runts go nowhere. */
	frame(&b, BCAST, f.a.p.mac);
	b.hdr_len = 10;
	sw_input(f.s, &f.a.p, &b);
	assert_int_equal(f.a.p.stats.drop_runt, 1);
	sw_destroy(f.s);
}

static void test_ageing(void **state)
{
	struct fix f;
	struct sw_buf b;

	(void)state;
	fix_init(&f, 64, 10);
	sw_set_now(f.s, 100);
	sw_input(f.s, &f.a.p, frame(&b, BCAST, f.a.p.mac));
	sw_set_now(f.s, 109);
	assert_ptr_equal(sw_fdb_lookup(f.s, f.a.p.mac), &f.a.p);
	sw_input(f.s, &f.b.p, frame(&b, f.a.p.mac, f.b.p.mac));
	counts(&f, 1, 1, 1);
	/* Past the ageing time a known MAC is unknown again: flooded. */
	sw_set_now(f.s, 120);
	assert_null(sw_fdb_lookup(f.s, f.a.p.mac));
	sw_input(f.s, &f.b.p, frame(&b, f.a.p.mac, f.b.p.mac));
	counts(&f, 2, 1, 2);
	/* sw_age forgets expired entries. */
	sw_set_now(f.s, 200);
	sw_age(f.s);
	assert_int_equal(f.s->fdb_count, 0);
	sw_destroy(f.s);
}

static void test_multicast_filter(void **state)
{
	struct fix f;
	struct sw_buf b;

	(void)state;
	fix_init(&f, 64, 300);
	f.c.p.mcast_filter = true;
	sw_input(f.s, &f.a.p, frame(&b, MC, f.a.p.mac));
	counts(&f, 0, 1, 0);
	assert_int_equal(f.c.p.stats.mcast_filtered, 1);
	assert_int_equal(sw_mcast_add(&f.c.p, MC), 0);
	sw_input(f.s, &f.a.p, frame(&b, MC, f.a.p.mac));
	counts(&f, 0, 2, 1);
	/* Broadcast passes any filter. */
	sw_input(f.s, &f.a.p, frame(&b, BCAST, f.a.p.mac));
	counts(&f, 0, 3, 2);
	sw_mcast_del(&f.c.p, MC);
	sw_input(f.s, &f.a.p, frame(&b, MC, f.a.p.mac));
	counts(&f, 0, 4, 2);
	/* netback's limit: 64 addresses, the 65th refused; re-adding is fine. */
	for (unsigned i = 0; i < NETIF_MCAST_MAX; i++)
		assert_int_equal(sw_mcast_add(&f.c.p, (uint8_t[]){ 1, 0, 0x5e, 0, 1, (uint8_t)i }), 0);
	assert_int_equal(sw_mcast_add(&f.c.p, (uint8_t[]){ 1, 0, 0x5e, 0, 2, 0 }), -1);
	assert_int_equal(sw_mcast_add(&f.c.p, (uint8_t[]){ 1, 0, 0x5e, 0, 1, 5 }), 0);
	assert_int_equal(f.c.p.nr_mcast, NETIF_MCAST_MAX);
	sw_destroy(f.s);
}

static void test_spoof(void **state)
{
	struct fix f;
	struct sw_buf b;
	const uint8_t other[6] = { 0x00, 0x16, 0x3e, 9, 9, 9 };

	(void)state;
	fix_init(&f, 64, 300);
	f.a.p.check_src = true;
	sw_input(f.s, &f.a.p, frame(&b, BCAST, other));
	counts(&f, 0, 0, 0);
	assert_int_equal(f.a.p.stats.drop_spoof, 1);
	/* Nothing learnt from a spoofed frame: b's traffic to it floods. */
	assert_null(sw_fdb_lookup(f.s, other));
	sw_input(f.s, &f.a.p, frame(&b, BCAST, f.a.p.mac));
	counts(&f, 0, 1, 1);
	assert_int_equal(f.a.p.stats.drop_spoof, 1);
	sw_destroy(f.s);
}

static void test_table_full_and_port_removal(void **state)
{
	struct fix f;
	struct sw_buf b;

	(void)state;
	fix_init(&f, 16, 300);
	for (unsigned i = 0; i < 20; i++) {
		sw_set_now(f.s, i);
		sw_input(f.s, &f.a.p, frame(&b, BCAST, (uint8_t[]){ 2, 0, 0, 0, 0, (uint8_t)i }));
	}
	assert_int_equal(f.s->fdb_count, 16);
	assert_int_equal(f.s->evicted, 4);
	/* The oldest went first. */
	assert_null(sw_fdb_lookup(f.s, (uint8_t[]){ 2, 0, 0, 0, 0, 0 }));
	assert_ptr_equal(sw_fdb_lookup(f.s, (uint8_t[]){ 2, 0, 0, 0, 0, 19 }), &f.a.p);
	sw_input(f.s, &f.b.p, frame(&b, BCAST, f.b.p.mac));
	sw_port_del(f.s, &f.a.p);
	assert_int_equal(f.s->fdb_count, 1);
	assert_ptr_equal(sw_fdb_lookup(f.s, f.b.p.mac), &f.b.p);
	/* A removed port gets nothing. */
	unsigned a = f.a.got, c = f.c.got;

	sw_input(f.s, &f.b.p, frame(&b, BCAST, f.b.p.mac));
	assert_int_equal(f.a.got, a);
	assert_int_equal(f.c.got, c + 1);
	sw_destroy(f.s);
}

static void test_fdb_render(void **state)
{
	struct fix f;
	struct sw_buf b;
	char *out = NULL;
	size_t len = 0;
	FILE *m;

	(void)state;
	fix_init(&f, 64, 300);
	sw_input(f.s, &f.a.p, frame(&b, BCAST, f.a.p.mac));
	m = open_memstream(&out, &len);
	sw_fdb_render(f.s, m, true);
	fclose(m);
	assert_non_null(strstr(out, "\"mac\":\"00:16:3e:00:00:01\",\"port\":\"a\""));
	assert_non_null(strstr(out, "\"entries\":1"));
	free(out);
	m = open_memstream(&out, &len);
	sw_fdb_render(f.s, m, false);
	fclose(m);
	assert_non_null(strstr(out, "00:16:3e:00:00:01  a"));
	free(out);
	sw_destroy(f.s);
}

static void test_parse(void **state)
{
	uint8_t p[128] = { 0 };
	struct sw_l34 l;
	struct netif_flow fl;
	uint16_t start, off;

	(void)state;
	/* IPv4 (ihl 6: options) + TCP (doff 8). */
	p[12] = 0x08;
	p[14] = 0x46;
	p[14 + 9] = 6;
	p[14 + 12] = 10;
	p[14 + 16] = 11;
	p[14 + 24 + 12] = 8 << 4;
	sw_parse(p, 128, &l);
	assert_int_equal(l.l3_off, 14);
	assert_int_equal(l.l4_off, 38);
	assert_int_equal(l.l4_hdr_len, 32);
	assert_int_equal(sw_csum_offsets(&l, &start, &off), 0);
	assert_int_equal(start, 38);
	assert_int_equal(off, 16);
	assert_true(sw_flow(p, 128, &l, &fl));
	assert_false(fl.ipv6);
	assert_true(fl.tcp);
	assert_int_equal(fl.saddr[0], 10);
	assert_int_equal(fl.daddr[0], 11);
	/* A fragment has no L4 header to set a checksum in. */
	p[14 + 6] = 0x20;
	sw_parse(p, 128, &l);
	assert_true(l.fragment);
	assert_int_equal(sw_csum_offsets(&l, &start, &off), -1);
	/* VLAN + IPv6 + hop-by-hop (8 bytes) + UDP. */
	memset(p, 0, sizeof(p));
	p[12] = 0x81;
	p[16] = 0x86;
	p[17] = 0xdd;
	p[18] = 0x60;
	p[18 + 6] = 0;       /* hop-by-hop */
	p[18 + 40] = 17;     /* then UDP */
	sw_parse(p, 128, &l);
	assert_true(l.ipv6);
	assert_int_equal(l.l3_off, 18);
	assert_int_equal(l.l4_proto, 17);
	assert_int_equal(l.l4_off, 18 + 40 + 8);
	assert_int_equal(sw_csum_offsets(&l, &start, &off), 0);
	assert_int_equal(off, 6);
	/* Truncated: nothing past what is there. */
	sw_parse(p, 30, &l);
	assert_int_equal(l.l3_off, 0);
	assert_false(sw_flow(p, 30, &l, &fl));
	/* MAC strings. */
	uint8_t mac[6];

	assert_true(sw_mac_parse("00:16:3e:0a:bB:01", mac));
	assert_int_equal(mac[4], 0xbb);
	assert_false(sw_mac_parse("00:16:3e:0a:bb", mac));
	assert_false(sw_mac_parse("00:16:3e:0a:bb:01:02", mac));
	assert_false(sw_mac_parse(NULL, mac));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learning_and_flooding),
		cmocka_unit_test(test_ageing),
		cmocka_unit_test(test_multicast_filter),
		cmocka_unit_test(test_spoof),
		cmocka_unit_test(test_table_full_and_port_removal),
		cmocka_unit_test(test_fdb_render),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
