/* procstat: a field of /proc/self/status, for the memory figures of the
 * catalog's scale test and benchmark. */
#ifndef UMONGOFS_TEST_PROCSTAT_H
#define UMONGOFS_TEST_PROCSTAT_H

/* VmRSS, VmHWM, ... in KiB; -1 when missing. */
long procstat_kb(const char *field);

#endif
