/*
 * xmldoc.c owns the reading and writing of the two XML documents of a backup (see xmldoc.h and
 * docs/documents.md) and is the only file that includes libxml2's headers. It compiles the
 * schemas of xmldoc_schema.c once, and turns every document it reads into plain structs only
 * after the schema has accepted it, so that the rest of snapfs never sees a libxml2 type.
 *
 * What it must not do: expand entities, load a DTD or anything from the network (a document
 * with a <!DOCTYPE> is refused before its declarations are read), read documents larger than
 * XMLDOC_MAX_SIZE, or let libxml2 print. Every error goes to a handler on the parser or
 * validation context of the call; libxml2's process-wide error handlers are never touched, so
 * that the reads of different threads stay apart.
 */
#include "xmldoc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "xmldoc_schema.h"

#define XMLDOC_MAX_SIZE (1024 * 1024)
#define NS_PER_SEC INT64_C(1000000000)

/*
 * NONET and no NOENT/DTDLOAD: nothing is fetched and entities stay unexpanded (the DOCTYPE hook
 * refuses them anyway). NOERROR/NOWARNING unset the SAX printing callbacks, so that an error
 * libxml2 raised outside our handler would still not reach stderr. Documents are read as UTF-8
 * whatever they declare (IGNORE_ENC): libxml2's converters report their errors only through the
 * process-wide handler, which prints.
 */
#define READ_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_BIG_LINES | \
		      XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC)

enum doc_kind {
	DOC_WMD,
	DOC_BCD,
};

struct doc_format {
	const char *label;      /* in messages */
	const char *ns;
	const char *root;
	const char *schema_text;
};

static const struct doc_format formats[] = {
	[DOC_WMD] = { "writer metadata", "urn:snapfs:wmd:1", "writer", xmldoc_wmd_schema },
	[DOC_BCD] = { "backup components", "urn:snapfs:bcd:1", "backup", xmldoc_bcd_schema },
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_once_t schemas_once = PTHREAD_ONCE_INIT;
/* compiled once, then only read: libxml2 lets validation contexts share a schema */
static xmlSchemaPtr schemas[2];

/* An element that starts past the 65535 lines that libxml2's nodes can count. */
struct big_line {
	const void *node;
	int line;
};

/*
 * What one read learns on the way: its first error (what err says, and -ENOMEM rather than
 * -EBADMSG if so), and the true lines of the elements that start past line 65535.
 */
struct read_state {
	bool is_set;
	bool is_oom;
	int line;
	char msg[XMLDOC_ERR_MAX];
	struct big_line *big_lines;
	size_t n_big_lines;
	size_t max_big_lines;
};

static void init_library(void)
{
	xmlInitParser();
}

void xmldoc_init(void)
{
	(void)pthread_once(&init_once, init_library);
}

static void ignore_error(void *data, xmlErrorPtr e)
{
	(void)data;
	(void)e;
}

/* The schemas are constants: compiling them fails only when memory runs out. */
static void compile_schemas(void)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const char *text = formats[i].schema_text;
		xmlSchemaParserCtxtPtr pctxt;

		pctxt = xmlSchemaNewMemParserCtxt(text, (int)strlen(text));
		if (!pctxt)
			continue;
		xmlSchemaSetParserStructuredErrors(pctxt, ignore_error, NULL);
		schemas[i] = xmlSchemaParse(pctxt);
		xmlSchemaFreeParserCtxt(pctxt);
	}
}

__attribute__((format(printf, 3, 4)))
static void set_error(struct read_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	if (st->is_set)
		return;
	st->is_set = true;
	st->line = line;
	va_start(ap, fmt);
	(void)vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
}

/* Keeps the first error (not warning) libxml2 reports, as one line with no trailing newline. */
static void note_error(struct read_state *st, const xmlError *e)
{
	size_t n;

	if (e->level < XML_ERR_ERROR || st->is_set)
		return;
	set_error(st, e->line, "%s", e->message ? e->message : "unknown error");
	for (n = 0; st->msg[n]; n++) {
		if (st->msg[n] == '\n' || st->msg[n] == '\r')
			st->msg[n] = ' ';
	}
	while (n > 0 && st->msg[n - 1] == ' ')
		st->msg[--n] = '\0';
	if (e->code == XML_ERR_NO_MEMORY)
		st->is_oom = true;
}

/* serror of the parser's SAX handler: data is ctxt->userData, the parser context itself. */
static void on_parse_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;

	note_error(ctxt->_private, e);
}

