/* Joining the cluster: register with the MDS (once per start; the id is
 * kept in DATA/osd_id so a restarted OSD keeps its identity and data),
 * then a heartbeat every heartbeat_ms. An MDS that no longer knows us
 * (-ENOENT) gets a fresh registration. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cfs/log.h"
#include "mds.pb-c.h"
#include "osd.h"

static uint32_t load_id(struct osd *osd)
{
	char path[512];
	unsigned id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/osd_id", osd->cfg.data);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &id) != 1)
		id = 0;
	fclose(f);
	return id;
}

static int save_id(struct osd *osd, uint32_t id)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/osd_id", osd->cfg.data);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%u\n", id);
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

static int register_once(struct osd *osd)
{
	Cfs__MdsOsdRegister req = CFS__MDS_OSD_REGISTER__INIT;
	struct cfs_rpc_call c = {
		.method = CFS__MDS_METHOD__MDS_OSD_REGISTER,
		.req = &req.base,
		.rep_desc = &cfs__mds_osd_register_reply__descriptor,
		.timeout_ms = 2000,
		.rep_keep = true,	/* its map goes to the holder */
	};
	Cfs__MdsOsdRegisterReply *rep;
	int rc;

	req.id = osd->id ? osd->id : load_id(osd);
	req.addr = osd->cfg.advertise[0] ? osd->cfg.advertise :
						 osd->cfg.listen;
	req.node = osd->cfg.node;
	req.domain = osd->cfg.domain[0] ? osd->cfg.domain : osd->cfg.node;
	osd_space(osd, &req.capacity, &req.used);
	rc = cfs_rpc_call(osd->peers, osd->cfg.mds, &c);
	rep = (Cfs__MdsOsdRegisterReply *)c.rep;
	if (rc == 0 && (!rep || !rep->map))
		rc = -EBADMSG;
	if (rc == 0) {
		osd->heartbeat_ok_ms = cfs_mono_ms();
		osd->id = rep->id;
		rc = save_id(osd, rep->id);
		cfs_map_install(&osd->maps, rep->map);
		rep->map = NULL;	/* now the holder's */
		if (rep->cap_key.len == CFS_CAP_KEY) {
			memcpy(osd->cap_key, rep->cap_key.data, CFS_CAP_KEY);
			osd->has_cap_key = true;
		}
	}
	cfs_rpc_call_done(&c);
	return rc;
}

int osd_register(struct osd *osd)
{
	int rc, tries = 0;

	while ((rc = register_once(osd)) != 0 && !osd->stop && rc != -EPERM) {
		if (tries++ % 10 == 0)
			cfs_log_warn("cannot register with mds, retrying",
				     "mds=%s rc=%d", osd->cfg.mds, rc);
		usleep(500 * 1000);
	}
	if (rc == -EPERM)
		cfs_log_error("the MDS refuses this OSD: it was removed (cfs "
			      "osd rm); wipe the data directory to join again "
			      "as a new OSD", "mds=%s data=%s", osd->cfg.mds,
			      osd->cfg.data);
	if (rc == 0)
		cfs_log_info("registered", "osd=%u mds=%s epoch=%lu", osd->id,
			     osd->cfg.mds,
			     (unsigned long)cfs_map_epoch(&osd->maps));
	return rc;
}

static void *heartbeat_main(void *p)
{
	struct osd *osd = p;

	while (!osd->stop) {
		Cfs__MdsOsdHeartbeat hb = CFS__MDS_OSD_HEARTBEAT__INIT;
		Cfs__HealState heal;
		struct cfs_rpc_call c = {
			.method = CFS__MDS_METHOD__MDS_OSD_HEARTBEAT,
			.req = &hb.base,
			.timeout_ms = (int)osd->cfg.heartbeat_ms,
		};
		int rc;

		hb.id = osd->id;
		hb.map_epoch = cfs_map_epoch(&osd->maps);
		hb.ready = osd->ready;
		hb.recovered_epoch = osd->recovered_epoch;
		osd_heal_state(osd, &heal);
		hb.heal = &heal;
		osd_space(osd, &hb.capacity, &hb.used);
		rc = cfs_rpc_call(osd->peers, osd->cfg.mds, &c);
		cfs_rpc_call_done(&c);
		if (rc == 0 || rc == -ESTALE)
			osd->heartbeat_ok_ms = cfs_mono_ms();
		if (rc == -ESTALE) {
			cfs_log_warn("marked down while away: recovering",
				     "osd=%u", osd->id);
			osd_recovery_request(osd);
		}
		if (rc == -EAGAIN && osd->ready) {
			/* we missed changes and no current peer was up to
			 * backfill us: try again until one is */
			osd->heartbeat_ok_ms = cfs_mono_ms();
			osd_recovery_request(osd);
		}
		if (rc == -EPERM && osd->ready) {
			/* cfs osd rm: we stop serving once the lease ends */
			cfs_log_error("removed from the cluster (cfs osd rm): "
				      "not serving; wipe the data directory to "
				      "join again as a new OSD", "osd=%u",
				      osd->id);
			osd->ready = false;
		}
		if (rc == -ENOENT && osd_register(osd) == 0)
			osd_recovery_request(osd);
		usleep((useconds_t)osd->cfg.heartbeat_ms * 1000);
	}
	return NULL;
}

int osd_heartbeat_start(struct osd *osd)
{
	if (pthread_create(&osd->heartbeat, NULL, heartbeat_main, osd))
		return -EAGAIN;
	return 0;
}
