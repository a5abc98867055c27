// Linux system calls glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not
// define: wrapped here so the daemon can move files without ever replacing one, and spill decoded
// images into files that cannot outlive it.
#ifndef TESSERA_CLINUX_H
#define TESSERA_CLINUX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>

/// renameat2(..., RENAME_NOREPLACE): moves a name atomically, failing with EEXIST when the target
/// name is taken (by anything, a dangling symbolic link included); EINVAL where the file system
/// cannot do it.
static inline int tessera_rename_noreplace(int from_folder, const char *from, int to_folder, const char *to) {
    return renameat2(from_folder, from, to_folder, to, RENAME_NOREPLACE);
}

/// An unnamed file in `folder` (O_TMPFILE), read and write, mode 0600: it has no name to find or
/// leave behind, and disappears with its last descriptor, even after a kill -9. -1 with errno
/// (EOPNOTSUPP, EISDIR) where the file system cannot make one.
static inline int tessera_open_unnamed(const char *folder) {
    return open(folder, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

/// Large blocks from `bytes` on are mapped and unmapped on their own (a fixed threshold: glibc
/// otherwise raises it as large blocks are freed and keeps them in its arenas).
static inline void tessera_map_large_blocks(int bytes) {
    mallopt(M_MMAP_THRESHOLD, bytes);
}

/// Gives memory freed into glibc's arenas back to the system.
static inline void tessera_release_freed_memory(void) {
    malloc_trim(0);
}

#endif
