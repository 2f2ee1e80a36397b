/* version.c: the library's version string, from the build. */
#include "snapfs/snapfs.h"

#include "config.h"

__attribute__((visibility("default"))) const char *snap_version(void)
{
	return SNAPFS_VERSION;
}
