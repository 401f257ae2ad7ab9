/* state.c - see state.h. */
#include <sys/mman.h>
#include <unistd.h>

#include "state.h"

void *bl_state_alloc(const char *name, size_t len, int *fd)
{
	void *p;

	*fd = memfd_create(name, MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)len) < 0)
		goto fail;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	return p;
fail:
	close(*fd);
	*fd = -1;
	return NULL;
}

void bl_state_free(void *p, size_t len, int fd)
{
	if (p)
		munmap(p, len);
	if (fd >= 0)
		close(fd);
}
