/*
 * Unit tests of xmldoc.c: WMD and BCD round trips, the refusals of documents that are not
 * well-formed or not valid (each naming the line), the size limit, entities and DTDs, silence
 * on stderr, and reads and writes from several threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "xmldoc.h"

#define MAX_SIZE (1024 * 1024)
#define CREATED_NS INT64_C(1796611200123456789)   /* 2026-12-07T02:40:00.123456789Z */

static char *xstrdup(const char *s)
{
	char *copy = strdup(s);

	assert_non_null(copy);
	return copy;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	assert_non_null(p);
	return p;
}

/* stderr (fd 2) goes to a temporary file between begin and end; end returns its size. */
struct capture {
	int saved_fd;
	FILE *tmp;
};

static void begin_capture(struct capture *c)
{
	(void)fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved_fd = dup(2);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fileno(c->tmp), 2) >= 0);
}

static off_t end_capture(struct capture *c)
{
	struct stat st;

	(void)fflush(stderr);
	assert_true(dup2(c->saved_fd, 2) >= 0);
	(void)close(c->saved_fd);
	assert_int_equal(fstat(fileno(c->tmp), &st), 0);
	(void)fclose(c->tmp);
	return st.st_size;
}

/* Every read in these tests goes through these two, which also check stderr stays empty. */
static int read_wmd(const char *xml, size_t len, struct xmldoc_wmd *ret, char *err)
{
	struct capture c;
	int r;

	begin_capture(&c);
	r = xmldoc_wmd_read(xml, len, ret, err, XMLDOC_ERR_MAX);
	assert_int_equal(end_capture(&c), 0);
	return r;
}

static int read_bcd(const char *xml, size_t len, struct xmldoc_bcd *ret, char *err)
{
	struct capture c;
	int r;

	begin_capture(&c);
	r = xmldoc_bcd_read(xml, len, ret, err, XMLDOC_ERR_MAX);
	assert_int_equal(end_capture(&c), 0);
	return r;
}

