/*
 * mount: the `vaultfs mount` command — argument parsing, daemonising and the FUSE
 * session's life. Returns the process exit status.
 */
#ifndef VAULTFS_MOUNT_H
#define VAULTFS_MOUNT_H

int mount_main(int argc, char **argv);

#endif
