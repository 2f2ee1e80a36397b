/*
 * xmldoc: the two XML documents of a backup, and the only user of libxml2.
 *
 * A Writer Metadata Document (WMD) is what a writer says of itself: its name and id and its
 * components, each a name, a caption and the paths (files or directories) it covers. A Backup
 * Components Document (BCD) is what a backup application keeps beside a backup: the snapshot
 * set (id, creation time, its snapshots, one per volume) and the writers that took part, with
 * the components selected. docs/documents.md describes both formats; the schemas
 * (XML Schema 1.0) are compiled into the library, and every document read is validated
 * against its schema first.
 *
 * Reading returns -EBADMSG for a document that is not well-formed or not valid, with one line
 * in err naming the line of the document and the cause; -EMSGSIZE for one over 1 MiB;
 * -ENOMEM when memory runs out. Documents are read as UTF-8 whatever they declare, and one
 * with a DOCTYPE is refused (nothing is ever expanded or loaded). *ret is set only on success
 * and released with the matching _release(). A WMD's components are never 'selected'.
 * Writing returns a NUL-terminated heap string the caller frees, or NULL when out of memory;
 * it does not validate: strings over the schema's limits give a document that reading refuses.
 *
 * Thread-safety: every function may be called from any thread (xmldoc_init() runs libxml2's
 * one-time setup and is called by the others).
 */
#ifndef SNAPFS_XMLDOC_H
#define SNAPFS_XMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XMLDOC_ERR_MAX 256

struct xmldoc_component {
	char *name;
	char *caption;           /* "" when none */
	char **paths;
	size_t n_paths;
	bool selected;           /* BCD only: selected for the backup */
};

struct xmldoc_wmd {
	char *writer_id;
	char *writer_name;
	struct xmldoc_component *components;
	size_t n_components;
};

struct xmldoc_snapshot {
	char *volume;            /* mount point */
	char *source;            /* the directory the volume serves */
	char *id;
	char *browse;            /* @GMT-... */
	char *provider;
};

struct xmldoc_bcd {
	char *set_id;
	int64_t created_ns;      /* nanoseconds since the epoch, UTC */
	struct xmldoc_snapshot *snapshots;
	size_t n_snapshots;
	struct xmldoc_wmd *writers;  /* the writers that took part; components carry 'selected' */
	size_t n_writers;
};

void xmldoc_init(void);

char *xmldoc_wmd_write(const struct xmldoc_wmd *w);
int xmldoc_wmd_read(const char *xml, size_t len, struct xmldoc_wmd *ret, char *err,
		    size_t errlen);
void xmldoc_wmd_release(struct xmldoc_wmd *w);

char *xmldoc_bcd_write(const struct xmldoc_bcd *b);
int xmldoc_bcd_read(const char *xml, size_t len, struct xmldoc_bcd *ret, char *err,
		    size_t errlen);
void xmldoc_bcd_release(struct xmldoc_bcd *b);

#endif