/* A node's line stops at 65535 in libxml2's tree: a validity error there needs the true one. */
static void on_valid_error(void *data, xmlErrorPtr e)
{
	struct read_state *st = data;
	bool had_error = st->is_set;

	note_error(st, e);
	if (had_error || !st->is_set || e->line < USHRT_MAX || !e->node)
		return;
	for (size_t i = 0; i < st->n_big_lines; i++) {
		if (st->big_lines[i].node == e->node) {
			st->line = st->big_lines[i].line;
			break;
		}
	}
}

/* startElementNs of the SAX handler: builds the element, and notes its line past 65535. */
static void on_start_element(void *data, const xmlChar *localname, const xmlChar *prefix,
			     const xmlChar *uri, int n_namespaces, const xmlChar **namespaces,
			     int n_attributes, int n_defaulted, const xmlChar **attributes)
{
	xmlParserCtxtPtr ctxt = data;
	struct read_state *st = ctxt->_private;
	struct big_line *grown;
	size_t max;

	xmlSAX2StartElementNs(data, localname, prefix, uri, n_namespaces, namespaces,
			      n_attributes, n_defaulted, attributes);
	if (!ctxt->input || ctxt->input->line < USHRT_MAX || !ctxt->node)
		return;
	if (st->n_big_lines == st->max_big_lines) {
		max = st->max_big_lines ? 2 * st->max_big_lines : 64;
		grown = reallocarray(st->big_lines, max, sizeof(*grown));
		if (!grown) {
			st->is_oom = true;
			xmlStopParser(ctxt);
			return;
		}
		st->big_lines = grown;
		st->max_big_lines = max;
	}
	st->big_lines[st->n_big_lines++] = (struct big_line){ ctxt->node, ctxt->input->line };
}

/*
 * internalSubset of the SAX handler, called at "<!DOCTYPE name ...", before any declaration of
 * the internal subset is read: no document of ours has one, so the parse stops here.
 */
static void on_doctype(void *data, const xmlChar *name, const xmlChar *external_id,
		       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = data;

	(void)name;
	(void)external_id;
	(void)system_id;
	set_error(ctxt->_private, ctxt->input ? ctxt->input->line : 0,
		  "document type declarations are not allowed");
	xmlStopParser(ctxt);
}

static int report(const struct read_state *st, char *err, size_t errlen)
{
	if (st->is_oom) {
		if (errlen > 0)
			(void)snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (errlen > 0)
		(void)snprintf(err, errlen, "line %d: %s", st->line, st->msg);
	return -EBADMSG;
}

/*
 * Parses xml and validates it against the schema of kind. On success *ret_doc is the tree,
 * for the caller to xmlFreeDoc(); on failure err says why.
 */
static int load_doc(enum doc_kind kind, const char *xml, size_t len, xmlDocPtr *ret_doc,
		    char *err, size_t errlen)
{
	const struct doc_format *f = &formats[kind];
	struct read_state st = { 0 };
	xmlSchemaValidCtxtPtr vctxt;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int r;

	xmldoc_init();
	if (errlen > 0)
		err[0] = '\0';
	if (len > XMLDOC_MAX_SIZE) {
		if (errlen > 0)
			(void)snprintf(err, errlen, "document larger than %d bytes",
				       XMLDOC_MAX_SIZE);
		return -EMSGSIZE;
	}
	(void)pthread_once(&schemas_once, compile_schemas);
	if (!schemas[kind]) {
		if (errlen > 0)
			(void)snprintf(err, errlen, "cannot compile the %s schema", f->label);
		return -ENOMEM;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		st.is_oom = true;
		return report(&st, err, errlen);
	}
	/* the handlers are this context's own: other threads' reads are not affected */
	ctxt->_private = &st;
	ctxt->sax->serror = on_parse_error;
	ctxt->sax->internalSubset = on_doctype;
	ctxt->sax->startElementNs = on_start_element;
	doc = xmlCtxtReadMemory(ctxt, xml ? xml : "", (int)len, NULL, "UTF-8", READ_OPTIONS);
	if (!doc || !ctxt->wellFormed || !xmlDocGetRootElement(doc)) {
		if (ctxt->errNo == XML_ERR_NO_MEMORY)
			st.is_oom = true;
		set_error(&st, 1, "not a well-formed document");
	}
	xmlFreeParserCtxt(ctxt);
	if (st.is_set || st.is_oom) {
		r = report(&st, err, errlen);
		goto out_free_doc;
	}
	vctxt = xmlSchemaNewValidCtxt(schemas[kind]);
	if (!vctxt) {
		st.is_oom = true;
		r = report(&st, err, errlen);
		goto out_free_doc;
	}
	xmlSchemaSetValidStructuredErrors(vctxt, on_valid_error, &st);
	r = xmlSchemaValidateDoc(vctxt, doc);
	xmlSchemaFreeValidCtxt(vctxt);
	if (r != 0 || st.is_set) {
		set_error(&st, (int)xmlGetLineNo(xmlDocGetRootElement(doc)),
			  "not a valid %s document", f->label);
		r = report(&st, err, errlen);
		goto out_free_doc;
	}
	free(st.big_lines);
	*ret_doc = doc;
	return 0;
out_free_doc:
	xmlFreeDoc(doc);
	free(st.big_lines);
	return r;
}

/* Writing */

static const xmlChar *xs(const char *s)
{
	return (const xmlChar *)(s ? s : "");
}

static xmlNodePtr new_doc(enum doc_kind kind, xmlDocPtr *ret_doc)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	xmlNsPtr ns;

	xmldoc_init();
	doc = xmlNewDoc(xs("1.0"));
	if (!doc)
		return NULL;
	root = xmlNewDocNode(doc, NULL, xs(formats[kind].root), NULL);
	if (!root)
		goto out_free_doc;
	(void)xmlDocSetRootElement(doc, root);
	ns = xmlNewNs(root, xs(formats[kind].ns), NULL);
	if (!ns)
		goto out_free_doc;
	xmlSetNs(root, ns);
	if (!xmlNewProp(root, xs("version"), xs("1")))
		goto out_free_doc;
	*ret_doc = doc;
	return root;
out_free_doc:
	xmlFreeDoc(doc);
	return NULL;
}