/* err is "line N: ..." for the given line, and contains what (unless NULL). */
static void assert_error_at(const char *err, int line, const char *what)
{
	char prefix[32];

	(void)snprintf(prefix, sizeof(prefix), "line %d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("expected '%s...', got '%s'", prefix, err);
	assert_null(strchr(err, '\n'));
	if (what && !strstr(err, what))
		fail_msg("expected '%s' in '%s'", what, err);
}

static void expect_wmd_refused(const char *xml, int line, const char *what)
{
	struct xmldoc_wmd w = { 0 };
	char err[XMLDOC_ERR_MAX];

	assert_int_equal(read_wmd(xml, strlen(xml), &w, err), -EBADMSG);
	assert_error_at(err, line, what);
	assert_null(w.writer_name);
	assert_int_equal(w.n_components, 0);
}

static void expect_bcd_refused(const char *xml, int line, const char *what)
{
	struct xmldoc_bcd b = { 0 };
	char err[XMLDOC_ERR_MAX];

	assert_int_equal(read_bcd(xml, strlen(xml), &b, err), -EBADMSG);
	assert_error_at(err, line, what);
	assert_null(b.set_id);
}

static void fill_component(struct xmldoc_component *c, const char *name, const char *caption,
			   const char *const *paths, size_t n_paths, bool selected)
{
	c->name = xstrdup(name);
	c->caption = xstrdup(caption);
	c->n_paths = n_paths;
	c->paths = n_paths ? xcalloc(n_paths, sizeof(*c->paths)) : NULL;
	for (size_t i = 0; i < n_paths; i++)
		c->paths[i] = xstrdup(paths[i]);
	c->selected = selected;
}

/* A writer with what needs escaping: & < > " ' in captions and paths, spaces and UTF-8. */
static void fill_wmd(struct xmldoc_wmd *w, const char *id, const char *name, bool is_bcd)
{
	static const char *const db_paths[] = {
		"/srv/vol/my data/main.db",
		"/srv/vol/Données/日本語 €.db",
		"/srv/vol/a&b<c>d\"e'f",
	};
	static const char *const log_paths[] = { "/var/log/app" };

	w->writer_id = xstrdup(id);
	w->writer_name = xstrdup(name);
	w->n_components = 3;
	w->components = xcalloc(3, sizeof(*w->components));
	fill_component(&w->components[0], "main", "Tom & Jerry's <\"main\"> database > all",
		       db_paths, 3, true);
	fill_component(&w->components[1], "journal Ωmega", "", NULL, 0, false);
	fill_component(&w->components[2], "logs", "Logs: ünïcødé", log_paths, 1, is_bcd);
}

static void fill_snapshot(struct xmldoc_snapshot *s, int i)
{
	char buf[64];

	(void)snprintf(buf, sizeof(buf), "/mnt/vol %d", i);
	s->volume = xstrdup(buf);
	(void)snprintf(buf, sizeof(buf), "/srv/src-é%d", i);
	s->source = xstrdup(buf);
	(void)snprintf(buf, sizeof(buf), "snap-%d", i);
	s->id = xstrdup(buf);
	s->browse = xstrdup("@GMT-2026.12.07-02.40.00");
	s->provider = xstrdup(i % 2 ? "row" : "cow");
}

static void fill_bcd(struct xmldoc_bcd *b, size_t n_snapshots)
{
	b->set_id = xstrdup("5f0c7a52-1d3e-4b8a-9c6f-2e7d8a9b0c1d");
	b->created_ns = CREATED_NS;
	b->n_snapshots = n_snapshots;
	b->snapshots = xcalloc(n_snapshots, sizeof(*b->snapshots));
	for (size_t i = 0; i < n_snapshots; i++)
		fill_snapshot(&b->snapshots[i], (int)i);
	b->n_writers = 2;
	b->writers = xcalloc(2, sizeof(*b->writers));
	fill_wmd(&b->writers[0], "w-1", "sqlite", true);
	fill_wmd(&b->writers[1], "w-2", "postgresql.main", true);
}

static bool component_equal(const struct xmldoc_component *a, const struct xmldoc_component *b,
			    bool with_selected)
{
	if (strcmp(a->name, b->name) != 0 || strcmp(a->caption, b->caption) != 0 ||
	    a->n_paths != b->n_paths || (with_selected && a->selected != b->selected))
		return false;
	for (size_t i = 0; i < a->n_paths; i++) {
		if (strcmp(a->paths[i], b->paths[i]) != 0)
			return false;
	}
	return true;
}

static bool wmd_equal(const struct xmldoc_wmd *a, const struct xmldoc_wmd *b, bool with_selected)
{
	if (strcmp(a->writer_id, b->writer_id) != 0 ||
	    strcmp(a->writer_name, b->writer_name) != 0 || a->n_components != b->n_components)
		return false;
	for (size_t i = 0; i < a->n_components; i++) {
		if (!component_equal(&a->components[i], &b->components[i], with_selected))
			return false;
	}
	return true;
}

static bool bcd_equal(const struct xmldoc_bcd *a, const struct xmldoc_bcd *b)
{
	if (strcmp(a->set_id, b->set_id) != 0 || a->created_ns != b->created_ns ||
	    a->n_snapshots != b->n_snapshots || a->n_writers != b->n_writers)
		return false;
	for (size_t i = 0; i < a->n_snapshots; i++) {
		const struct xmldoc_snapshot *x = &a->snapshots[i], *y = &b->snapshots[i];

		if (strcmp(x->volume, y->volume) != 0 || strcmp(x->source, y->source) != 0 ||
		    strcmp(x->id, y->id) != 0 || strcmp(x->browse, y->browse) != 0 ||
		    strcmp(x->provider, y->provider) != 0)
			return false;
	}
	for (size_t i = 0; i < a->n_writers; i++) {
		if (!wmd_equal(&a->writers[i], &b->writers[i], true))
			return false;
	}
	return true;
}

static void test_xmldoc_wmd_round_trip(void **state)
{
	struct xmldoc_wmd w = { 0 }, back = { 0 };
	char err[XMLDOC_ERR_MAX];
	char *xml;

	(void)state;
	fill_wmd(&w, "3f2a-77", "my-app.db_1", false);
	xml = xmldoc_wmd_write(&w);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "xmlns=\"urn:snapfs:wmd:1\""));
	assert_non_null(strstr(xml, "Tom &amp; Jerry's &lt;&quot;main&quot;&gt;"));
	assert_non_null(strstr(xml, "<path>/srv/vol/a&amp;b&lt;c&gt;d\"e'f</path>"));
	assert_non_null(strstr(xml, "日本語 €"));
	assert_int_equal(read_wmd(xml, strlen(xml), &back, err), 0);
	assert_string_equal(err, "");
	assert_true(wmd_equal(&w, &back, false));
	assert_false(back.components[0].selected);
	free(xml);
	xmldoc_wmd_release(&back);
	xmldoc_wmd_release(&w);
}

