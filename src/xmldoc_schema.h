/*
 * The XML Schema 1.0 documents of the Writer Metadata Document (namespace urn:snapfs:wmd:1)
 * and the Backup Components Document (urn:snapfs:bcd:1), as NUL-terminated UTF-8 text.
 * xmldoc.c compiles them once; nothing else uses them. docs/documents.md describes both formats.
 */
#ifndef SNAPFS_XMLDOC_SCHEMA_H
#define SNAPFS_XMLDOC_SCHEMA_H

extern const char xmldoc_wmd_schema[];
extern const char xmldoc_bcd_schema[];

#endif