/* Adds an attribute; libxml2 escapes the value when it serializes the tree. */
static int add_prop(xmlNodePtr node, const char *name, const char *value)
{
	return xmlNewProp(node, xs(name), xs(value)) ? 0 : -ENOMEM;
}

/* Fills a WMD root or a BCD writer element. */
static int add_writer(xmlNodePtr parent, const struct xmldoc_wmd *w, bool is_bcd)
{
	if (add_prop(parent, "id", w->writer_id) < 0 ||
	    add_prop(parent, "name", w->writer_name) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < w->n_components; i++) {
		const struct xmldoc_component *c = &w->components[i];
		xmlNodePtr node = xmlNewChild(parent, parent->ns, xs("component"), NULL);

		if (!node || add_prop(node, "name", c->name) < 0)
			return -ENOMEM;
		if (c->caption && c->caption[0] && add_prop(node, "caption", c->caption) < 0)
			return -ENOMEM;
		if (is_bcd && add_prop(node, "selected", c->selected ? "true" : "false") < 0)
			return -ENOMEM;
		for (size_t j = 0; j < c->n_paths; j++) {
			/* the Text variant escapes; xmlNewChild would parse entities in it */
			if (!xmlNewTextChild(node, parent->ns, xs("path"), xs(c->paths[j])))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Frees doc, after serializing it into a string for free() if r (its building) succeeded. */
static char *dump_doc(xmlDocPtr doc, int r)
{
	xmlChar *buf = NULL;
	char *out = NULL;
	int size = 0;

	if (r >= 0)
		xmlDocDumpFormatMemoryEnc(doc, &buf, &size, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!buf || size < 0)
		goto out_free_buf;
	out = malloc((size_t)size + 1);
	if (!out)
		goto out_free_buf;
	memcpy(out, buf, (size_t)size);
	out[size] = '\0';
out_free_buf:
	xmlFree(buf);
	return out;
}

char *xmldoc_wmd_write(const struct xmldoc_wmd *w)
{
	xmlDocPtr doc;
	xmlNodePtr root = new_doc(DOC_WMD, &doc);

	return root ? dump_doc(doc, add_writer(root, w, false)) : NULL;
}

/* RFC 3339 in UTC with nine digits of fraction: 2026-12-07T02:40:00.123456789Z. */
static int format_time(int64_t ns, char *buf, size_t size)
{
	int64_t secs = ns / NS_PER_SEC;
	int64_t frac = ns % NS_PER_SEC;
	time_t t;
	struct tm tm;

	if (frac < 0) {
		frac += NS_PER_SEC;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return -EOVERFLOW;
	(void)snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
		       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return 0;
}

static int add_snapshot(xmlNodePtr root, const struct xmldoc_snapshot *s)
{
	xmlNodePtr node = xmlNewChild(root, root->ns, xs("snapshot"), NULL);

	if (!node || add_prop(node, "volume", s->volume) < 0 ||
	    add_prop(node, "source", s->source) < 0 || add_prop(node, "id", s->id) < 0 ||
	    add_prop(node, "browse", s->browse) < 0 || add_prop(node, "provider", s->provider) < 0)
		return -ENOMEM;
	return 0;
}

static int add_bcd_body(xmlNodePtr root, const struct xmldoc_bcd *b)
{
	char created[64];

	if (format_time(b->created_ns, created, sizeof(created)) < 0)
		return -EOVERFLOW;
	if (add_prop(root, "set", b->set_id) < 0 || add_prop(root, "created", created) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_snapshots; i++) {
		if (add_snapshot(root, &b->snapshots[i]) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < b->n_writers; i++) {
		const struct xmldoc_wmd *w = &b->writers[i];
		xmlNodePtr node = xmlNewChild(root, root->ns, xs("writer"), NULL);

		if (!node || add_writer(node, w, true) < 0)
			return -ENOMEM;
	}
	return 0;
}

char *xmldoc_bcd_write(const struct xmldoc_bcd *b)
{
	xmlDocPtr doc;
	xmlNodePtr root = new_doc(DOC_BCD, &doc);

	return root ? dump_doc(doc, add_bcd_body(root, b)) : NULL;
}

/* Reading: the tree is valid, so elements are where the schema puts them. */

static bool is_element(xmlNodePtr node, const char *name)
{
	return node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, xs(name));
}

static size_t count_children(xmlNodePtr parent, const char *name)
{
	size_t n = 0;

	for (xmlNodePtr node = parent->children; node; node = node->next)
		n += is_element(node, name);
	return n;
}

/* Copies libxml2's string (or "" for NULL) into one for free(), and frees it. */
static int take_string(xmlChar *s, char **ret)
{
	char *copy = strdup(s ? (const char *)s : "");

	xmlFree(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

/* An absent attribute reads as "" (the schema makes the others required). */
static int copy_prop(xmlNodePtr node, const char *name, char **ret)
{
	return take_string(xmlGetNoNsProp(node, xs(name)), ret);
}

static int read_component(xmlNodePtr node, struct xmldoc_component *c)
{
	xmlChar *selected;
	size_t n, i = 0;

	if (copy_prop(node, "name", &c->name) < 0 || copy_prop(node, "caption", &c->caption) < 0)
		return -ENOMEM;
	selected = xmlGetNoNsProp(node, xs("selected"));
	c->selected = selected && (xmlStrEqual(selected, xs("true")) ||
				   xmlStrEqual(selected, xs("1")));
	xmlFree(selected);
	n = count_children(node, "path");
	if (n == 0)
		return 0;
	c->paths = calloc(n, sizeof(*c->paths));
	if (!c->paths)
		return -ENOMEM;
	c->n_paths = n;
	for (xmlNodePtr p = node->children; p; p = p->next) {
		if (!is_element(p, "path"))
			continue;
		if (take_string(xmlNodeGetContent(p), &c->paths[i++]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Fills w from a WMD root or a BCD writer element; w is released by the caller on failure. */
static int read_writer(xmlNodePtr node, struct xmldoc_wmd *w)
{
	size_t n, i = 0;

	if (copy_prop(node, "id", &w->writer_id) < 0 ||
	    copy_prop(node, "name", &w->writer_name) < 0)
		return -ENOMEM;
	n = count_children(node, "component");
	if (n == 0)
		return 0;
	w->components = calloc(n, sizeof(*w->components));
	if (!w->components)
		return -ENOMEM;
	w->n_components = n;
	for (xmlNodePtr c = node->children; c; c = c->next) {
		if (!is_element(c, "component"))
			continue;
		if (read_component(c, &w->components[i++]) < 0)
			return -ENOMEM;
	}
	return 0;
}

int xmldoc_wmd_read(const char *xml, size_t len, struct xmldoc_wmd *ret, char *err,
		    size_t errlen)
{
	struct xmldoc_wmd w = { 0 };
	xmlDocPtr doc;
	int r;

	r = load_doc(DOC_WMD, xml, len, &doc, err, errlen);
	if (r < 0)
		return r;
	r = read_writer(xmlDocGetRootElement(doc), &w);
	xmlFreeDoc(doc);
	if (r < 0) {
		xmldoc_wmd_release(&w);
		if (errlen > 0)
			(void)snprintf(err, errlen, "out of memory");
		return r;
	}
	*ret = w;
	return 0;
}

/*
 * The inverse of format_time() for a value the schema accepted (which checked the date
 * itself): YYYY-MM-DDThh:mm:ss, 0 to 9 digits of fraction, Z. -ERANGE if it is outside what
 * int64_t nanoseconds can hold (years 1677 to 2262).
 */
static int parse_time(const char *s, int64_t *ret_ns)
{
	struct tm tm = { 0 };
	int64_t ns, frac = 0, scale = NS_PER_SEC;
	time_t secs;
	int end = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end) != 6 || end == 0)
		return -ERANGE;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (s[end] == '.') {
		for (s += end + 1; *s >= '0' && *s <= '9' && scale > 1; s++) {
			scale /= 10;
			frac += (*s - '0') * scale;
		}
	}
	errno = 0;
	secs = timegm(&tm);
	if (secs == (time_t)-1 && errno != 0)
		return -ERANGE;
	/* so that the earliest second still fits: (secs + 1) s - (1 s - frac) */
	if (secs < 0 && frac > 0) {
		secs++;
		frac -= NS_PER_SEC;
	}
	if (__builtin_mul_overflow((int64_t)secs, NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return -ERANGE;
	*ret_ns = ns;
	return 0;
}

static int read_snapshot(xmlNodePtr node, struct xmldoc_snapshot *s)
{
	if (copy_prop(node, "volume", &s->volume) < 0 ||
	    copy_prop(node, "source", &s->source) < 0 || copy_prop(node, "id", &s->id) < 0 ||
	    copy_prop(node, "browse", &s->browse) < 0 ||
	    copy_prop(node, "provider", &s->provider) < 0)
		return -ENOMEM;
	return 0;
}

static int read_bcd(xmlNodePtr root, struct xmldoc_bcd *b, char *err, size_t errlen)
{
	size_t n, i_snap = 0, i_writer = 0;
	xmlChar *created;
	int r;

	if (copy_prop(root, "set", &b->set_id) < 0)
		goto out_oom;
	created = xmlGetNoNsProp(root, xs("created"));
	if (!created)
		goto out_oom;
	r = parse_time((const char *)created, &b->created_ns);
	if (r < 0 && errlen > 0)
		(void)snprintf(err, errlen, "line %ld: created time '%s' is out of range",
			       xmlGetLineNo(root), (const char *)created);
	xmlFree(created);
	if (r < 0)
		return -EBADMSG;
	n = count_children(root, "snapshot");
	if (n > 0) {
		b->snapshots = calloc(n, sizeof(*b->snapshots));
		if (!b->snapshots)
			goto out_oom;
		b->n_snapshots = n;
	}
	n = count_children(root, "writer");
	if (n > 0) {
		b->writers = calloc(n, sizeof(*b->writers));
		if (!b->writers)
			goto out_oom;
		b->n_writers = n;
	}
	for (xmlNodePtr node = root->children; node; node = node->next) {
		if (is_element(node, "snapshot"))
			r = read_snapshot(node, &b->snapshots[i_snap++]);
		else if (is_element(node, "writer"))
			r = read_writer(node, &b->writers[i_writer++]);
		else
			r = 0;
		if (r < 0)
			goto out_oom;
	}
	return 0;
out_oom:
	if (errlen > 0)
		(void)snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int xmldoc_bcd_read(const char *xml, size_t len, struct xmldoc_bcd *ret, char *err,
		    size_t errlen)
{
	struct xmldoc_bcd b = { 0 };
	xmlDocPtr doc;
	int r;

	r = load_doc(DOC_BCD, xml, len, &doc, err, errlen);
	if (r < 0)
		return r;
	r = read_bcd(xmlDocGetRootElement(doc), &b, err, errlen);
	xmlFreeDoc(doc);
	if (r < 0) {
		xmldoc_bcd_release(&b);
		return r;
	}
	*ret = b;
	return 0;
}

/* Releasing: each accepts a zeroed or partly filled struct and leaves it zeroed. */

static void release_component(struct xmldoc_component *c)
{
	for (size_t i = 0; i < c->n_paths; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->name);
	free(c->caption);
	memset(c, 0, sizeof(*c));
}

void xmldoc_wmd_release(struct xmldoc_wmd *w)
{
	for (size_t i = 0; i < w->n_components; i++)
		release_component(&w->components[i]);
	free(w->components);
	free(w->writer_id);
	free(w->writer_name);
	memset(w, 0, sizeof(*w));
}

void xmldoc_bcd_release(struct xmldoc_bcd *b)
{
	for (size_t i = 0; i < b->n_snapshots; i++) {
		struct xmldoc_snapshot *s = &b->snapshots[i];

		free(s->volume);
		free(s->source);
		free(s->id);
		free(s->browse);
		free(s->provider);
	}
	free(b->snapshots);
	for (size_t i = 0; i < b->n_writers; i++)
		xmldoc_wmd_release(&b->writers[i]);
	free(b->writers);
	free(b->set_id);
	memset(b, 0, sizeof(*b));
}