static void test_xmldoc_wmd_round_trip_without_components(void **state)
{
	struct xmldoc_wmd w = { 0 }, back = { 0 };
	char err[XMLDOC_ERR_MAX];
	char *xml;

	(void)state;
	w.writer_id = xstrdup("a");
	w.writer_name = xstrdup("b");
	xml = xmldoc_wmd_write(&w);
	assert_non_null(xml);
	assert_int_equal(read_wmd(xml, strlen(xml), &back, err), 0);
	assert_true(wmd_equal(&w, &back, false));
	assert_null(back.components);
	free(xml);
	xmldoc_wmd_release(&back);
	xmldoc_wmd_release(&w);
}

static void test_xmldoc_bcd_round_trip(void **state)
{
	static const int64_t times[] = {
		CREATED_NS, 0, 1, -1, -INT64_C(1500000000), INT64_MAX, INT64_MIN,
	};
	struct xmldoc_bcd b = { 0 }, back = { 0 };
	char err[XMLDOC_ERR_MAX];
	char *xml;

	(void)state;
	fill_bcd(&b, 3);
	xml = xmldoc_bcd_write(&b);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "created=\"2026-12-07T02:40:00.123456789Z\""));
	assert_non_null(strstr(xml, "selected=\"true\""));
	assert_non_null(strstr(xml, "selected=\"false\""));
	assert_int_equal(read_bcd(xml, strlen(xml), &back, err), 0);
	assert_true(bcd_equal(&b, &back));
	assert_true(back.writers[1].components[0].selected);
	assert_false(back.writers[1].components[1].selected);
	free(xml);
	xmldoc_bcd_release(&back);

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		b.created_ns = times[i];
		xml = xmldoc_bcd_write(&b);
		assert_non_null(xml);
		assert_int_equal(read_bcd(xml, strlen(xml), &back, err), 0);
		assert_int_equal(back.created_ns, times[i]);
		free(xml);
		xmldoc_bcd_release(&back);
	}
	xmldoc_bcd_release(&b);
}

