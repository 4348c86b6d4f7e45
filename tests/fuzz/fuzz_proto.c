// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness over the shim<->daemon protocol as bpfilterd parses and answers it
 * (bfd_request_valid, bfd_request_serve in daemon/server.c), on a table store without a
 * datapath.
 *
 * Input: one byte of peer rights (bit 0: no CAP_NET_ADMIN, bit 1: may not read the table-name
 * files, bit 2: another network namespace), then what a client writes on one connection: request
 * headers, each followed by its payload. The server serves one request per connection; here the
 * requests of a whole iptables run (the seeds, tests/fuzz/seeds) share one store, so that a replace
 * is followed by the reads and counter updates that come after it. Parsing stops where the server
 * would close the connection (an invalid header) or wait for bytes that never come.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/protocol.h>

#include "../../daemon/server.h"
#include "../../daemon/xt_store.h"
#include "fuzz_lib.h"

#define BF_FUZZ_MAX_REQUESTS 64

static void check_response(const struct bfd_peer_rights *peer, const struct bpfilter_request *req,
			   const uint8_t *payload, const struct bpfilter_response *rsp,
			   const uint8_t *out)
{
	BF_FUZZ_CHECK(rsp->magic == BPFILTER_MAGIC && rsp->version == BPFILTER_VERSION,
		      "response header %#x/%u", rsp->magic, rsp->version);
	BF_FUZZ_CHECK(rsp->error >= 0 && rsp->error < 4096, "error %d", rsp->error);
	BF_FUZZ_CHECK(!!rsp->payload_len == !!out, "payload %u bytes at %p", rsp->payload_len,
		      (const void *)out);
	BF_FUZZ_CHECK(!rsp->error || (!rsp->payload_len && !rsp->optlen),
		      "error %d with %u payload bytes, optlen %u", rsp->error, rsp->payload_len,
		      rsp->optlen);
	BF_FUZZ_CHECK(rsp->payload_len <= BPFILTER_MAX_PAYLOAD, "%u payload bytes",
		      rsp->payload_len);

	if (peer->other_netns) {
		BF_FUZZ_CHECK(rsp->flags == BPFILTER_RESP_F_WRONG_NETNS &&
				      rsp->error == ENOPROTOOPT,
			      "other netns: flags %#x error %d", rsp->flags, rsp->error);
		return;
	}
	BF_FUZZ_CHECK(!rsp->flags, "flags %#x", rsp->flags);

	switch (req->op) {
	case BPFILTER_OP_TABLE_NAMES:
		BF_FUZZ_CHECK(peer->may_read_names || rsp->error == EACCES,
			      "table names without the right: %d", rsp->error);
		if (rsp->payload_len) {
			for (uint32_t i = 0; i < rsp->payload_len; i++)
				BF_FUZZ_CHECK(out[i] >= ' ' || out[i] == '\n',
					      "byte %u of the table names is %#x", i, out[i]);
			BF_FUZZ_CHECK(out[rsp->payload_len - 1] == '\n',
				      "table names do not end a line");
		}
		break;
	case BPFILTER_OP_GETSOCKOPT:
		BF_FUZZ_CHECK(peer->may_admin || rsp->error == EPERM, "get without CAP_NET_ADMIN");
		BF_FUZZ_CHECK(rsp->payload_len <= req->optlen && rsp->optlen <= req->optlen,
			      "get: %u bytes, optlen %u for a %u-byte buffer", rsp->payload_len,
			      rsp->optlen, req->optlen);
		break;
	case BPFILTER_OP_SETSOCKOPT:
		BF_FUZZ_CHECK(peer->may_admin || rsp->error == EPERM, "set without CAP_NET_ADMIN");
		BF_FUZZ_CHECK(!rsp->optlen, "set answered optlen %u", rsp->optlen);
		if (!rsp->error && req->optname == IPT_SO_SET_REPLACE) {
			struct ipt_replace h;

			BF_FUZZ_CHECK(req->payload_len >= sizeof(h),
				      "replace of %u bytes succeeded", req->payload_len);
			memcpy(&h, payload, sizeof(h));
			BF_FUZZ_CHECK(rsp->payload_len ==
					      (uint64_t)h.num_counters * sizeof(struct xt_counters),
				      "%u bytes of old counters for num_counters %u",
				      rsp->payload_len, h.num_counters);
		} else {
			BF_FUZZ_CHECK(!rsp->payload_len, "set answered %u bytes", rsp->payload_len);
		}
		break;
	case BPFILTER_OP_RECENT:
		/* /proc/net/xt_recent/NAME: as the kernel's files, only an administrator writes;
		 * a write answers how many bytes it took, a read the file's text. */
		if (req->optname == BPFILTER_RECENT_WRITE) {
			BF_FUZZ_CHECK(peer->may_admin || rsp->error == EACCES,
				      "recent write without CAP_NET_ADMIN");
			BF_FUZZ_CHECK(!rsp->payload_len, "recent write answered %u bytes",
				      rsp->payload_len);
			BF_FUZZ_CHECK(rsp->error || rsp->optlen < req->payload_len,
				      "recent write took %u of %u bytes", rsp->optlen,
				      req->payload_len);
		} else {
			BF_FUZZ_CHECK(req->optname == BPFILTER_RECENT_READ,
				      "recent optname %u served", req->optname);
			BF_FUZZ_CHECK(!rsp->error || !rsp->payload_len,
				      "recent read failed with %u bytes", rsp->payload_len);
		}
		break;
	default:
		BF_FUZZ_CHECK(false, "a request with op %u was served", req->op);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bfd_peer_rights peer = {.pid = 1};
	struct xt_store *s = NULL;
	size_t pos = 1;

	if (size < 1)
		return 0;
	peer.may_admin = !(data[0] & 1);
	peer.may_read_names = !(data[0] & 2);
	peer.other_netns = data[0] & 4;
	BF_FUZZ_CHECK(xt_store_new(NULL, &bf_fuzz_log, &s) == 0, "xt_store_new");

	for (int n = 0; n < BF_FUZZ_MAX_REQUESTS && size - pos >= sizeof(struct bpfilter_request);
	     n++) {
		struct bpfilter_request req;
		struct bpfilter_response rsp;
		const char *why = NULL;
		uint8_t *payload;
		void *out = NULL;

		memcpy(&req, data + pos, sizeof(req));
		pos += sizeof(req);
		if (!bfd_request_valid(&req, &why)) {
			BF_FUZZ_CHECK(why, "an invalid request without a reason");
			break;
		}
		BF_FUZZ_CHECK(!why && req.payload_len <= BPFILTER_MAX_PAYLOAD,
			      "valid request with payload_len %u", req.payload_len);
		if (req.payload_len > size - pos)
			break; /* the client stops sending: the server times the connection out */
		/* Exactly payload_len bytes on the heap, as the server buffers them. */
		payload = malloc(req.payload_len ? req.payload_len : 1);
		BF_FUZZ_CHECK(payload, "out of memory");
		memcpy(payload, data + pos, req.payload_len);
		pos += req.payload_len;

		bfd_request_serve(s, &peer, &req, req.payload_len ? payload : NULL, &rsp, &out);
		check_response(&peer, &req, payload, &rsp, out);
		free(out);
		free(payload);
	}
	xt_store_free(s);
	return 0;
}
