/*
 * vif_harness.h - the fixture test_vif.c and test_vif_uplink.c share:
 * blanketd's real vif code on a libev loop over fake_xen.c, the test as
 * toolstack and netfront, a test port on the switch as the outside world,
 * and AU, an asynchronous uplink with kshim-net's contract.
 */
#ifndef BLANKET_VIF_HARNESS_H
#define BLANKET_VIF_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_xen.h"
#include "test_loop.h"
#include "vif.h"

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#define DOM_A 5u
#define DOM_B 6u
#define TIMEOUT_MS 3000
#define GREF(page) (0x20000u + (page))
#define PAGE FAKE_PAGE_SIZE

extern const uint8_t BCAST[6];
extern const uint8_t OUT_MAC[6];  /* behind the test port */

struct rec {                 /* a frame the test port received */
	unsigned len;
	uint8_t data[70000];
	struct net_meta meta;
};

/* The fixture: setup() builds it, teardown() checks nothing leaked. */
struct vif_test {
	struct bl_xen *xen;
	struct ev_loop *loop;
	struct bl_config cfg;
	struct test_loop tl;
	unsigned next_page;
	evtchn_port_t next_remote;
	/* the outside world */
	struct sw_port port;
	unsigned got;
	struct rec *rec;         /* the last frame */
	unsigned injected, released;
};
extern struct vif_test T;

struct vq {
	unsigned tx_page, rx_page;
	evtchn_port_t rtx, rrx;
	int ltx, lrx;
	struct netif_tx_front_ring tx;
	struct netif_rx_front_ring rx;
	uint16_t next_id;
};

struct vfe {
	uint32_t domid, devid;
	char be[128], fe[128];
	uint8_t mac[6];
	unsigned nq;
	bool split, no_rx_copy, mcast_ctrl, ctrl, no_gso;
	struct vq q[4];
	unsigned ctrl_page;
	evtchn_port_t rctrl;
	int lctrl;
	struct xen_netif_ctrl_front_ring cr;
};

/* An asynchronous uplink (kshim-net's contract) that holds what it is given. */
struct vif_au {
	struct net_uplink u;
	void *held[8];
	unsigned nheld, closed;
	uint8_t last[9000];         /* the last frame, read through its iovecs */
	int regs;                   /* registrations held (mem_register) */
	size_t last_len;
	struct net_uplink_buf rb;
	struct iovec rfrag[3];
	uint8_t rdata[3][4096];
	unsigned rx_released;
};
extern struct vif_au AU;
/* AU's operations, for a test that builds a variant of its ops. */
int au_tx_async(struct net_uplink *u, const struct iovec *iov, unsigned n,
		const struct net_meta *m, void *cookie);
void au_rx_release(struct net_uplink *u, struct net_uplink_buf *b);
void au_close(struct net_uplink *u);
int au_mem_register(struct net_uplink *u, void *addr, size_t len);
void au_mem_unregister(struct net_uplink *u, void *addr, size_t len);

bool run_until(bool (*cond)(const void *), const void *arg);
void run_for(int ms);
int setup(void **state);
int teardown(void **state);
unsigned page_alloc(void);
void fe_init(struct vfe *f, uint32_t domid, uint32_t devid);
void toolstack_add(const struct vfe *f);
void fe_connect(struct vfe *f);
void fe_find_ports(struct vfe *f);
void connect_vif(struct vfe *f);
struct vif *find_vif(const struct vfe *f);
/* fe_init (device 0 of domid), connect_vif, find_vif. */
struct vif *vif_up(struct vfe *f, uint32_t domid);
void tx_req(struct vfe *f, unsigned qi, grant_ref_t gref, uint16_t off, uint16_t flags,
	    uint16_t size, uint16_t *id);
void tx_extra(struct vfe *f, unsigned qi, const struct netif_extra_info *x);
void tx_push(struct vfe *f, unsigned qi);
void frame_fill(uint8_t *p, unsigned len, const uint8_t *dst, const uint8_t *src,
		uint8_t seed);
unsigned tx_frame(struct vfe *f, unsigned qi, const uint8_t *dst, const uint8_t *src,
		  unsigned len, unsigned nslots, uint8_t seed, uint8_t *copy);
unsigned tx_unconsumed(struct vfe *f, unsigned qi);
unsigned rx_unconsumed(struct vfe *f, unsigned qi);
void tx_wait(struct vfe *f, unsigned qi, unsigned n);
struct netif_tx_response tx_pop(struct vfe *f, unsigned qi);
void tx_expect(struct vfe *f, unsigned qi, unsigned n, int16_t st);
void rx_post(struct vfe *f, unsigned qi, unsigned n, unsigned *pages);
void rx_wait(struct vfe *f, unsigned qi, unsigned n);
struct netif_rx_response rx_pop(struct vfe *f, unsigned qi);
void announce(struct vfe *f);
/* b: a frame of len bytes from src to dst (its header copy) whose one
 * fragment names a grant of DOM_A that is gone; b must never be released. */
void gone_frame(struct sw_buf *b, const uint8_t *dst, const uint8_t *src, unsigned len);
void inject(const uint8_t *dst, unsigned len, uint8_t seed, const struct net_meta *m,
	    uint8_t *copy);
void inject_ip(const uint8_t *dst, uint8_t src);
void reconnect(struct vfe *f);
void au_complete_all(void);
void au_attach(void);
/* au_attach with a variant of AU's operations. */
void au_attach_ops(const struct net_uplink_ops *ops);

#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TC(f, conf) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, (void *)conf)

#endif