static const char example_bcd[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<backup xmlns=\"urn:snapfs:bcd:1\" version=\"1\" set=\"S-1\"\n"
	"    created=\"2026-12-07T02:40:00.5Z\">\n"
	"  <snapshot volume=\"/mnt\" source=\"/src\" id=\"s1\"\n"
	"      browse=\"@GMT-2026.12.07-02.40.00\" provider=\"cow\"/>\n"
	"  <writer id=\"w1\" name=\"sqlite\">\n"
	"    <component name=\"main\" selected=\"1\">\n"
	"      <path><![CDATA[/mnt/a&b]]></path></component>\n"
	"    <component name=\"other\" caption=\"x\"/>\n"
	"  </writer>\n"
	"</backup>\n";

static void test_xmldoc_bcd_reads_hand_written(void **state)
{
	struct xmldoc_bcd b = { 0 };
	char err[XMLDOC_ERR_MAX];

	(void)state;
	assert_int_equal(read_bcd(example_bcd, strlen(example_bcd), &b, err), 0);
	assert_string_equal(b.set_id, "S-1");
	assert_int_equal(b.created_ns, INT64_C(1796611200500000000));
	assert_int_equal(b.n_snapshots, 1);
	assert_string_equal(b.snapshots[0].browse, "@GMT-2026.12.07-02.40.00");
	assert_int_equal(b.n_writers, 1);
	assert_int_equal(b.writers[0].n_components, 2);
	assert_true(b.writers[0].components[0].selected);
	assert_string_equal(b.writers[0].components[0].caption, "");
	assert_string_equal(b.writers[0].components[0].paths[0], "/mnt/a&b");
	assert_false(b.writers[0].components[1].selected);
	assert_int_equal(b.writers[0].components[1].n_paths, 0);
	xmldoc_bcd_release(&b);
}

static void test_xmldoc_release_accepts_zeroed(void **state)
{
	struct xmldoc_wmd w = { 0 };
	struct xmldoc_bcd b = { 0 };

	(void)state;
	xmldoc_wmd_release(&w);
	xmldoc_wmd_release(&w);
	xmldoc_bcd_release(&b);
	fill_bcd(&b, 1);
	xmldoc_bcd_release(&b);
	assert_null(b.snapshots);
	assert_int_equal(b.n_writers, 0);
	xmldoc_bcd_release(&b);
}

#define WMD_OPEN "<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a-1\" name=\"app\">\n"

static void test_xmldoc_rejects_malformed(void **state)
{
	(void)state;
	expect_wmd_refused(WMD_OPEN "  <component name=\"x\">\n</writer>\n", 3, "mismatch");
	expect_wmd_refused("<?xml version=\"1.0\"?>\n" WMD_OPEN "<component name=\"x\" name=\"y\"/>"
			   "</writer>", 3, "redefined");
	expect_wmd_refused(WMD_OPEN "</writer>\n<writer/>", 3, NULL);
	expect_wmd_refused(WMD_OPEN "<component name=\"&undefined;\"/></writer>", 2, "undefined");
	expect_wmd_refused(WMD_OPEN "<path>/\xff</path></writer>", 2, "UTF-8");
	expect_wmd_refused("", 1, NULL);
	expect_bcd_refused("<backup", 1, NULL);
}

/* Whatever a document declares, it is read as UTF-8: libxml2's converters would print. */
static void test_xmldoc_reads_only_utf8(void **state)
{
	static const char utf16[] = "\xff\xfe<\0w\0r\0i\0t\0e\0r\0/\0>\0";
	struct xmldoc_wmd w = { 0 };
	char err[XMLDOC_ERR_MAX];

	(void)state;
	expect_wmd_refused("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n" WMD_OPEN
			   "<component name=\"\x81\xff\x80\xa0\"/></writer>", 3, "UTF-8");
	expect_wmd_refused("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n" WMD_OPEN
			   "<component name=\"caf\xe9\"/></writer>", 3, "UTF-8");
	expect_wmd_refused("<?xml version=\"1.0\" encoding=\"EUC-JP\"?>\n" WMD_OPEN
			   "<component name=\"\x8e\xff\xa1\"/></writer>", 3, "UTF-8");
	assert_int_equal(read_wmd(utf16, sizeof(utf16) - 1, &w, err), -EBADMSG);
	assert_error_at(err, 1, NULL);
}

static void test_xmldoc_reads_utf8_with_bom(void **state)
{
	static const char doc[] = "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		WMD_OPEN "<component name=\"caf\xc3\xa9\"/></writer>";
	struct xmldoc_wmd w = { 0 };
	char err[XMLDOC_ERR_MAX];

	(void)state;
	assert_int_equal(read_wmd(doc, sizeof(doc) - 1, &w, err), 0);
	assert_string_equal(w.components[0].name, "caf\xc3\xa9");
	xmldoc_wmd_release(&w);
}

static void test_xmldoc_rejects_wrong_namespace(void **state)
{
	(void)state;
	expect_wmd_refused("<?xml version=\"1.0\"?>\n"
			   "<writer xmlns=\"urn:snapfs:wmd:2\" version=\"1\" id=\"a\" name=\"b\"/>",
			   2, "No matching global declaration");
	expect_wmd_refused("<writer version=\"1\" id=\"a\" name=\"b\"/>", 1, NULL);
	/* a valid BCD is not a WMD, nor the other way round */
	expect_wmd_refused(example_bcd, 3, NULL);
	expect_bcd_refused(WMD_OPEN "</writer>", 1, NULL);
}

static void test_xmldoc_rejects_missing_attribute(void **state)
{
	(void)state;
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\"/>", 1,
			   "'name' is required");
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" id=\"a\" name=\"b\"/>", 1,
			   "'version' is required");
	expect_wmd_refused(WMD_OPEN "\n<component caption=\"c\"/></writer>", 3,
			   "'name' is required");
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"2\" id=\"a\" name=\"b\"/>",
			   1, "version");
}

