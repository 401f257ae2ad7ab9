/* fuzz_config.c - blanket.conf parser on arbitrary text: no crash, no leak,
 * and an error always comes as one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct bl_config c;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (bl_config_parse(&c, text, err, sizeof(err)) == 0) {
		bl_config_path_allowed(&c, "/srv/disk.img");
		bl_config_free(&c);
	} else if (strchr(err, '\n') || !err[0]) {
		abort();
	}
	free(text);
	return 0;
}
