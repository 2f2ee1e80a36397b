/*
 * admin.c: the operations snapfs, snapshadow and snapfsd share (admin.h). They speak to the
 * daemons of the volumes through control_client.h, read the detached store through
 * transport.h, and ask expose.h whether a snapshot is exposed; they print nothing.
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "expose.h"
#include "provider.h"
#include "transport.h"
#include "volume.h"

#define STATE_DIR_DEFAULT "/var/lib/snapfs"
#define DETACHED_DIR "detached"

int admin_state_path(char *buf, size_t size, const char *sub)
{
	const char *dir = getenv("SNAPFS_STATE_DIR");
	char cwd[PATH_MAX] = "";
	int n;

	if (!dir || !*dir)
		dir = STATE_DIR_DEFAULT;
	/* absolute: the exposures' daemons run from / */
	if (dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	n = snprintf(buf, size, "%s%s%s%s%s", cwd, cwd[0] ? "/" : "", dir, sub ? "/" : "",
		     sub ? sub : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int admin_detached_store(char *buf, size_t size, char *msg, size_t msglen)
{
	char state[PATH_MAX];

	if (admin_state_path(state, sizeof(state), NULL) < 0 ||
	    admin_state_path(buf, size, DETACHED_DIR) < 0) {
		snprintf(msg, msglen, "the state directory's path is too long");
		return -ENAMETOOLONG;
	}
	if ((mkdir(state, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(buf, 0700) < 0 && errno != EEXIST)) {
		snprintf(msg, msglen, "cannot create '%s': %s", buf, strerror(errno));
		return -errno;
	}
	return 0;
}

int admin_volume(const char *mnt, struct control_volume *v, char *msg, size_t msglen)
{
	int r = control_volume_find(mnt, v);

	if (r == -ENOTCONN)
		snprintf(msg, msglen, "'%s' is not a snapfs volume", mnt);
	else if (r < 0)
		snprintf(msg, msglen, "'%s': %s", mnt, strerror(-r));
	return r;
}

int admin_request(const struct control_volume *v, const char *line, struct control_reply *rep,
		  char *msg, size_t msglen)
{
	int r = control_request(v, line, rep);

	if (r == -EBADMSG) {
		snprintf(msg, msglen, "the daemon of '%s' sent a malformed reply", v->mnt);
	} else if (r < 0) {
		snprintf(msg, msglen, "cannot reach the daemon of '%s' (socket in '%s/%s'): %s",
			 v->mnt, v->src, VOLUME_STATE_DIR, strerror(-r));
	} else if (rep->err) {
		snprintf(msg, msglen, "'%s': %s", v->mnt,
			 rep->rest[0] ? rep->rest : strerror(rep->err));
		r = -rep->err;
	}
	if (r < 0)
		control_reply_release(rep);
	return r;
}

/* A 'snap ...' line of the daemon's listing, into s (its volume left to the caller). */
static bool parse_shadow(const char *line, struct admin_shadow *s)
{
	int n = 0;

	memset(s, 0, sizeof(*s));
	return sscanf(line, "snap %36s %36s %" SCNu64 " %" SCNd64 " %63s %" SCNu64 " %15s%n",
		      s->id, s->set_id, &s->epoch, &s->created_ns, s->browse, &s->diff_bytes,
		      s->kind, &n) == 7 && n > 0 && line[n] == '\0';
}

/* Append one element to *v (of *n); false when out of memory. */
static bool grow(struct admin_shadow **v, size_t *n)
{
	struct admin_shadow *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return false;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	++*n;
	return true;
}

static int volume_shadows(const struct control_volume *v, struct admin_shadow **ret, size_t *n,
			  char *msg, size_t msglen)
{
	struct control_reply rep;
	int r = admin_request(v, "list", &rep, msg, msglen);
	bool replied = r == 0;

	for (size_t i = 0; r == 0 && i < rep.n; i++) {
		if (!grow(ret, n)) {
			snprintf(msg, msglen, "out of memory");
			r = -ENOMEM;
		} else if (!parse_shadow(rep.lines[i], &(*ret)[*n - 1])) {
			snprintf(msg, msglen, "the daemon of '%s' sent a malformed reply", v->mnt);
			r = -EBADMSG;
		} else {
			(*ret)[*n - 1].vol = *v;
			snprintf((*ret)[*n - 1].origin, sizeof((*ret)[*n - 1].origin), "%s",
				 v->mnt);
		}
	}
	if (replied)
		control_reply_release(&rep);
	return r;
}

static int detached_shadows(struct admin_shadow **ret, size_t *n, char *msg, size_t msglen)
{
	struct transport_meta *m = NULL;
	char store[PATH_MAX];
	size_t k = 0;
	int r = admin_state_path(store, sizeof(store), DETACHED_DIR);
	if (r == 0)
		r = transport_store_list(store, &m, &k, msg, msglen);
	else
		snprintf(msg, msglen, "the state directory's path is too long");
	for (size_t i = 0; r == 0 && i < k; i++) {
		struct admin_shadow *s;

		if (!grow(ret, n)) {
			snprintf(msg, msglen, "out of memory");
			r = -ENOMEM;
			break;
		}
		s = &(*ret)[*n - 1];
		snprintf(s->id, sizeof(s->id), "%s", m[i].id);
		snprintf(s->set_id, sizeof(s->set_id), "%s", m[i].set_id);
		snprintf(s->browse, sizeof(s->browse), "%s", m[i].browse);
		snprintf(s->kind, sizeof(s->kind), "detached");
		snprintf(s->origin, sizeof(s->origin), "%s", m[i].origin);
		s->created_ns = m[i].created_ns;
		s->detached = true;
	}
	free(m);
	return r;
}

int admin_shadows(const struct control_volume *v, struct admin_shadow **ret, size_t *n,
		  char *msg, size_t msglen)
{
	struct control_volume *vols = NULL;
	char why[ADMIN_MSG];
	int nv, r = 0;

	*ret = NULL;
	*n = 0;
	msg[0] = '\0';
	if (v) {
		r = volume_shadows(v, ret, n, msg, msglen);
	} else {
		nv = control_volume_list(&vols);
		if (nv < 0) {
			snprintf(msg, msglen, "cannot read the mount table: %s", strerror(-nv));
			return nv;
		}
		for (int i = 0; r != -ENOMEM && i < nv; i++) {
			size_t before = *n;

			r = volume_shadows(&vols[i], ret, n, why, sizeof(why));
			if (r < 0 && r != -ENOMEM) {
				*n = before;   /* what it said before failing is not kept */
				if (!msg[0])
					snprintf(msg, msglen, "%s", why);
			} else if (r == -ENOMEM) {
				snprintf(msg, msglen, "%s", why);
			}
		}
		free(vols);
		if (r != -ENOMEM)
			r = detached_shadows(ret, n, why, sizeof(why));
		if (r < 0)
			snprintf(msg, msglen, "%s", why);
	}
	if (r < 0) {
		free(*ret);
		*ret = NULL;
		*n = 0;
	}
	return r;
}

int admin_detached(struct admin_shadow **ret, size_t *n, char *msg, size_t msglen)
{
	int r;

	*ret = NULL;
	*n = 0;
	r = detached_shadows(ret, n, msg, msglen);
	if (r < 0) {
		free(*ret);
		*ret = NULL;
		*n = 0;
	}
	return r;
}

int admin_find_shadow(const char *id, struct admin_shadow *ret, char *msg, size_t msglen)
{
	struct admin_shadow *v;
	size_t n;
	int r = admin_shadows(NULL, &v, &n, msg, msglen);

	if (r < 0)
		return r;
	/* the detached copy first: where an import sits beside its original, it is this
	 * machine's own; the original is still reached through its volume (MNT) */
	r = -ENOENT;
	for (size_t i = n; i-- > 0 && r < 0;) {
		if (strcmp(v[i].id, id) == 0 && v[i].detached) {
			*ret = v[i];
			r = 0;
		}
	}
	for (size_t i = 0; i < n && r < 0; i++) {
		if (strcmp(v[i].id, id) == 0) {
			*ret = v[i];
			r = 0;
		}
	}
	free(v);
	if (r < 0 && msg[0]) {
		char why[ADMIN_MSG];

		snprintf(why, sizeof(why), "%s", msg);
		snprintf(msg, msglen, "no snapshot '%s' found, and a volume did not answer: %.900s",
			 id, why);
	} else if (r < 0) {
		snprintf(msg, msglen, "no snapshot '%s' on any snapfs volume or among the detached "
				      "ones", id);
	}
	return r;
}

int admin_shadow_tree(const struct admin_shadow *s, char *buf, size_t size)
{
	char sub[PATH_MAX];
	int n;

	if (s->detached) {
		n = snprintf(sub, sizeof(sub), "%s/%s/tree", DETACHED_DIR, s->id);
		if (n < 0 || (size_t)n >= sizeof(sub))
			return -ENAMETOOLONG;
		return admin_state_path(buf, size, sub);
	}
	n = snprintf(buf, size, "%s/.snapshots/%s", s->vol.mnt, s->id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int admin_create(const struct control_volume *v, struct admin_shadow *ret, char *msg,
		 size_t msglen)
{
	struct control_reply rep;
	int n = 0, r = admin_request(v, "create", &rep, msg, msglen);

	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	if (sscanf(rep.rest, "%36s %36s %63s%n", ret->id, ret->set_id, ret->browse, &n) != 3 ||
	    rep.rest[n] != '\0') {
		snprintf(msg, msglen, "the daemon of '%s' sent a malformed reply", v->mnt);
		r = -EBADMSG;
	}
	control_reply_release(&rep);
	ret->vol = *v;
	snprintf(ret->origin, sizeof(ret->origin), "%s", v->mnt);
	snprintf(ret->kind, sizeof(ret->kind), "journal");
	return r;
}

int admin_check_unexposed(const char *id, char *msg, size_t msglen)
{
	struct exposure ex;
	int r = expose_lookup(id, &ex);

	if (r < 0)
		snprintf(msg, msglen, "cannot tell whether snapshot '%s' is exposed: %s", id,
			 strerror(-r));
	else if (r > 0)
		snprintf(msg, msglen, "snapshot '%s' is exposed at '%s'; unexpose it first", id,
			 ex.dir);
	return r < 0 ? r : r > 0 ? -EBUSY : 0;
}

/* admin_delete() while no exposure can be made. */
static int delete_unexposed(const struct admin_shadow *s, char *msg, size_t msglen)
{
	struct control_reply rep;
	char line[64], path[PATH_MAX];
	int r = admin_check_unexposed(s->id, msg, msglen);

	if (r < 0)
		return r;
	if (!s->detached) {
		snprintf(line, sizeof(line), "delete %s", s->id);
		r = admin_request(&s->vol, line, &rep, msg, msglen);
		if (r == 0)
			control_reply_release(&rep);
		return r;
	}
	snprintf(line, sizeof(line), "%s/%s", DETACHED_DIR, s->id);
	if (admin_state_path(path, sizeof(path), line) < 0) {
		snprintf(msg, msglen, "the state directory's path is too long");
		return -ENAMETOOLONG;
	}
	r = tree_remove_all(AT_FDCWD, path);
	if (r < 0)
		snprintf(msg, msglen, "cannot remove '%s': %s", path, strerror(-r));
	return r;
}

int admin_delete(const struct admin_shadow *s, char *msg, size_t msglen)
{
	int hold, r = expose_hold(&hold, msg, msglen);

	if (r < 0)
		return r;
	r = delete_unexposed(s, msg, msglen);
	expose_release(hold);
	return r;
}

void admin_format_utc(int64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "?");
}