static void test_xmldoc_rejects_bad_writer_name(void **state)
{
	(void)state;
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\"\n"
			   "  name=\"my writer\"/>", 2, "'my writer'");
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\"\"/>",
			   1, "name");
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\""
			   "a123456789b123456789c123456789d123456789e123456789f123456789g1234\"/>",
			   1, "name");
	expect_wmd_refused("<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a_b\" "
			   "name=\"w\"/>", 1, "id");
	expect_wmd_refused(WMD_OPEN "<component name=\"a&#9;b\"/></writer>", 2, "name");
}

static void test_xmldoc_rejects_relative_path(void **state)
{
	(void)state;
	expect_wmd_refused(WMD_OPEN "  <component name=\"x\">\n    <path>/ok</path>\n"
			   "    <path>srv/db</path>\n  </component>\n</writer>\n", 4, "'srv/db'");
	expect_wmd_refused(WMD_OPEN "<component name=\"x\"><path></path></component></writer>",
			   2, NULL);
	expect_wmd_refused(WMD_OPEN "<component name=\"x\"><path>/a&#10;b</path></component>"
			   "</writer>", 2, NULL);
}

static void test_xmldoc_rejects_duplicate_component(void **state)
{
	(void)state;
	expect_wmd_refused(WMD_OPEN "<component name=\"x\"/>\n<component name=\"y\"/>\n"
			   "<component name=\"x\"/>\n</writer>", 4, "Duplicate");
}

static void test_xmldoc_rejects_65_snapshots(void **state)
{
	struct xmldoc_bcd b = { 0 }, back = { 0 };
	char err[XMLDOC_ERR_MAX];
	char *xml;

	(void)state;
	fill_bcd(&b, 64);
	xml = xmldoc_bcd_write(&b);
	assert_non_null(xml);
	assert_int_equal(read_bcd(xml, strlen(xml), &back, err), 0);
	assert_int_equal(back.n_snapshots, 64);
	free(xml);
	xmldoc_bcd_release(&back);
	xmldoc_bcd_release(&b);

	fill_bcd(&b, 65);
	xml = xmldoc_bcd_write(&b);
	assert_non_null(xml);
	/* the declaration, <backup>, then one line per snapshot: the 65th is on line 67 */
	assert_int_equal(read_bcd(xml, strlen(xml), &back, err), -EBADMSG);
	assert_error_at(err, 67, "snapshot");
	free(xml);
	xmldoc_bcd_release(&b);
}

#define BCD_SNAPSHOT "<snapshot volume=\"/m\" source=\"/s\" id=\"s\" " \
		     "browse=\"@GMT-2026.12.07-02.40.00\" provider=\"cow\"/>"

static void expect_created_refused(const char *created, const char *what)
{
	char xml[512];

	(void)snprintf(xml, sizeof(xml), "<backup xmlns=\"urn:snapfs:bcd:1\" version=\"1\" "
		       "set=\"S\"\n created=\"%s\">\n" BCD_SNAPSHOT "</backup>", created);
	expect_bcd_refused(xml, 2, what);
}

static void test_xmldoc_rejects_bad_created_time(void **state)
{
	(void)state;
	expect_created_refused("2026-13-07T02:40:00Z", "created");
	expect_created_refused("2026-02-30T02:40:00Z", "created");
	expect_created_refused("2026-12-07T02:40:00+01:00", "created");
	expect_created_refused("2026-12-07 02:40:00Z", "created");
	expect_created_refused("2026-12-07T02:40:00.1234567890Z", "created");
	expect_created_refused("2026-12-07T02:40:00", "created");
	expect_created_refused("", "created");
	/* valid for the schema, but not as int64_t nanoseconds */
	expect_created_refused("2263-01-01T00:00:00Z", "out of range");
	expect_created_refused("1677-01-01T00:00:00Z", "out of range");
}

static void test_xmldoc_rejects_bad_snapshot(void **state)
{
	(void)state;
	expect_bcd_refused("<backup xmlns=\"urn:snapfs:bcd:1\" version=\"1\" set=\"S\" "
			   "created=\"2026-12-07T02:40:00Z\"/>", 1, "Missing child");
	expect_bcd_refused("<backup xmlns=\"urn:snapfs:bcd:1\" version=\"1\" set=\"S\" "
			   "created=\"2026-12-07T02:40:00Z\">\n<snapshot volume=\"/m\" "
			   "source=\"/s\" id=\"s\" browse=\"@GMT-2026.12.07-02.40\" "
			   "provider=\"cow\"/></backup>",
			   2, "browse");
	expect_bcd_refused("<backup xmlns=\"urn:snapfs:bcd:1\" version=\"1\" set=\"S\" "
			   "created=\"2026-12-07T02:40:00Z\">\n" BCD_SNAPSHOT "\n" BCD_SNAPSHOT
			   "</backup>", 3, "Duplicate");
}

