// Linux system calls glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not
// define: wrapped here so the daemon can move files without ever replacing one, and spill decoded
// images into files that cannot outlive it.
#ifndef TESSERA_CLINUX_H
#define TESSERA_CLINUX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
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

#endif
