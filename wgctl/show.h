/* SPDX-License-Identifier: MIT */
#ifndef WGCTL_SHOW_H
#define WGCTL_SHOW_H

#include <stdbool.h>
#include <stdio.h>

/* Prints the status document TEXT (driver/status.h) to F: in the shape of wg show, or with
 * AS_JSON indented as it is. 0, or 1 when TEXT is no status document or F fails. */
int show_print(FILE *f, const char *text, bool as_json);

#endif