static char *padded_doc(size_t size)
{
	static const char doc[] = WMD_OPEN "</writer>";
	char *buf = malloc(size);

	assert_non_null(buf);
	memcpy(buf, doc, strlen(doc));
	memset(buf + strlen(doc), ' ', size - strlen(doc));
	return buf;
}

static void test_xmldoc_size_limit(void **state)
{
	struct xmldoc_wmd w = { 0 };
	char err[XMLDOC_ERR_MAX];
	char *buf;

	(void)state;
	buf = padded_doc(MAX_SIZE);
	assert_int_equal(read_wmd(buf, MAX_SIZE, &w, err), 0);
	xmldoc_wmd_release(&w);
	free(buf);

	buf = padded_doc(MAX_SIZE + 1);
	assert_int_equal(read_wmd(buf, MAX_SIZE + 1, &w, err), -EMSGSIZE);
	assert_string_equal(err, "document larger than 1048576 bytes");
	free(buf);
}

static void test_xmldoc_rejects_entity_expansion(void **state)
{
	static const char lol[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE writer [\n"
		" <!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
		" <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		" <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
		" <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
		" <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
		" <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
		" <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
		" <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
		" <!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
		"]>\n"
		"<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\"w\">\n"
		"<component name=\"x\" caption=\"&i;\"><path>/&i;</path></component>\n"
		"</writer>\n";

	(void)state;
	expect_wmd_refused(lol, 2, "document type declarations are not allowed");
}

static void test_xmldoc_rejects_external_entity(void **state)
{
	static const char *const docs[] = {
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE writer [ <!ENTITY pw SYSTEM \"file:///etc/passwd\"> ]>\n"
		"<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\"w\">\n"
		"<component name=\"x\" caption=\"c\"><path>/&pw;</path></component></writer>\n",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE writer SYSTEM \"file:///etc/passwd\">\n"
		"<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\"w\"/>\n",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE writer [ <!ENTITY % pe SYSTEM \"file:///etc/passwd\"> %pe; ]>\n"
		"<writer xmlns=\"urn:snapfs:wmd:1\" version=\"1\" id=\"a\" name=\"w\"/>\n",
	};
	struct xmldoc_wmd w = { 0 };
	char err[XMLDOC_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		assert_int_equal(read_wmd(docs[i], strlen(docs[i]), &w, err), -EBADMSG);
		assert_error_at(err, 2, "document type declarations are not allowed");
		assert_null(strstr(err, "root:"));
	}
}

static void test_xmldoc_error_needs_no_buffer(void **state)
{
	struct xmldoc_wmd w = { 0 };

	(void)state;
	assert_int_equal(xmldoc_wmd_read("<x", 2, &w, NULL, 0), -EBADMSG);
	assert_int_equal(xmldoc_wmd_read(NULL, 0, &w, NULL, 0), -EBADMSG);
}

static void test_xmldoc_capture_sees_stderr(void **state)
{
	struct capture c;

	(void)state;
	begin_capture(&c);
	assert_int_equal(write(2, "x", 1), 1);
	assert_int_equal(end_capture(&c), 1);
}

static void test_xmldoc_line_numbers_past_65535(void **state)
{
	size_t n = 70000, len = strlen(WMD_OPEN);
	char *buf = malloc(len + n + 64);
	int wrote;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, WMD_OPEN, len);
	memset(buf + len, '\n', n);
	wrote = snprintf(buf + len + n, 64, "<component name=\"\"/></writer>");
	assert_true(wrote > 0);
	expect_wmd_refused(buf, 70002, "name");
	free(buf);
}

#define N_THREADS 4
#define N_DOCS 200

/* Counts its failures: cmocka's asserts must stay on the main thread. */
static void *churn(void *arg)
{
	static const char bad[] = WMD_OPEN "<bad/></writer>";
	intptr_t t = (intptr_t)arg, failures = 0;
	char mnt[] = "/mnt", src[] = "/src", browse[] = "@GMT-2026.12.07-02.40.00", cow[] = "cow";
	char id[32], path[64], caption[] = "a & <b>";
	char *paths[] = { path };
	struct xmldoc_component comp = {
		.name = id, .caption = caption, .paths = paths, .n_paths = 1, .selected = true,
	};
	struct xmldoc_wmd w = { .writer_id = id, .writer_name = id, .components = &comp,
				.n_components = 1 };
	struct xmldoc_snapshot snap = {
		.volume = mnt, .source = src, .id = id, .browse = browse, .provider = cow,
	};
	struct xmldoc_bcd b = { .set_id = id, .snapshots = &snap, .n_snapshots = 1,
				.writers = &w, .n_writers = 1 };

	for (int i = 0; i < N_DOCS; i++) {
		struct xmldoc_wmd wback = { 0 };
		struct xmldoc_bcd bback = { 0 };
		char err[XMLDOC_ERR_MAX];
		char *xml;

		(void)snprintf(id, sizeof(id), "t%d-%d", (int)t, i);
		(void)snprintf(path, sizeof(path), "/srv/thread %d/file %d", (int)t, i);
		xml = xmldoc_wmd_write(&w);
		if (!xml || xmldoc_wmd_read(xml, strlen(xml), &wback, err, sizeof(err)) != 0 ||
		    !wmd_equal(&w, &wback, false))
			failures++;
		free(xml);
		xmldoc_wmd_release(&wback);

		b.created_ns = CREATED_NS + i;
		xml = xmldoc_bcd_write(&b);
		if (!xml || xmldoc_bcd_read(xml, strlen(xml), &bback, err, sizeof(err)) != 0 ||
		    !bcd_equal(&b, &bback))
			failures++;
		free(xml);
		xmldoc_bcd_release(&bback);

		if (xmldoc_wmd_read(bad, strlen(bad), &wback, err, sizeof(err)) != -EBADMSG ||
		    strncmp(err, "line 2: ", 8) != 0)
			failures++;
	}
	return (void *)failures;
}

static void test_xmldoc_threads(void **state)
{
	pthread_t threads[N_THREADS];
	void *failures[N_THREADS];
	struct capture c;

	(void)state;
	begin_capture(&c);
	for (intptr_t t = 0; t < N_THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, churn, (void *)t), 0);
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal(pthread_join(threads[t], &failures[t]), 0);
	assert_int_equal(end_capture(&c), 0);
	for (int t = 0; t < N_THREADS; t++)
		assert_int_equal((intptr_t)failures[t], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xmldoc_wmd_round_trip),
		cmocka_unit_test(test_xmldoc_wmd_round_trip_without_components),
		cmocka_unit_test(test_xmldoc_bcd_round_trip),
		cmocka_unit_test(test_xmldoc_bcd_reads_hand_written),
		cmocka_unit_test(test_xmldoc_release_accepts_zeroed),
		cmocka_unit_test(test_xmldoc_rejects_malformed),
		cmocka_unit_test(test_xmldoc_reads_only_utf8),
		cmocka_unit_test(test_xmldoc_reads_utf8_with_bom),
		cmocka_unit_test(test_xmldoc_rejects_wrong_namespace),
		cmocka_unit_test(test_xmldoc_rejects_missing_attribute),
		cmocka_unit_test(test_xmldoc_rejects_bad_writer_name),
		cmocka_unit_test(test_xmldoc_rejects_relative_path),
		cmocka_unit_test(test_xmldoc_rejects_duplicate_component),
		cmocka_unit_test(test_xmldoc_rejects_65_snapshots),
		cmocka_unit_test(test_xmldoc_rejects_bad_created_time),
		cmocka_unit_test(test_xmldoc_rejects_bad_snapshot),
		cmocka_unit_test(test_xmldoc_size_limit),
		cmocka_unit_test(test_xmldoc_rejects_entity_expansion),
		cmocka_unit_test(test_xmldoc_rejects_external_entity),
		cmocka_unit_test(test_xmldoc_error_needs_no_buffer),
		cmocka_unit_test(test_xmldoc_capture_sees_stderr),
		cmocka_unit_test(test_xmldoc_line_numbers_past_65535),
		cmocka_unit_test(test_xmldoc_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
